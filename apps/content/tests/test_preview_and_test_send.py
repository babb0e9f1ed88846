"""Preview and "Send a test to me" on message and mailing pages: who may see and
send, what the preview shows, where a test may go and how many an hour."""

import email
from email import policy

import pytest
from django.urls import reverse

from apps.content import preview
from apps.content.models import Layout
from apps.core import permissions
from apps.mailings.models import Attempt, Delivery, Message
from tests.factories import ClientFactory, MailingFactory, MessageFactory

pytestmark = pytest.mark.django_db

HTML = '<p>Hello {{ full_name }}</p><p><a class="button" href="https://x.example/">Go</a></p>'


@pytest.fixture
def message(alice):
    return MessageFactory(
        owner=alice, subject="News for {{ first_name }}", body="", body_html=HTML
    )


@pytest.fixture
def mailing(alice, message):
    return MailingFactory(owner=alice, message=message)


def urls(obj):
    opts = obj._meta
    name = f"admin:{opts.app_label}_{opts.model_name}"
    return (
        reverse(f"{name}_preview_and_test", args=[obj.pk]),
        reverse(f"{name}_preview_html", args=[obj.pk]),
    )


@pytest.mark.parametrize("kind", ["message", "mailing"])
@pytest.mark.parametrize(
    "persona, page, frame",
    [
        ("alice", 200, 200),
        ("bob", 404, 404),
        ("manager", 200, 200),
        ("editor", 403, 403),
        ("superuser", 200, 200),
    ],
)
def test_who_sees_a_preview(request, login, kind, persona, page, frame):
    obj = request.getfixturevalue(kind)
    http = login(request.getfixturevalue(persona))
    page_url, frame_url = urls(obj)
    assert http.get(page_url).status_code == page
    assert http.get(frame_url).status_code == frame


@pytest.mark.parametrize("kind", ["message", "mailing"])
def test_anonymous_people_are_sent_to_the_login_page(client, request, kind):
    for url in urls(request.getfixturevalue(kind)):
        response = client.get(url)
        assert response.status_code == 302
        assert "/admin/login/" in response["Location"]


def test_the_preview_shows_subject_headers_text_and_a_sandboxed_frame(
    login, alice, message
):
    ClientFactory(owner=alice, email="ann@example.org", full_name="Ann Lee")
    page_url, frame_url = urls(message)
    http = login(alice)

    body = http.get(page_url, {"client": "ANN@example.org"}).content.decode()
    assert "News for Ann" in body
    assert "Hello Ann Lee" in body  # the text part, made from the HTML
    assert "<iframe" in body and "sandbox" in body
    assert "List-Unsubscribe" in body

    frame = http.get(frame_url, {"client": "ann@example.org"})
    policy_header = frame["Content-Security-Policy"]
    assert "default-src 'none'" in policy_header and "sandbox" in policy_header
    assert "script-src" not in policy_header
    assert frame["X-Frame-Options"] == "SAMEORIGIN"
    assert "Hello Ann Lee" in frame.content.decode()
    assert 'style="' in frame.content.decode()  # CSS inlined


def test_the_preview_never_shows_another_owners_client(login, alice, bob, message):
    ClientFactory(owner=bob, email="secret@example.org", full_name="Bob's Secret")
    http = login(alice)
    body = http.get(urls(message)[0], {"client": "secret@example.org"}).content.decode()
    assert "Bob&#x27;s Secret" not in body and "Bob's Secret" not in body
    assert "Sample Reader" in body


def test_a_message_with_a_layout_is_previewed_in_it(login, alice, message):
    layout = Layout.objects.create(
        owner=alice,
        name="Mine",
        html=(
            '<div class="frame">MYFRAME {{ content }}'
            '<a href="{{ unsubscribe_url }}">u</a></div>'
        ),
    )
    permissions.owner_permissions_grant(owner=alice, objects=layout)
    Message.objects.filter(pk=message.pk).update(layout=layout)
    frame = login(alice).get(urls(message)[1]).content.decode()
    assert "MYFRAME" in frame and "Hello Sample Reader" in frame


# --- send a test to me ---


def test_a_test_reaches_the_owner_through_smtp_and_is_no_delivery(
    login, alice, mailing, smtp_sink
):
    http = login(alice)
    page_url, _frame = urls(mailing)
    response = http.post(page_url, {"to": "alice@example.com"}, follow=True)
    assert response.status_code == 200

    assert len(smtp_sink.messages) == 1
    received = smtp_sink.messages[0]
    assert received.envelope_to == ["alice@example.com"]
    parsed = email.message_from_bytes(received.raw, policy=policy.default)
    assert parsed["Subject"].startswith("[Test] News for")
    assert parsed.get_content_type() == "multipart/alternative"
    assert not Attempt.objects.exists() and not Delivery.objects.exists()


def test_a_test_goes_to_a_verified_sender_address_but_nowhere_else(
    login, alice, message, smtp_sink, make_identity
):
    make_identity(alice, "shop@alice.example")
    make_identity(alice, "unverified@alice.example", verified=False)
    http = login(alice)
    page_url, _frame = urls(message)
    http.post(page_url, {"to": "shop@alice.example"})
    http.post(page_url, {"to": "unverified@alice.example"})
    http.post(page_url, {"to": "victim@example.net"})
    assert [m.envelope_to for m in smtp_sink.messages] == [["shop@alice.example"]]


def test_managers_may_look_but_not_send_a_test(login, manager, message, smtp_sink):
    response = login(manager).post(urls(message)[0], {"to": "manager@example.com"})
    assert response.status_code == 403
    assert smtp_sink.messages == []


def test_another_owner_cannot_send_a_test_of_someone_elses_message(
    login, bob, message, smtp_sink
):
    response = login(bob).post(urls(message)[0], {"to": "bob@example.com"})
    assert response.status_code == 404
    assert smtp_sink.messages == []


def test_at_most_twenty_tests_an_hour_then_a_clear_message(
    login, alice, message, smtp_sink
):
    http = login(alice)
    page_url, _frame = urls(message)
    for _ in range(preview.TEST_SENDS_PER_HOUR):
        http.post(page_url, {"to": "alice@example.com"})
    response = http.post(page_url, {"to": "alice@example.com"}, follow=True)

    assert len(smtp_sink.messages) == preview.TEST_SENDS_PER_HOUR
    text = response.content.decode()
    assert "You have sent 20 tests in the last hour" in text
