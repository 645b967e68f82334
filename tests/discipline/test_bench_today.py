"""The Today/board benchmark runs against a shared database without writing to it."""

import pytest
from django.db import DatabaseError, transaction

from benchmarks.bench_today import logged_in_client, read_only
from tests.factories import HeadFactory
from vrop.accounts.models import User
from vrop.core.policy import company_settings

# Outside a test transaction: on PostgreSQL the read-only guard applies to the next
# transactions, as it does for the benchmark (which never runs inside one).
pytestmark = pytest.mark.django_db(transaction=True)


def test_read_only_serves_pages_and_refuses_writes(settings):
    settings.ALLOWED_HOSTS = ["testserver"]
    head = HeadFactory()
    company_settings()  # the row a company has (made on first use otherwise)
    last_login = head.last_login
    with read_only():
        response = logged_in_client(head).get("/discipline/board/")
        with pytest.raises(DatabaseError), transaction.atomic():
            User.objects.filter(pk=head.pk).update(first_name="Изменено")
    assert response.status_code == 200
    assert response.wsgi_request.user == head
    head.refresh_from_db()
    assert head.first_name != "Изменено"
    assert head.last_login == last_login
    # After the block the connection writes again.
    User.objects.filter(pk=head.pk).update(first_name="Снова")
    head.refresh_from_db()
    assert head.first_name == "Снова"
