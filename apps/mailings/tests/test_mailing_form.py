"""The mailing form offers only the owner's clients and messages, refuses anyone
else's ids with a message next to the field, and scales to many clients."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.admin.widgets import AutocompleteSelectMultiple
from django.urls import reverse
from django.utils import timezone

from apps.mailings.admin import MailingForm
from apps.mailings.models import Client, Mailing
from tests.factories import ClientFactory, MailingFactory, MessageFactory

pytestmark = pytest.mark.django_db

ADD_URL = reverse("admin:mailings_mailing_add")


def form_data(message, clients, *, start=None, end=None, periodicity="once") -> dict:
    start = start or timezone.now() + timedelta(days=1)
    end = end or start + timedelta(days=7)
    return {
        "message": message.pk,
        "clients": [c.pk for c in clients],
        "start_at_0": start.strftime("%Y-%m-%d"),
        "start_at_1": start.strftime("%H:%M:%S"),
        "end_at_0": end.strftime("%Y-%m-%d"),
        "end_at_1": end.strftime("%H:%M:%S"),
        "periodicity": periodicity,
    }


def field_errors(response, field: str) -> list[str]:
    return response.context["adminform"].form.errors.get(field, [])


def test_the_form_offers_only_the_owners_clients_and_messages(alice, bob):
    mine = ClientFactory(owner=alice)
    ClientFactory(owner=bob)
    my_message = MessageFactory(owner=alice)
    MessageFactory(owner=bob)

    form = MailingForm(owner=alice)

    assert list(form.fields["clients"].queryset) == [mine]
    assert list(form.fields["message"].queryset) == [my_message]


def test_a_crafted_post_with_someone_elses_client_is_a_form_error(alice, bob, login):
    bobs_client = ClientFactory(owner=bob)
    data = form_data(MessageFactory(owner=alice), [ClientFactory(owner=alice)])
    data["clients"].append(bobs_client.pk)

    response = login(alice).post(ADD_URL, data)

    assert response.status_code == 200
    assert field_errors(response, "clients")
    assert not Mailing.objects.filter(owner=alice).exists()


def test_a_crafted_post_with_someone_elses_message_is_a_form_error(alice, bob, login):
    data = form_data(MessageFactory(owner=bob), [ClientFactory(owner=alice)])

    response = login(alice).post(ADD_URL, data)

    assert response.status_code == 200
    assert field_errors(response, "message")
    assert not Mailing.objects.filter(owner=alice).exists()


def test_an_id_that_does_not_exist_is_a_form_error_too(alice, login):
    data = form_data(MessageFactory(owner=alice), [ClientFactory(owner=alice)])
    data["clients"] = [987654]

    response = login(alice).post(ADD_URL, data)

    assert response.status_code == 200
    assert field_errors(response, "clients")


def test_an_end_before_the_start_is_refused_next_to_the_end(alice, login):
    start = timezone.now() + timedelta(days=3)
    data = form_data(
        MessageFactory(owner=alice),
        [ClientFactory(owner=alice)],
        start=start,
        end=start - timedelta(days=1),
    )

    response = login(alice).post(ADD_URL, data)

    assert response.status_code == 200
    assert field_errors(response, "end_at")
    assert not Mailing.objects.exists()


def test_a_valid_post_creates_a_mailing_owned_by_its_author(alice, login):
    clients = [ClientFactory(owner=alice) for _ in range(3)]
    data = form_data(MessageFactory(owner=alice), clients)

    response = login(alice).post(ADD_URL, data)

    assert response.status_code == 302
    mailing = Mailing.objects.get()
    assert mailing.owner == alice
    assert set(mailing.clients.all()) == set(clients)
    assert alice.has_perm("mailings.change_mailing", mailing)


def test_a_superuser_editing_alices_mailing_cannot_add_bobs_client(
    alice, bob, superuser, login
):
    mailing = MailingFactory(owner=alice, clients=[ClientFactory(owner=alice)])
    data = form_data(
        mailing.message, [*mailing.clients.all(), ClientFactory(owner=bob)]
    )

    response = login(superuser).post(
        reverse("admin:mailings_mailing_change", args=[mailing.pk]),
        {"attempts-TOTAL_FORMS": "0", "attempts-INITIAL_FORMS": "0", **data},
    )

    assert response.status_code == 200
    assert field_errors(response, "clients")
    assert mailing.clients.count() == 1


def test_the_clients_field_is_an_autocomplete_not_a_select_of_every_client(
    alice, login
):
    Client.objects.bulk_create(
        Client(owner=alice, email=f"many{i}@example.org") for i in range(300)
    )

    response = login(alice).get(ADD_URL)

    assert response.status_code == 200
    widget = response.context["adminform"].form.fields["clients"].widget
    assert isinstance(getattr(widget, "widget", widget), AutocompleteSelectMultiple)
    assert "many1@example.org" not in response.content.decode()
    assert response.content.decode().count("<option") < 50


def test_the_change_page_renders_only_the_chosen_clients(alice, login):
    Client.objects.bulk_create(
        Client(owner=alice, email=f"many{i}@example.org") for i in range(300)
    )
    chosen = ClientFactory(owner=alice, email="chosen@example.org")
    mailing = MailingFactory(owner=alice, clients=[chosen])

    response = login(alice).get(
        reverse("admin:mailings_mailing_change", args=[mailing.pk])
    )

    body = response.content.decode()
    assert "chosen@example.org" in body
    assert "many1@example.org" not in body


def test_a_manager_sees_how_many_clients_a_mailing_has_not_all_their_names(
    alice, manager, login
):
    clients = [ClientFactory(owner=alice) for _ in range(3)]
    mailing = MailingFactory(owner=alice, clients=clients)

    response = login(manager).get(
        reverse("admin:mailings_mailing_change", args=[mailing.pk])
    )

    body = response.content.decode()
    assert response.status_code == 200
    assert "3 recipients" in body
    assert clients[0].email not in body
    assert 'name="_save"' not in body


def test_the_autocomplete_offers_a_user_only_their_own_clients(alice, bob, login):
    ClientFactory(owner=alice, email="shared.name@alice.example", full_name="")
    ClientFactory(owner=bob, email="shared.name@bob.example", full_name="")

    response = login(alice).get(
        reverse("admin:autocomplete"),
        {
            "app_label": "mailings",
            "model_name": "mailing",
            "field_name": "clients",
            "term": "shared",
        },
    )

    texts = [r["text"] for r in response.json()["results"]]
    assert texts == ["shared.name@alice.example"]
