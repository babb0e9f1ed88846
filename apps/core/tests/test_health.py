import pytest
from django.core.cache import cache

from apps.core.health import HEARTBEAT_KEY, record_heartbeat

pytestmark = pytest.mark.django_db

TOKEN = "health-token-for-the-monitor"


@pytest.fixture
def monitor(client, settings):
    """A monitoring system that sends the configured health token."""
    settings.MAILSHOT_HEALTH_TOKEN = TOKEN
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {TOKEN}"
    return client


def test_healthz_reports_database_cache_and_broker_to_the_monitor(monitor):
    response = monitor.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert {"database", "cache", "broker", "cluster"} <= set(body["checks"])
    assert all(body["checks"][k]["ok"] for k in ("database", "cache", "broker"))


def test_healthz_tells_anybody_else_only_ok(client, settings):
    settings.MAILSHOT_HEALTH_TOKEN = TOKEN

    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.parametrize(
    "authorization",
    ["", "Bearer ", "Bearer wrong-token", f"Basic {TOKEN}", f"bearer {TOKEN}x"],
)
def test_a_wrong_or_missing_token_gets_no_details(client, settings, authorization):
    settings.MAILSHOT_HEALTH_TOKEN = TOKEN

    response = client.get("/healthz", HTTP_AUTHORIZATION=authorization)

    assert response.json() == {"status": "ok"}


def test_without_a_configured_token_no_header_opens_the_details(client, settings):
    settings.MAILSHOT_HEALTH_TOKEN = ""

    response = client.get("/healthz", HTTP_AUTHORIZATION="Bearer ")

    assert response.json() == {"status": "ok"}


def test_a_superuser_sees_the_details_and_other_staff_do_not(superuser, manager, login):
    assert "checks" in login(superuser).get("/healthz").json()
    assert login(manager).get("/healthz").json() == {"status": "ok"}


def test_healthz_shows_the_age_of_the_clusters_last_heartbeat(monitor):
    cache.delete(HEARTBEAT_KEY)
    assert monitor.get("/healthz").json()["checks"]["cluster"]["last_heartbeat"] is None
    record_heartbeat()
    cluster = monitor.get("/healthz").json()["checks"]["cluster"]
    assert cluster["last_heartbeat"] is not None
    assert 0 <= cluster["heartbeat_age_seconds"] < 5


def _break_the_cache(monkeypatch) -> None:
    def broken(*args, **kwargs):
        raise ConnectionError("cache down at 10.0.0.7:6379")

    monkeypatch.setattr(cache, "set", broken)


def test_healthz_answers_503_when_the_cache_fails(monitor, monkeypatch):
    _break_the_cache(monkeypatch)
    response = monitor.get("/healthz")
    assert response.status_code == 503
    assert response.json()["status"] == "degraded"
    assert response.json()["checks"]["cache"]["ok"] is False
    assert "cache down" in response.json()["checks"]["cache"]["detail"]


def test_a_failure_is_only_degraded_for_the_public(client, monkeypatch):
    _break_the_cache(monkeypatch)

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json() == {"status": "degraded"}
    assert b"10.0.0.7" not in response.content


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
