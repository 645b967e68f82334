"""Search folds case for Cyrillic on SQLite as on PostgreSQL."""

import pytest

from tests.factories import ClientFactory
from vrop.core.sqlite import unicode_like
from vrop.crm.selectors import client_list

pytestmark = pytest.mark.django_db


def test_cyrillic_search_ignores_case(owner):
    steel = ClientFactory(name="ООО «Сталь-Инвест»")
    ClientFactory(name="АО «Трубы»")
    assert list(client_list(viewer=owner, q="сталь")) == [steel]
    assert list(client_list(viewer=owner, q="СТАЛЬ-инв")) == [steel]


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        ("%сталь%", "ООО Сталь", True),
        ("%50\\%%", "скидка 50%", True),
        ("%50\\%%", "скидка 500", False),
        ("a_c", "abc", True),
        ("a_c", "abbc", False),
        ("%x%", None, None),
    ],
)
def test_like_keeps_sqlite_semantics(pattern, value, expected):
    assert unicode_like(pattern, value, "\\") is expected
