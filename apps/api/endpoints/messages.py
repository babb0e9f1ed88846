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
from apps.content.models import Layout
from apps.core import permissions
from apps.mailings import services
from apps.mailings.models import Message

router = Router(tags=["messages"])


def _check_layout(owner: Any, layout_id: int | None) -> None:
    """Someone else's layout, or none with that id: a field error (the model's
    own check would look the missing one up and fail)."""
    if layout_id is None:
        return
    if not permissions.owned(owner, Layout).filter(pk=layout_id).exists():
        raise ApiProblem(
            422,
            gettext("The message is not valid."),
            errors=[
                {
                    "field": "layout_id",
                    "message": gettext("Choose one of your own layouts."),
                }
            ],
        )


@router.get("/messages", response=responses({200: MessagePage}))
def message_list(request: HttpRequest, params: PageQuery) -> dict[str, Any]:
    return page(request, permissions.visible(request.user, Message), params)


@router.get("/messages/{id}", response=responses({200: MessageOut}))
def message_detail(request: HttpRequest, id: Id) -> Message:
    return get_for(request.user, Message, id)


@router.post("/messages", response=responses({201: MessageOut}))
def message_create(request: HttpRequest, payload: MessageIn) -> tuple[int, Message]:
    owner = person(request)
    _check_layout(owner, payload.layout_id)
    message = Message(
        owner=owner,
        subject=payload.subject,
        body=payload.body,
        body_html=payload.body_html,
        layout_id=payload.layout_id,
        language=payload.language,
    )
    # The model's checks (placeholders, the owner's own layout, text or HTML) and
    # its save (the HTML sanitised for e-mail), as every write path.
    with transaction.atomic():
        message.full_clean()
        message.save()
        services.grant_owner_permissions(owner=owner, objects=message)
    return 201, message


@router.patch("/messages/{id}", response=responses({200: MessageOut}))
def message_update(request: HttpRequest, id: Id, payload: MessagePatch) -> Message:
    message: Message = get_for(request.user, Message, id, "change")
    changes = payload.dict(exclude_unset=True, exclude_none=True)
    _check_layout(message.owner, changes.get("layout_id"))
    for name, value in changes.items():
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


@router.post("/messages/{id}/duplicate", response=responses({201: MessageOut}))
def message_duplicate(request: HttpRequest, id: Id) -> tuple[int, Message]:
    """A copy named "… (copy)"."""
    message: Message = get_for(request.user, Message, id, "change")
    return 201, services.message_duplicate(message=message)
