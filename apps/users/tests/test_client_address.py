"""The client's address behind the documented TLS proxy, for axes and rate limits.

With ``MAILSHOT_TRUSTED_PROXIES = N`` the address is the N-th entry of
X-Forwarded-For counted from the right (each trusted proxy appends the peer it saw);
with 0 (the default) the header is ignored and REMOTE_ADDR is the client.
"""

import pytest
from django.test import Client, RequestFactory

from apps.users.throttle import client_ip
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

PROXY = "10.0.0.2"
ATTACKER = "198.51.100.66"
VICTIM = "203.0.113.7"


def through_proxy(seen_by_proxy: str, sent_header: str = "") -> Client:
    """A browser whose requests reach the app through one proxy that appends
    the address it saw to whatever X-Forwarded-For the browser sent."""
    chain = f"{sent_header}, {seen_by_proxy}" if sent_header else seen_by_proxy
    return Client(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=chain)


def log_in(browser: Client, password: str = PASSWORD) -> int:
    return browser.post(
        "/admin/login/", {"username": "alice@example.com", "password": password}
    ).status_code


def test_an_attacker_behind_the_proxy_cannot_lock_out_a_victim_from_another_address(
    alice, settings
):
    settings.MAILSHOT_TRUSTED_PROXIES = 1
    attacker = through_proxy(ATTACKER)

    statuses = [log_in(attacker, "wrong-password") for _ in range(6)]

    assert statuses[-1] == 429
    assert log_in(attacker) == 429
    assert log_in(through_proxy(VICTIM)) == 302


def test_an_attacker_cannot_spoof_the_victims_address_through_the_proxy(
    alice, settings
):
    settings.MAILSHOT_TRUSTED_PROXIES = 1
    # The proxy appends the attacker's real address after the forged one.
    attacker = through_proxy(ATTACKER, sent_header=VICTIM)

    for _ in range(5):
        log_in(attacker, "wrong-password")

    assert log_in(attacker) == 429
    assert log_in(through_proxy(VICTIM)) == 302


def test_forwarded_headers_from_an_untrusted_peer_change_nothing(alice, settings):
    settings.MAILSHOT_TRUSTED_PROXIES = 0

    # Each attempt claims another address: all count against the real one.
    statuses = [
        log_in(
            Client(REMOTE_ADDR=ATTACKER, HTTP_X_FORWARDED_FOR=f"192.0.2.{n}"),
            "wrong-password",
        )
        for n in range(5)
    ]
    forged_victim = Client(REMOTE_ADDR=ATTACKER, HTTP_X_FORWARDED_FOR=VICTIM)

    assert statuses[-1] == 429
    assert log_in(forged_victim) == 429
    assert log_in(Client(REMOTE_ADDR=VICTIM)) == 302


@pytest.mark.parametrize(
    ("proxies", "remote", "header", "expected"),
    [
        (0, "192.0.2.1", "203.0.113.9", "192.0.2.1"),
        (1, PROXY, "203.0.113.9", "203.0.113.9"),
        (1, PROXY, "6.6.6.6, 203.0.113.9", "203.0.113.9"),
        (2, PROXY, "6.6.6.6, 203.0.113.9, 10.0.0.1", "203.0.113.9"),
        # Fewer entries than proxies: the oldest one any trusted proxy wrote.
        (2, PROXY, "203.0.113.9", "203.0.113.9"),
        (1, PROXY, " 2001:db8::1 ", "2001:db8::1"),
        # Some load balancers add the client's port.
        (1, PROXY, "203.0.113.9:51234", "203.0.113.9"),
        (1, PROXY, "[2001:db8::1]:443", "2001:db8::1"),
        # No header or garbage in it: the peer itself.
        (1, PROXY, "", PROXY),
        (1, PROXY, "not-an-address", PROXY),
        (1, PROXY, "203.0.113.9, ", PROXY),
    ],
)
def test_the_client_address_is_read_right_to_left_past_the_trusted_proxies(
    settings, proxies, remote, header, expected
):
    settings.MAILSHOT_TRUSTED_PROXIES = proxies
    extra = {"HTTP_X_FORWARDED_FOR": header} if header else {}
    request = RequestFactory().get("/", REMOTE_ADDR=remote, **extra)

    assert client_ip(request) == expected
