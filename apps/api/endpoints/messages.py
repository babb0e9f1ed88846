"""Messages: list, read, create, update, delete."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import RestrictedError
from django.http import HttpRequest
from django.utils.translation import gettext
from ninja import Router

from apps.api.endpoints.common import get_for, person, responses
from apps.api.pagination import PageQuery, page
from apps.api.problems import ApiProblem
from apps.api.schemas import Id, MessageIn, MessageOut, MessagePage, MessagePatch
from apps.core import permissions
from apps.mailings import services
from apps.mailings.models import Message

router = Router(tags=["messages"])


@router.get("/messages", response=responses({200: MessagePage}))
def message_list(request: HttpRequest, params: PageQuery) -> dict[str, Any]:
    return page(request, permissions.visible(request.user, Message), params)


@router.get("/messages/{id}", response=responses({200: MessageOut}))
def message_detail(request: HttpRequest, id: Id) -> Message:
    return get_for(request.user, Message, id)


@router.post("/messages", response=responses({201: MessageOut}))
def message_create(request: HttpRequest, payload: MessageIn) -> tuple[int, Message]:
    message = services.message_create(
        owner=person(request),
        subject=payload.subject,
        body=payload.body,
    )
    return 201, message


@router.patch("/messages/{id}", response=responses({200: MessageOut}))
def message_update(request: HttpRequest, id: Id, payload: MessagePatch) -> Message:
    message: Message = get_for(request.user, Message, id, "change")
    for name, value in payload.dict(exclude_unset=True, exclude_none=True).items():
        setattr(message, name, value)
    with transaction.atomic():
        message.full_clean()
        message.save()
    return message


@router.delete("/messages/{id}", response=responses({204: None}))
def message_delete(request: HttpRequest, id: Id) -> tuple[int, None]:
    message = get_for(request.user, Message, id, "delete")
    try:
        with transaction.atomic():
            message.delete()
    except RestrictedError:
        raise ApiProblem(
            409, gettext("This message is used by a mailing; delete the mailing first.")
        ) from None
    return 204, None
