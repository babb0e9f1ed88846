"""Clients: list (filter by e-mail, unsubscribed), read, create, update, delete,
and bulk upsert."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.db.models.fields.json import KeyTextTransform
from django.db.models.lookups import Exact
from django.http import HttpRequest
from ninja import Query, Router

from apps.api import bulk
from apps.api.endpoints.common import get_for, person, responses
from apps.api.pagination import PageQuery, page
from apps.api.schemas import (
    BulkClientsIn,
    BulkReport,
    ClientFilter,
    ClientIn,
    ClientOut,
    ClientPage,
    ClientPatch,
    Id,
)
from apps.audiences.models import Subscription
from apps.core import permissions
from apps.mailings import services
from apps.mailings.models import Client

router = Router(tags=["clients"])


@router.get("/clients", response=responses({200: ClientPage}))
def client_list(
    request: HttpRequest, params: PageQuery, filters: Query[ClientFilter]
) -> dict[str, Any]:
    qs = permissions.visible(request.user, Client)
    if filters.email:
        qs = qs.filter(email__iexact=filters.email.strip())
    if filters.is_unsubscribed is not None:
        qs = qs.filter(is_unsubscribed=filters.is_unsubscribed)
    if filters.list_id is not None:
        qs = qs.filter(
            Exists(
                Subscription.objects.filter(
                    client=OuterRef("pk"),
                    client_list_id=filters.list_id,
                    status=filters.subscription,
                )
            )
        )
    if filters.attribute:
        name, _equals, value = filters.attribute.partition("=")
        # As the segments' "attribute equals" condition reads it.
        qs = qs.filter(Q(Exact(KeyTextTransform(name, "attributes"), value)))
    return page(request, qs, params)


# Before /clients/{id}: the first matching route wins.
@router.post("/clients/bulk", response=responses({200: BulkReport}))
def client_bulk_upsert(request: HttpRequest, payload: BulkClientsIn) -> dict[str, Any]:
    """Create or update up to 10,000 clients by e-mail (case-insensitive); a row
    that is invalid is reported and skipped, the others are saved."""
    return bulk.clients_upsert(
        owner=person(request), rows=[row.dict() for row in payload.clients]
    )


@router.get("/clients/{id}", response=responses({200: ClientOut}))
def client_detail(request: HttpRequest, id: Id) -> Client:
    return get_for(request.user, Client, id)


@router.post("/clients", response=responses({201: ClientOut}))
def client_create(request: HttpRequest, payload: ClientIn) -> tuple[int, Client]:
    with transaction.atomic():
        client = services.client_create(
            owner=person(request),
            email=payload.email,
            full_name=payload.full_name.strip(),
            comment=payload.comment,
        )
        if payload.attributes:
            client.attributes = dict(payload.attributes)
            client.full_clean()
            client.save(update_fields=["attributes"])
    return 201, client


@router.patch("/clients/{id}", response=responses({200: ClientOut}))
def client_update(request: HttpRequest, id: Id, payload: ClientPatch) -> Client:
    client: Client = get_for(request.user, Client, id, "change")
    changes = payload.dict(exclude_unset=True, exclude_none=True)
    attributes = changes.pop("attributes", None)
    for name, value in changes.items():
        setattr(client, name, value.strip() if name != "comment" else value)
    if attributes is not None:
        merged = {**(client.attributes or {}), **attributes}
        client.attributes = {k: v for k, v in merged.items() if v != ""}
    with transaction.atomic():
        client.full_clean()
        client.save()
    return client


@router.delete("/clients/{id}", response=responses({204: None}))
def client_delete(request: HttpRequest, id: Id) -> tuple[int, None]:
    client = get_for(request.user, Client, id, "delete")
    client.delete()
    return 204, None
