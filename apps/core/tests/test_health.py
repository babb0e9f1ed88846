import pytest
from django.core.cache import cache

from apps.core.health import HEARTBEAT_KEY, record_heartbeat

pytestmark = pytest.mark.django_db


def test_healthz_reports_database_cache_and_broker(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert {"database", "cache", "broker", "cluster"} <= set(body["checks"])
    assert all(body["checks"][k]["ok"] for k in ("database", "cache", "broker"))


def test_healthz_shows_the_age_of_the_clusters_last_heartbeat(client):
    cache.delete(HEARTBEAT_KEY)
    assert client.get("/healthz").json()["checks"]["cluster"]["last_heartbeat"] is None
    record_heartbeat()
    cluster = client.get("/healthz").json()["checks"]["cluster"]
    assert cluster["last_heartbeat"] is not None
    assert 0 <= cluster["heartbeat_age_seconds"] < 5


def test_healthz_answers_503_when_the_cache_fails(client, monkeypatch):
    def broken(*args, **kwargs):
        raise ConnectionError("cache down")

    monkeypatch.setattr(cache, "set", broken)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["cache"]["ok"] is False
    assert "cache down" in response.json()["checks"]["cache"]["detail"]


def test_json_log_lines_carry_the_extra_fields():
    import json
    import logging

    from apps.core.logging import JSONFormatter

    record = logging.makeLogRecord(
        {"name": "mailshot", "levelname": "INFO", "msg": "run %s", "args": (7,)}
    )
    record.mailing_id = 7
    line = json.loads(JSONFormatter().format(record))
    assert line["message"] == "run 7"
    assert line["mailing_id"] == 7
    assert line["level"] == "INFO"


def test_a_forbidden_page_is_friendly_and_translated(editor, login):
    response = login(editor).get(
        "/admin/mailings/client/import/", HTTP_ACCEPT_LANGUAGE="ru"
    )
    assert response.status_code == 403
    body = response.content.decode()
    assert "403" in body
    assert "Доступ запрещён" in body
