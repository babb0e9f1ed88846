"""Attempts (runs) and deliveries (the per-recipient ledger): read only."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Query, Router

from apps.api.endpoints.common import get_for, responses
from apps.api.pagination import PageQuery, page
from apps.api.schemas import (
    AttemptFilter,
    AttemptOut,
    AttemptPage,
    DeliveryFilter,
    DeliveryOut,
    DeliveryPage,
    Id,
)
from apps.core import permissions
from apps.mailings.models import Attempt, Delivery

router = Router(tags=["attempts"])


@router.get("/attempts", response=responses({200: AttemptPage}))
def attempt_list(
    request: HttpRequest, params: PageQuery, filters: Query[AttemptFilter]
) -> dict[str, Any]:
    qs = permissions.visible(request.user, Attempt)
    if filters.mailing:
        qs = qs.filter(mailing_id=filters.mailing)
    if filters.status:
        qs = qs.filter(status=filters.status)
    return page(request, qs, params)


@router.get("/attempts/{id}", response=responses({200: AttemptOut}))
def attempt_detail(request: HttpRequest, id: Id) -> Attempt:
    return get_for(request.user, Attempt, id)


@router.get("/deliveries", response=responses({200: DeliveryPage}))
def delivery_list(
    request: HttpRequest, params: PageQuery, filters: Query[DeliveryFilter]
) -> dict[str, Any]:
    qs = permissions.visible(request.user, Delivery)
    if filters.attempt:
        qs = qs.filter(attempt_id=filters.attempt)
    if filters.mailing:
        qs = qs.filter(attempt__mailing_id=filters.mailing)
    if filters.outcome:
        qs = qs.filter(outcome=filters.outcome)
    return page(request, qs, params)


@router.get("/deliveries/{id}", response=responses({200: DeliveryOut}))
def delivery_detail(request: HttpRequest, id: Id) -> Delivery:
    return get_for(request.user, Delivery, id)
