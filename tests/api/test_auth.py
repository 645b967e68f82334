"""Who is calling: bearer tokens, the browser session, and the OpenAPI document."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import translation

from tests.factories import ClientFactory, TeamFactory
from vrop.accounts.models import ApiToken
from vrop.accounts.services import api_token_create, api_token_revoke
from vrop.crm.models import Client as CrmClient

pytestmark = pytest.mark.django_db


def test_me_answers_who_the_token_belongs_to(api, manager):
    manager.team = TeamFactory(name="Юг")
    manager.save()

    response = api(manager).get("/me")

    assert response.status_code == 200
    assert response.json() == {
        "id": manager.pk,
        "email": manager.email,
        "name": str(manager),
        "role": "manager",
        "team": "Юг",
        "is_superuser": False,
    }


@pytest.mark.parametrize("header", [None, "Bearer nope", "Bearer vrop_wrong", "Basic abc"])
def test_no_valid_credentials_is_401(header):
    headers = {"Authorization": header} if header else {}

    response = Client().get("/api/v1/clients", headers=headers)

    assert response.status_code == 401


def test_a_revoked_token_or_an_inactive_user_is_401(manager, other_manager):
    token, key = api_token_create(user=manager, name="x")
    api_token_revoke(token=token)
    _token, other_key = api_token_create(user=other_manager, name="y")
    other_manager.is_active = False
    other_manager.save()

    for secret in (key, other_key):
        response = Client().get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
        assert response.status_code == 401


def test_the_browser_session_works_and_writes_need_the_csrf_token(manager):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(manager)

    read = browser.get("/api/v1/me")
    write = browser.post(
        "/api/v1/clients", data={"name": "ООО «Без CSRF»"}, content_type="application/json"
    )

    assert read.status_code == 200
    assert read.json()["id"] == manager.pk
    assert write.status_code == 403
    assert CrmClient.objects.count() == 0


def test_openapi_document_is_public_and_lists_the_crm(db):
    response = Client().get("/api/v1/openapi.json")

    assert response.status_code == 200
    paths = response.json()["paths"]
    assert {
        "/api/v1/me",
        "/api/v1/clients",
        "/api/v1/clients/{client_id}",
        "/api/v1/products",
        "/api/v1/products/{product_id}",
        "/api/v1/deals",
        "/api/v1/deals/{deal_id}",
        "/api/v1/deals/{deal_id}/lines",
        "/api/v1/deals/{deal_id}/stage",
        "/api/v1/deals/{deal_id}/copy",
        "/api/v1/tasks",
        "/api/v1/tasks/{task_id}",
        "/api/v1/tasks/{task_id}/complete",
    } <= set(paths)
    assert paths["/api/v1/deals"]["post"]["tags"] == ["deals"]
    amount = response.json()["components"]["schemas"]["DealOut"]["properties"]["amount"]
    assert amount["type"] == "string"


def test_create_api_token_command_prints_a_working_key_once(manager, capsys):
    ClientFactory(manager=manager, name="Мой клиент")

    call_command("create_api_token", manager.email.upper(), "--name", "1С обмен")

    out, err = capsys.readouterr()
    key = out.strip()
    token = ApiToken.objects.get()
    assert key.startswith("vrop_") and len(key) > 40
    assert token.name == "1С обмен"
    assert token.user == manager
    assert key not in (token.key_hash, token.prefix)
    assert "shown only now" in err
    response = Client().get("/api/v1/clients", headers={"Authorization": f"Bearer {key}"})
    assert [c["name"] for c in response.json()["items"]] == ["Мой клиент"]


def test_create_api_token_command_refuses_an_unknown_email(db):
    with pytest.raises(CommandError, match="No user with the e-mail nobody@example.com"):
        call_command("create_api_token", "nobody@example.com", "--name", "x")

    assert ApiToken.objects.count() == 0


def test_create_api_token_command_refuses_a_blank_name(manager):
    with translation.override("en"), pytest.raises(CommandError, match="Give the token a name"):
        call_command("create_api_token", manager.email, "--name", "  ")

    assert ApiToken.objects.count() == 0
