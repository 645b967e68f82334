"""Helpers for API tests: a JSON client that carries a user's bearer token."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from vrop.accounts.services import api_token_create


class ApiClient:
    """Calls /api/v1/ with ``Authorization: Bearer <token>`` (or anonymously)."""

    prefix = "/api/v1"

    def __init__(self, user=None) -> None:
        self.client = Client()
        self.headers = {}
        if user is not None:
            _token, key = api_token_create(user=user, name="tests")
            self.headers["Authorization"] = f"Bearer {key}"

    def call(self, method: str, path: str, body=None, language: str | None = None, **params):
        url = self.prefix + path
        headers = dict(self.headers)
        if language:
            headers["Accept-Language"] = language
        kwargs = {"headers": headers}
        if method in ("get", "delete"):
            kwargs["data"] = params or None
        elif body is not None:
            kwargs["data"] = json.dumps(body)
            kwargs["content_type"] = "application/json"
        return getattr(self.client, method)(url, **kwargs)

    def get(self, path: str, language: str | None = None, **params):
        return self.call("get", path, language=language, **params)

    def post(self, path: str, body=None, language: str | None = None):
        return self.call("post", path, body, language=language)

    def patch(self, path: str, body=None, language: str | None = None):
        return self.call("patch", path, body, language=language)

    def put(self, path: str, body=None, language: str | None = None):
        return self.call("put", path, body, language=language)

    def delete(self, path: str, language: str | None = None):
        return self.call("delete", path, language=language)


@pytest.fixture
def api():
    """``api(user)`` → an ApiClient with a fresh token of ``user`` (None: anonymous)."""
    return ApiClient
