"""Lists and their subscriptions, suppressions."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models.functions import Lower
from django.http import HttpRequest
from django.utils.translation import gettext
from ninja import Query, Router

from apps.api.endpoints.common import get_for, person, responses
from apps.api.pagination import PageQuery, page
from apps.api.problems import ApiProblem
from apps.api.schemas import (
    Id,
    ListIn,
    ListOut,
    ListPage,
    ListPatch,
    SubscribeIn,
    SubscribeOut,
    SubscriptionFilter,
    SubscriptionOut,
    SubscriptionPage,
    SuppressionIn,
    SuppressionOut,
    SuppressionPage,
    UnsubscribeIn,
)
from apps.audiences import public_services
from apps.audiences import services as audience_services
from apps.audiences.models import ClientList, Subscription, Suppression
from apps.core import permissions
from apps.mailings import services
from apps.mailings.models import Client

router = Router(tags=["lists"])


@router.get("/lists", response=responses({200: ListPage}))
def list_list(request: HttpRequest, params: PageQuery) -> dict[str, Any]:
    return page(request, permissions.visible(request.user, ClientList), params)


@router.get("/lists/{id}", response=responses({200: ListOut}))
def list_detail(request: HttpRequest, id: Id) -> ClientList:
    return get_for(request.user, ClientList, id)


@router.post("/lists", response=responses({201: ListOut}))
def list_create(request: HttpRequest, payload: ListIn) -> tuple[int, ClientList]:
    created = audience_services.client_list_create(
        owner=person(request),
        name=payload.name,
        description=payload.description,
        is_public=payload.is_public,
        double_opt_in=payload.double_opt_in,
    )
    return 201, created


@router.patch("/lists/{id}", response=responses({200: ListOut}))
def list_update(request: HttpRequest, id: Id, payload: ListPatch) -> ClientList:
    client_list: ClientList = get_for(request.user, ClientList, id, "change")
    for name, value in payload.dict(exclude_unset=True, exclude_none=True).items():
        setattr(client_list, name, value)
    with transaction.atomic():
        client_list.full_clean()
        client_list.save()
    return client_list


@router.delete("/lists/{id}", response=responses({204: None}))
def list_delete(request: HttpRequest, id: Id) -> tuple[int, None]:
    get_for(request.user, ClientList, id, "delete").delete()
    return 204, None


@router.get("/lists/{id}/subscriptions", response=responses({200: SubscriptionPage}))
def subscription_list(
    request: HttpRequest,
    id: Id,
    params: PageQuery,
    filters: Query[SubscriptionFilter],
) -> dict[str, Any]:
    client_list = get_for(request.user, ClientList, id)
    qs = permissions.visible(request.user, Subscription).filter(client_list=client_list)
    if filters.status:
        qs = qs.filter(status=filters.status)
    return page(request, qs, params)


def _own_client(owner: Any, email: str, full_name: str) -> Client:
    found = Client.objects.filter(owner=owner, email__iexact=email.strip()).first()
    if found is not None:
        return found
    return services.client_create(owner=owner, email=email, full_name=full_name)


@router.post(
    "/lists/{id}/subscribe", response=responses({200: SubscribeOut, 202: SubscribeOut})
)
def list_subscribe(
    request: HttpRequest, id: Id, payload: SubscribeIn
) -> tuple[int, dict[str, Any]]:
    """Subscribe an address to the list.

    With double opt-in (the list's setting unless given) this is the public form's
    own path: a confirmation link is mailed and nothing is subscribed until it is
    opened (202, ``confirmation_sent``; the answer never tells whether the address
    was known). Without it the address joins at once (made a client of yours if it
    is not one yet) — unless the recipient unsubscribed themselves, whom only their
    own confirmation takes back (409)."""
    client_list: ClientList = get_for(request.user, ClientList, id, "change")
    owner = client_list.owner
    email = payload.email.strip()
    double = (
        client_list.double_opt_in
        if payload.double_opt_in is None
        else payload.double_opt_in
    )
    if double:
        # Overridden for this request only, never saved.
        client_list.double_opt_in = True
        public_services.subscription_request(
            client_list=client_list, email=email, full_name=payload.full_name
        )
        return 202, {"email": email, "status": "confirmation_sent"}
    client = _own_client(owner, email, payload.full_name)
    if audience_services.recipient_opted_out(client) or client.is_unsubscribed:
        raise ApiProblem(
            409,
            gettext(
                "This recipient unsubscribed; only they can subscribe again "
                "(use double opt-in)."
            ),
        )
    audience_services.list_members_add(client_list=client_list, clients=[client])
    found = Subscription.objects.filter(client_list=client_list, client=client).first()
    if found is None or found.status != Subscription.Status.SUBSCRIBED:
        raise ApiProblem(409, gettext("This address is suppressed."))
    return 200, {"email": client.email, "status": found.status}


@router.post("/lists/{id}/unsubscribe", response=responses({200: SubscriptionOut}))
def list_unsubscribe(
    request: HttpRequest, id: Id, payload: UnsubscribeIn
) -> Subscription:
    client_list: ClientList = get_for(request.user, ClientList, id, "change")
    subscription = (
        Subscription.objects.annotate(address=Lower("client__email"))
        .filter(client_list=client_list, address=payload.email.strip().lower())
        .first()
    )
    if subscription is None:
        raise ApiProblem(404, gettext("This address is not on the list."))
    Subscription.objects.filter(pk=subscription.pk).update(
        status=Subscription.Status.UNSUBSCRIBED
    )
    subscription.refresh_from_db()
    return subscription


suppressions = Router(tags=["suppressions"])


@suppressions.get("/suppressions", response=responses({200: SuppressionPage}))
def suppression_list(request: HttpRequest, params: PageQuery) -> dict[str, Any]:
    return page(request, permissions.visible(request.user, Suppression), params)


@suppressions.post("/suppressions", response=responses({201: SuppressionOut}))
def suppression_create(
    request: HttpRequest, payload: SuppressionIn
) -> tuple[int, Suppression]:
    entry = audience_services.suppression_add(
        email=payload.email, owner=person(request), source=gettext("API")
    )
    return 201, entry


@suppressions.delete("/suppressions/{id}", response=responses({204: None}))
def suppression_delete(request: HttpRequest, id: Id) -> tuple[int, None]:
    entry = get_for(request.user, Suppression, id, "delete")
    try:
        audience_services.suppression_remove(suppression=entry)
    except audience_services.SuppressionLocked as exc:
        raise ApiProblem(409, str(exc)) from None
    return 204, None
