"""The REST API at /api/v1/: assembles the per-app routers."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import NinjaAPI
from ninja.security import APIKeyCookie, HttpBearer

from vrop.accounts.services import api_token_authenticate
from vrop.core.errors import ServiceError


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


def _register_routers() -> None:
    from importlib import import_module

    for module_name, prefix in [
        ("vrop.crm.api", "/"),
    ]:
        module = import_module(module_name)
        api.add_router(prefix, module.router)


_register_routers()
