"""Mailings: list, read, create, update, delete, send now, report.

Created and changed through the admin's own form (``MailingForm``: the owner's
messages only, dates from 2000 to 2099, the end after the start) and saved by the
service the admin calls (``services.mailing_save``): one write path.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.db import transaction
from django.db.models import Count, Max, Sum
from django.http import HttpRequest
from django.utils.translation import gettext
from ninja import Query, Router

from apps.api.endpoints.common import get_for, person, responses
from apps.api.pagination import PageQuery, page
from apps.api.problems import ApiProblem
from apps.api.schemas import (
    Id,
    MailingFilter,
    MailingIn,
    MailingOut,
    MailingPage,
    MailingPatch,
    MailingReport,
    Queued,
)
from apps.core import permissions
from apps.mailings import selectors, services
from apps.mailings.admin import MailingForm
from apps.mailings.admin_sending import send_problem
from apps.mailings.models import Attempt, Mailing

router = Router(tags=["mailings"])

FORM_FIELDS = [
    "message",
    "sender",
    "to_all_clients",
    "lists",
    "segments",
    "start_at",
    "end_at",
    "periodicity",
]


class ApiMailingForm(MailingForm):
    """The admin's mailing form without its client picker: the API takes client
    ids as lists and checks them against the same queryset (owned_clients).
    ``has_clients`` says whether the mailing keeps individual clients after the
    request, for the form's "who receives it" check."""

    class Meta(MailingForm.Meta):
        fields = FORM_FIELDS

    def __init__(self, *args: Any, has_clients: bool = False, **kwargs: Any) -> None:
        self.has_clients = has_clients
        super().__init__(*args, **kwargs)

    def _targets_anyone(self, cleaned: dict[str, Any]) -> bool:
        return self.has_clients or bool(
            cleaned.get("to_all_clients")
            or cleaned.get("lists")
            or cleaned.get("segments")
        )


def _form_errors(form: forms.BaseForm) -> ApiProblem:
    rename = {
        "message": "message_id",
        "sender": "sender_id",
        "lists": "list_ids",
        "segments": "segment_ids",
        "__all__": "recipients",
    }
    return ApiProblem(
        422,
        gettext("The mailing is not valid."),
        errors=[
            {"field": rename.get(name, name), "message": str(message)}
            for name, messages in form.errors.items()
            for message in messages
        ],
    )


def _own_clients(owner: Any, ids: list[int], field: str) -> list[int]:
    """`ids`, if every one is a client of `owner`; a field error otherwise."""
    wanted = set(ids)
    found = set(
        selectors.owned_clients(owner)
        .filter(pk__in=wanted)
        .values_list("pk", flat=True)
    )
    missing = sorted(wanted - found)
    if missing:
        raise ApiProblem(
            422,
            gettext("The mailing is not valid."),
            errors=[
                {
                    "field": field,
                    "message": gettext("No such client: %(ids)s")
                    % {"ids": ", ".join(map(str, missing[:20]))},
                }
            ],
        )
    return sorted(found)


@router.get("/mailings", response=responses({200: MailingPage}))
def mailing_list(
    request: HttpRequest, params: PageQuery, filters: Query[MailingFilter]
) -> dict[str, Any]:
    qs = permissions.visible(request.user, Mailing).prefetch_related(
        "lists", "segments"
    )
    if filters.status:
        qs = qs.filter(status=filters.status)
    return page(request, qs, params)


@router.get("/mailings/{id}", response=responses({200: MailingOut}))
def mailing_detail(request: HttpRequest, id: Id) -> Mailing:
    return get_for(request.user, Mailing, id)


@router.post("/mailings", response=responses({201: MailingOut}))
def mailing_create(request: HttpRequest, payload: MailingIn) -> tuple[int, Mailing]:
    owner = person(request)
    clients = _own_clients(owner, payload.client_ids, "client_ids")
    form = ApiMailingForm(
        data={
            "message": str(payload.message_id),
            "to_all_clients": payload.to_all_clients,
            "lists": [str(pk) for pk in payload.list_ids],
            "segments": [str(pk) for pk in payload.segment_ids],
            "sender": str(payload.sender_id or ""),
            "start_at": payload.start_at.isoformat(),
            "end_at": payload.end_at.isoformat(),
            "periodicity": payload.periodicity,
        },
        owner=owner,
        has_clients=bool(clients),
    )
    if not form.is_valid():
        raise _form_errors(form)
    with transaction.atomic():
        mailing = form.save(commit=False)
        mailing.owner = owner
        services.mailing_save(mailing=mailing)
        form.save_m2m()
        if clients:
            mailing.clients.add(*clients)
    return 201, mailing


@router.patch("/mailings/{id}", response=responses({200: MailingOut}))
def mailing_update(request: HttpRequest, id: Id, payload: MailingPatch) -> Mailing:
    mailing: Mailing = get_for(request.user, Mailing, id, "change")
    changes = payload.dict(exclude_unset=True, exclude_none=True)
    owner = mailing.owner
    replace = (
        _own_clients(owner, payload.client_ids, "client_ids")
        if payload.client_ids is not None
        else None
    )
    add = _own_clients(owner, payload.add_client_ids, "add_client_ids")
    remove = _own_clients(owner, payload.remove_client_ids, "remove_client_ids")
    if replace is not None:
        has_clients = bool(replace or add)
    else:
        has_clients = bool(add) or (mailing.clients.exclude(pk__in=remove).exists())
    data = {
        "message": str(changes.get("message_id", mailing.message_id)),
        "sender": str(changes.get("sender_id", mailing.sender_id) or ""),
        "to_all_clients": changes.get("to_all_clients", mailing.to_all_clients),
        "lists": [
            str(pk)
            for pk in changes.get(
                "list_ids", mailing.lists.values_list("pk", flat=True)
            )
        ],
        "segments": [
            str(pk)
            for pk in changes.get(
                "segment_ids", mailing.segments.values_list("pk", flat=True)
            )
        ],
        "start_at": changes.get("start_at", mailing.start_at).isoformat(),
        "end_at": changes.get("end_at", mailing.end_at).isoformat(),
        "periodicity": changes.get("periodicity", mailing.periodicity),
    }
    form = ApiMailingForm(
        data=data, instance=mailing, owner=owner, has_clients=has_clients
    )
    if not form.is_valid():
        raise _form_errors(form)
    with transaction.atomic():
        mailing = form.save(commit=False)
        services.mailing_save(mailing=mailing)
        form.save_m2m()
        if replace is not None:
            mailing.clients.set(replace)
        if add:
            mailing.clients.add(*add)
        if remove:
            mailing.clients.remove(*remove)
    return mailing


@router.delete("/mailings/{id}", response=responses({204: None}))
def mailing_delete(request: HttpRequest, id: Id) -> tuple[int, None]:
    mailing = get_for(request.user, Mailing, id, "delete")
    mailing.delete()
    return 204, None


@router.post("/mailings/{id}/send", response=responses({202: Queued}))
def mailing_send(request: HttpRequest, id: Id) -> tuple[int, dict[str, str]]:
    """Queue a run now (in the background), as the admin's "Send now" does."""
    mailing: Mailing = get_for(request.user, Mailing, id, "send")
    # The admin's reasons, in its words (disabled, paused, owner blocked).
    problem = send_problem(mailing)
    if problem:
        raise ApiProblem(409, problem)
    services.mailing_send_now(mailing=mailing)
    return 202, {
        "detail": gettext("The mailing is queued and starts in a few seconds.")
    }


@router.get("/mailings/{id}/report", response=responses({200: MailingReport}))
def mailing_report(request: HttpRequest, id: Id) -> dict[str, Any]:
    mailing: Mailing = get_for(request.user, Mailing, id)
    totals = Attempt.objects.filter(mailing=mailing).aggregate(
        attempts=Count("pk"),
        recipients=Sum("total_count"),
        sent=Sum("sent_count"),
        failed=Sum("failed_count"),
        skipped=Sum("skipped_count"),
        last_attempt_at=Max("attempted_at"),
    )
    return {
        "mailing_id": mailing.pk,
        "status": mailing.status,
        "attempts": totals["attempts"] or 0,
        "recipients": totals["recipients"] or 0,
        "sent": totals["sent"] or 0,
        "failed": totals["failed"] or 0,
        "skipped": totals["skipped"] or 0,
        "last_attempt_at": totals["last_attempt_at"],
    }


@router.post("/mailings/{id}/pause", response=responses({200: MailingOut}))
def mailing_pause(request: HttpRequest, id: Id) -> Mailing:
    """The owner's own switch: a paused mailing sends nothing until resumed (a run
    in progress stops within seconds)."""
    mailing: Mailing = get_for(request.user, Mailing, id, "change")
    return services.mailing_set_paused(mailing=mailing, paused=True)


@router.post("/mailings/{id}/resume", response=responses({200: MailingOut}))
def mailing_resume(request: HttpRequest, id: Id) -> Mailing:
    mailing: Mailing = get_for(request.user, Mailing, id, "change")
    return services.mailing_set_paused(mailing=mailing, paused=False)


@router.post("/mailings/{id}/duplicate", response=responses({201: MailingOut}))
def mailing_duplicate(request: HttpRequest, id: Id) -> tuple[int, Mailing]:
    """A paused copy (same message, schedule and recipients): resume it to send."""
    mailing: Mailing = get_for(request.user, Mailing, id, "change")
    return 201, services.mailing_duplicate(mailing=mailing)
