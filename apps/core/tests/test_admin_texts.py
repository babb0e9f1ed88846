"""The admin's own sentences per model (issue 15, point 6): success and delete
messages with the right gender in Russian, a delete page that lists only what a person
recognises, group and permission names translated, capitalised filter headings."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Group, Permission
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import translation

from apps.users import roles
from tests.factories import ClientFactory, MailingFactory, MessageFactory

pytestmark = pytest.mark.django_db


def said(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def ru(http):
    http.cookies["django_language"] = "ru"
    return http


def test_adding_a_message_in_russian_agrees_in_gender(alice, login):
    http = ru(login(alice))

    response = http.post(
        reverse("admin:mailings_message_add"),
        {"subject": "Новости", "body": "Привет", "language": "ru"},
        HTTP_ACCEPT_LANGUAGE="ru",
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    assert any("Сообщение «" in m and "» добавлено." in m for m in said(response))


def test_a_client_added_in_english_is_our_own_sentence(alice, login):
    response = login(alice).post(
        reverse("admin:mailings_client_add"),
        {"email": "ivan@example.org", "full_name": "Ivan", "_continue": "1"},
    )

    messages = said(response)
    assert any(m.startswith("Client “") and "” added." in m for m in messages)
    assert any("You can go on editing below." in m for m in messages)
    assert not any("was added successfully" in m for m in messages)


def test_deleting_a_mailing_in_russian_says_it_in_the_feminine(alice, login):
    mailing = MailingFactory(owner=alice)
    http = ru(login(alice))
    url = reverse("admin:mailings_mailing_delete", args=[mailing.pk])

    page = http.get(url, HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    response = http.post(url, {"post": "yes"}, HTTP_ACCEPT_LANGUAGE="ru")

    assert "Удалить рассылку «" in page
    assert any(m.startswith("Рассылка «") and "удалена" in m for m in said(response))


def test_deleting_a_person_lists_no_permission_or_through_rows(alice, superuser, login):
    client = ClientFactory(owner=alice)
    MailingFactory(owner=alice, clients=[client])
    MessageFactory(owner=alice)

    response = login(superuser).get(reverse("admin:users_user_delete", args=[alice.pk]))

    body = response.content.decode()
    assert response.status_code == 200
    assert "object permission" not in body.lower()
    assert "relationship" not in body.lower()
    assert "_clients object" not in body.lower()
    assert "Mailings" in body and "Clients" in body


def test_deleting_a_group_lists_no_relationship_rows(superuser, login):
    group = Group.objects.create(name="Temporary")
    group.permissions.add(Permission.objects.filter(codename="add_client").get())
    superuser.groups.add(group)

    response = login(superuser).get(reverse("admin:auth_group_delete", args=[group.pk]))

    body = response.content.decode()
    assert "relationship" not in body.lower()
    assert "Delete group “Temporary”?" in body


def test_group_and_permission_names_are_shown_translated():
    users = Group.objects.get(name=roles.USERS)
    permission = Permission.objects.get(codename="add_client")
    with translation.override("ru"):
        assert str(users) == "Пользователи"
        assert str(permission) == "Клиенты: добавление"
    assert Group.objects.filter(name="Users").exists()  # the data stays


def test_permissions_offered_are_only_our_models(superuser, login):
    response = login(superuser).get(reverse("admin:auth_group_add"))

    field = response.context["adminform"].form.fields["permissions"]
    labels = {p.content_type.app_label for p in field.queryset}
    assert labels <= {"mailings", "users", "blog"}
    assert not field.queryset.filter(codename__contains="objectpermission").exists()


def test_filter_headings_start_with_a_capital(manager, login):
    http = ru(login(manager))
    body = http.get(
        reverse("admin:users_user_changelist"), HTTP_ACCEPT_LANGUAGE="ru"
    ).content.decode()

    headings = re.findall(r"<h3[^>]*>\s*([^<]+?)\s*</h3>", body)
    assert "Группы" in headings and "Заблокирован" in headings
    assert not any(heading[0].islower() for heading in headings)


def test_the_add_button_names_the_model_in_the_right_case(alice, login):
    http = ru(login(alice))
    body = http.get(
        reverse("admin:mailings_client_changelist"), HTTP_ACCEPT_LANGUAGE="ru"
    ).content.decode()

    assert "Добавить клиента" in body
    assert "Добавить: клиент" not in body


def test_a_message_read_only_keeps_its_line_breaks(alice, manager, login):
    message = MessageFactory(owner=alice, body="Hello,\nworld\n\nBye")

    body = (
        login(manager)
        .get(reverse("admin:mailings_message_change", args=[message.pk]))
        .content.decode()
    )

    assert "Hello,<br>world<br><br>Bye" in body


def test_deleting_a_client_in_a_mailing_lists_no_through_or_permission_rows(
    alice, login
):
    client = ClientFactory(owner=alice)
    MailingFactory(owner=alice, clients=[client])

    body = (
        login(alice)
        .get(reverse("admin:mailings_client_delete", args=[client.pk]))
        .content.decode()
    )

    assert "Delete client “" in body
    assert "_clients" not in body.lower()
    assert "object permission" not in body.lower()


def test_deleting_selected_posts_in_russian_uses_the_plural_the_number_wants(
    editor, login
):
    from tests.factories import PostFactory

    posts = [PostFactory() for _ in range(5)]
    http = ru(login(editor))

    response = http.post(
        reverse("admin:blog_post_changelist"),
        {
            "action": "delete_selected",
            "_selected_action": [p.pk for p in posts],
            "post": "yes",
        },
        HTTP_ACCEPT_LANGUAGE="ru",
    )

    assert said(response) == ["Удалено 5 статей."]
