"""`make run` safe and quick: a busy port stops it with one readable line and a
non-zero exit; SITE_URL follows the port; the banner waits for /healthz; a process
that dies takes the others down with a non-zero exit; the demo data goes only into
an empty database (`make demo` reloads it); a development .env with a generated
secret key is written once and read by manage.py (never under tests); 403s are
logged in one line."""

from __future__ import annotations

import logging
import os
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from apps.core.management.commands.rundev import (
    ensure_env_file,
    port_is_free,
    site_url_for,
    split_addr,
)
from apps.core.validators import secret_key_weakness
from apps.mailings.models import Client
from apps.users.models import User

BASE = Path(settings.BASE_DIR)
STRONG = "q0Zt3-Vb8_rNcW1xJkLm9sPaE4yHdU7fGiO2TeRwYn5BvXzQ6jKlMpCgSuAhDo"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def busy_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield int(s.getsockname()[1])


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DJANGO_SECRET_KEY", "SITE_URL", "DATABASE_URL", "REDIS_URL")
    }
    env.update(
        MAILSHOT_TESTING="0",
        MAILSHOT_VAR_DIR=str(tmp_path / "var"),
        MAILSHOT_ENV_FILE=str(tmp_path / ".env"),
        DJANGO_SETTINGS_MODULE="project.settings",
    )
    env.update(extra)
    return env


# --- pieces ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("addr", "expected"),
    [
        ("8001", ("127.0.0.1", 8001)),
        ("127.0.0.1:8001", ("127.0.0.1", 8001)),
        ("0.0.0.0:9000", ("0.0.0.0", 9000)),  # noqa: S104
        ("[::1]:8002", ("::1", 8002)),
    ],
)
def test_addresses_are_read_as_make_run_passes_them(addr, expected):
    assert split_addr(addr) == expected


@pytest.mark.parametrize("addr", ["localhost:http", "127.0.0.1:0", "1:99999"])
def test_a_bad_address_is_a_readable_error(addr):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        split_addr(addr)


def test_site_url_follows_the_port():
    assert site_url_for("127.0.0.1", 8001) == "http://localhost:8001"
    assert site_url_for("0.0.0.0", 8002) == "http://localhost:8002"  # noqa: S104
    assert site_url_for("192.168.1.5", 8003) == "http://192.168.1.5:8003"


def test_a_listening_port_is_busy_and_a_closed_one_free(busy_port):
    assert not port_is_free("127.0.0.1", busy_port)
    assert port_is_free("127.0.0.1", _free_port())


def test_the_env_file_is_written_once_with_a_strong_private_key(tmp_path):
    path = tmp_path / ".env"
    key = ensure_env_file(path)
    assert key is not None
    assert secret_key_weakness(key) is None  # production would accept it too
    assert f"DJANGO_SECRET_KEY={key}\n" in path.read_text()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "DJANGO_DEBUG" not in path.read_text()  # never turns debugging on
    assert ensure_env_file(path) is None  # kept: sessions stay valid
    assert f"DJANGO_SECRET_KEY={key}\n" in path.read_text()


def _settings_in_subprocess(tmp_path, expr: str, **extra: str):
    return subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {expr}"],
        cwd=BASE,
        env=_env(tmp_path, **extra),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_manage_py_reads_the_env_file_so_the_readme_commands_work(tmp_path):
    (tmp_path / ".env").write_text(f"# made by make run\nDJANGO_SECRET_KEY={STRONG}\n")
    env = {"DJANGO_DEBUG": "0"}
    done = _settings_in_subprocess(
        tmp_path,
        "from django.conf import settings as s; print(s.SECRET_KEY[:6], s.DEBUG)",
        **env,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [STRONG[:6], "False"]
    # Without the file, production refuses to start as before.
    (tmp_path / ".env").unlink()
    refused = _settings_in_subprocess(tmp_path, "pass", **env)
    assert refused.returncode != 0
    assert "DJANGO_SECRET_KEY is not set" in refused.stderr


def test_the_environment_wins_over_the_env_file(tmp_path):
    (tmp_path / ".env").write_text(f"DJANGO_SECRET_KEY=file-{STRONG}\n")
    done = _settings_in_subprocess(
        tmp_path,
        "from django.conf import settings as s; print(s.SECRET_KEY[:6])",
        DJANGO_SECRET_KEY=f"envv-{STRONG}",
    )
    assert done.stdout.strip() == "envv-" + STRONG[:1], done.stderr


def test_tests_and_what_they_start_never_read_the_env_file():
    assert os.environ["MAILSHOT_ENV_FILE"] == os.devnull


# --- the demo data ---------------------------------------------------------------


@pytest.mark.django_db
def test_demo_data_goes_into_an_empty_database_only_and_make_demo_reloads_it(
    settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path / "media"
    call_command("demo", if_empty=True)
    assert User.objects.filter(email="user@example.com").exists()
    demo_client = Client.objects.order_by("pk").first()
    assert demo_client is not None
    original = demo_client.full_name
    Client.objects.filter(pk=demo_client.pk).update(full_name="Renamed by hand")

    call_command("demo", if_empty=True)  # the next `make run`
    demo_client.refresh_from_db()
    assert demo_client.full_name == "Renamed by hand"

    call_command("demo")  # `make demo`: on purpose
    demo_client.refresh_from_db()
    assert demo_client.full_name == original
    assert any((tmp_path / "media").rglob("*.*"))  # the images came along


# --- one log line per 403 ------------------------------------------------------------


@pytest.mark.django_db
def test_a_403_is_logged_in_one_line_without_a_traceback(alice, login, caplog):
    caplog.set_level(logging.WARNING)
    response = login(alice).get("/admin/auth/group/")
    assert response.status_code == 403
    records = [r for r in caplog.records if r.name.startswith("django")]
    assert len(records) == 1, [r.getMessage() for r in records]
    assert records[0].exc_info is None
    assert "Forbidden" in records[0].getMessage()
    assert "/admin/auth/group/" in records[0].getMessage()
    # Django's own console handler would print it a second time.
    assert logging.getLogger("django").handlers == []


# --- rundev / make run, as processes -------------------------------------------------


def test_make_run_on_a_busy_port_exits_non_zero_with_one_readable_line(
    tmp_path, busy_port
):
    done = subprocess.run(
        ["make", "-s", "run", f"PORT={busy_port}"],
        cwd=BASE,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode != 0
    lines = [
        line
        for line in done.stderr.splitlines()
        if line.strip() and not line.startswith("make")
    ]
    assert lines == [
        f"CommandError: Port {busy_port} on 127.0.0.1 is already in use; stop what "
        f"runs there or pick another: make run PORT={busy_port + 1}"
    ]
    assert "Mailshot is running" not in done.stdout
    assert not (tmp_path / ".env").exists()  # it stopped before doing anything


def test_a_busy_smtp_sink_port_is_refused_too(tmp_path, busy_port):
    done = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "rundev",
            "--addr",
            f"127.0.0.1:{_free_port()}",
        ],
        cwd=BASE,
        env=_env(tmp_path, DJANGO_DEBUG="1", EMAIL_PORT=str(busy_port)),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert f"Port {busy_port} of the local SMTP sink is already in use" in done.stderr


def _read_until(proc: subprocess.Popen[str], needle: str, timeout: float) -> str:
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            if proc.poll() is not None:
                break
            continue
        seen.append(line)
        if needle in line:
            return "".join(seen)
    raise AssertionError(f"{needle!r} never came:\n{''.join(seen)}")


@pytest.mark.smtp
def test_rundev_on_another_port_waits_for_healthz_and_fails_loudly_when_a_process_dies(
    tmp_path,
):
    port, smtp_port = _free_port(), _free_port()
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "rundev", "--addr", f"127.0.0.1:{port}"],
        cwd=BASE,
        env=_env(
            tmp_path, DJANGO_DEBUG="1", DJANGO_HTTPS="0", EMAIL_PORT=str(smtp_port)
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output = _read_until(proc, "Mailshot is running", timeout=240)
        # When the banner is printed the site answers: rundev asked /healthz first
        # (the web server logs that request once its answer is sent, so its log line
        # may come just before or just after the banner: both processes write here).
        with urllib.request.urlopen(  # noqa: S310 - our own local server
            f"http://127.0.0.1:{port}/healthz", timeout=10
        ) as answer:
            assert answer.status == 200
        if '"GET /healthz HTTP/1.1" 200' not in output:
            output += _read_until(proc, '"GET /healthz HTTP/1.1" 200', timeout=30)
        assert f"Mailshot is running at http://localhost:{port}/" in output
        assert "Demo data loaded." in output
        assert (tmp_path / ".env").read_text().count("DJANGO_SECRET_KEY=") == 1
        # Kill the SMTP sink: rundev stops the rest and exits non-zero.
        sink_pids = subprocess.run(
            ["pgrep", "-f", f"smtpsink --port {smtp_port}"],
            capture_output=True,
            text=True,
        ).stdout.split()
        assert len(sink_pids) == 1
        os.kill(int(sink_pids[0]), signal.SIGKILL)
        rest, _ = proc.communicate(timeout=60)
        assert proc.returncode == 1
        assert "the SMTP sink stopped" in rest
        assert port_is_free("127.0.0.1", port)  # the web server is gone too
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
