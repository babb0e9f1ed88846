"""System mails declare the language they are written in (<html lang>)."""

import pytest

from apps.users import tasks
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("language", ["ru", "en"])
@pytest.mark.parametrize(
    "task",
    [
        tasks.send_confirmation_email,
        tasks.send_already_registered_email,
        tasks.send_password_reset_email,
    ],
)
def test_an_account_mail_declares_the_language_it_is_written_in(
    smtp_sink, task, language
):
    user = UserFactory(email="person@example.com", email_confirmed=False)

    task(user.pk, language)

    [received] = smtp_sink.messages
    html = received.message.get_body(preferencelist=("html",)).get_content()
    assert f'<html lang="{language}">' in html
