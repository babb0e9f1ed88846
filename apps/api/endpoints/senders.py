"""Sender identities: read only (verification stays by the link mailed to the
address, from the admin)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router

from apps.api.endpoints.common import get_for, responses
from apps.api.pagination import PageQuery, page
from apps.api.schemas import Id, SenderOut, SenderPage
from apps.content.models import SenderIdentity
from apps.core import permissions

router = Router(tags=["senders"])


@router.get("/senders", response=responses({200: SenderPage}))
def sender_list(request: HttpRequest, params: PageQuery) -> dict[str, Any]:
    return page(request, permissions.visible(request.user, SenderIdentity), params)


@router.get("/senders/{id}", response=responses({200: SenderOut}))
def sender_detail(request: HttpRequest, id: Id) -> SenderIdentity:
    return get_for(request.user, SenderIdentity, id)
