"""django-q2 tasks of the core app: thin functions that take ids."""

from __future__ import annotations

import logging

from django.apps import apps
from django.contrib.auth import get_user_model

from apps.core import deletion

logger = logging.getLogger(__name__)


def objects_delete(user_id: int, model_label: str, id_ranges: list[list[int]]) -> str:
    """Delete what a person chose in the admin and may delete (asked again here,
    chunk by chunk: the task may run after their rights changed)."""
    user = get_user_model()._default_manager.filter(pk=user_id).first()
    if user is None:
        return "nobody to delete for"
    model = apps.get_model(model_label)
    outcome = deletion.permitted_delete(
        user=user, model=model, pks=deletion.ids_from_ranges(id_ranges)
    )
    summary = (
        ", ".join(f"{m._meta.label}: {n}" for m, n in outcome.deleted.items() if n)
        or "nothing"
    )
    logger.info(
        "bulk delete for user %s: %s deleted, %s kept", user_id, summary, outcome.kept
    )
    return f"deleted {summary}; kept {outcome.kept}"
