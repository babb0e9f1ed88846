"""Fixtures of content tests: a clean cache (rate limits are kept there), sender
identities and a way to post with the queued mail sent."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from apps.content.models import SenderIdentity
from apps.core import permissions


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def make_identity(db):
    """make_identity(owner, address, verified=True, age_days=0, **fields)."""

    def _make(owner, address, *, verified=True, age_days=0, **fields) -> SenderIdentity:
        fields.setdefault("from_name", "Alice's Shop")
        identity = SenderIdentity.objects.create(
            owner=owner,
            from_email=address,
            verified_at=timezone.now() if verified else None,
            **fields,
        )
        if age_days:
            SenderIdentity.objects.filter(pk=identity.pk).update(
                created_at=timezone.now() - timedelta(days=age_days)
            )
            identity.refresh_from_db()
        permissions.owner_permissions_grant(owner=owner, objects=identity)
        return identity

    return _make


@pytest.fixture
def committing(django_capture_on_commit_callbacks):
    """committing(callable, *args, **kwargs) -> its result, with on-commit callbacks
    (the queued mail) run as they are once the request's transaction commits."""

    def _run(func, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return func(*args, **kwargs)

    return _run
