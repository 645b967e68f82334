"""The REST API at /api/v1/: assembles the per-app routers.

Each app that has endpoints exposes ``router`` in ``vrop/<app>/api.py``; it is mounted
here at the root of /api/v1/ (the app's paths carry their own prefix).
"""

from __future__ import annotations

from importlib import import_module
from importlib.util import find_spec

from django.http import HttpRequest
from ninja import NinjaAPI
from ninja.errors import ValidationError as NinjaValidationError
from ninja.security import APIKeyCookie, HttpBearer

from vrop.accounts.services import api_token_authenticate
from vrop.core.errors import INVALID_REQUEST, ServiceError

# discipline before crm: its fixed paths (/deals/stalled) must match before /deals/{deal_id}.
APPS_WITH_API = [
    "accounts",
    "discipline",
    "crm",
    "pricing",
    "receivables",
    "planning",
    "analytics",
    "team",
    "callaudit",
    "integrations",
    "notifications",
]


class BearerToken(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str):
        user = api_token_authenticate(token)
        if user is not None:
            request.user = user
        return user


class SessionAuth(APIKeyCookie):
    """The browser's logged-in session (for the UI's own calls), with CSRF on writes."""

    param_name = "sessionid"

    def __init__(self) -> None:
        super().__init__(csrf=True)

    def authenticate(self, request: HttpRequest, key):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.is_active:
            return user
        return None


api = NinjaAPI(
    title="Virtual ROP API",
    version="1",
    urls_namespace="api",
    auth=[BearerToken(), SessionAuth()],
    docs_url="/docs",
)


@api.exception_handler(ServiceError)
def service_error(request, exc: ServiceError):
    body = {"detail": str(exc.message), "code": exc.code}
    if exc.field:
        body["field"] = exc.field
    return api.create_response(request, body, status=exc.status)


@api.exception_handler(NinjaValidationError)
def validation_error(request, exc: NinjaValidationError):
    body = {"detail": str(INVALID_REQUEST), "code": "invalid", "errors": exc.errors}
    # The first bad value's field, as services name it ("lines.0.qty"), for forms and scripts.
    location = [str(part) for part in (exc.errors[0].get("loc", ()) if exc.errors else ())]
    field = ".".join(location[2:] if location[:1] == ["body"] else location[1:])
    if field:
        body["field"] = field
    return api.create_response(request, body, status=422)


for _app in APPS_WITH_API:
    if find_spec(f"vrop.{_app}.api") is not None:
        api.add_router("/", import_module(f"vrop.{_app}.api").router)
