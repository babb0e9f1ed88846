"""Keys for the personas, and a client that speaks to the API with one."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client as HttpClient

from apps.api import services
from apps.api.models import ApiKey


def pytest_configure(config: Any) -> None:
    config.addinivalue_line(
        "markers", "api_fuzz: the schemathesis run over the API's own OpenAPI document"
    )


class Api:
    """HTTP calls to /api/v1/ with one key (or none)."""

    def __init__(self, token: str | None = None) -> None:
        self.token = token
        self.http = HttpClient()

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = dict(extra or {})
        if self.token:
            headers.setdefault("Authorization", f"Bearer {self.token}")
        return headers

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
        **query: Any,
    ) -> Any:
        url = path if path.startswith("/") else f"/api/v1/{path}"
        kwargs: dict[str, Any] = {"headers": self.headers(headers)}
        if body is not None:
            kwargs["data"] = json.dumps(body)
            kwargs["content_type"] = "application/json"
        if query:
            kwargs["QUERY_STRING"] = "&".join(f"{k}={v}" for k, v in query.items())
        return getattr(self.http, method.lower())(url, **kwargs)

    def get(self, path: str, **query: Any) -> Any:
        return self.call("GET", path, **query)

    def post(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.call("POST", path, body if body is not None else {}, **kw)

    def patch(self, path: str, body: Any, **kw: Any) -> Any:
        return self.call("PATCH", path, body, **kw)

    def delete(self, path: str, **kw: Any) -> Any:
        return self.call("DELETE", path, **kw)


@pytest.fixture
def api_as(db: Any):
    """api_as(user, scope="read_write") -> an Api client with a new key of `user`."""

    def _make(user: Any, scope: str = ApiKey.Scope.READ_WRITE, **kw: Any) -> Api:
        _key, token = services.api_key_create(
            owner=user, name="test", scope=scope, **kw
        )
        return Api(token)

    return _make


@pytest.fixture(autouse=True)
def _generous_rate(settings: Any) -> None:
    settings.MAILSHOT_API_RATE = 100_000
