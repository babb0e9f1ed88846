"""Request and response bodies of the API (the OpenAPI document is built from these)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from ninja import Schema
from pydantic import BaseModel, Field

from apps.api.pagination import CURSOR_PATTERN, MAX_ID

Id = Annotated[int, Field(ge=1, le=MAX_ID)]
# Query strings: no control characters (the site refuses them before any view).
Text = Annotated[
    str, Field(max_length=254, pattern=r"^[^\x00-\x1f\x7f-\x9f\u2028\u2029]*$")
]
Email = Annotated[str, Field(min_length=1, max_length=254)]
Name = Annotated[str, Field(max_length=255)]
BULK_MAX = 10_000

__all__ = ["CURSOR_PATTERN"]


# --- clients ----------------------------------------------------------------------


class ClientOut(Schema):
    id: int
    email: str
    full_name: str
    comment: str
    is_unsubscribed: bool
    unsubscribed_at: datetime | None
    created_at: datetime
    updated_at: datetime


class ClientPage(Schema):
    items: list[ClientOut]
    next: str | None


class ClientIn(Schema):
    email: Email
    full_name: Name = ""
    comment: str = ""


class ClientPatch(Schema):
    email: Email | None = None
    full_name: Name | None = None
    comment: str | None = None


class ClientFilter(Schema):
    email: Text | None = None
    is_unsubscribed: bool | None = None


# Plain pydantic models for the 10,000 rows of a bulk call: ninja's Schema runs a
# validator per object (to read ORM objects), which costs more than the rows' checks.
class BulkClientIn(BaseModel):
    email: Annotated[str, Field(max_length=254)]
    # Omitted: an existing client keeps its value (a new one gets "").
    full_name: Name | None = None
    comment: str | None = None


class BulkClientsIn(Schema):
    clients: Annotated[list[BulkClientIn], Field(min_length=1, max_length=BULK_MAX)]


class BulkRow(BaseModel):
    index: int
    email: str
    status: Literal["created", "updated", "unchanged", "duplicate", "invalid"]
    id: int | None = None
    errors: list[dict[str, str]] = []


class BulkReport(Schema):
    created: int
    updated: int
    unchanged: int
    duplicates: int
    invalid: int
    rows: list[BulkRow]


# --- messages ---------------------------------------------------------------------


class MessageOut(Schema):
    id: int
    subject: str
    body: str
    created_at: datetime
    updated_at: datetime


class MessagePage(Schema):
    items: list[MessageOut]
    next: str | None


class MessageIn(Schema):
    subject: Annotated[str, Field(min_length=1, max_length=255)]
    body: Annotated[str, Field(min_length=1)]


class MessagePatch(Schema):
    subject: Annotated[str, Field(min_length=1, max_length=255)] | None = None
    body: Annotated[str, Field(min_length=1)] | None = None


# --- mailings ---------------------------------------------------------------------

Periodicity = Literal["once", "daily", "weekly", "monthly"]
CLIENT_IDS_MAX = 1000


class MailingOut(Schema):
    id: int
    message_id: int
    start_at: datetime
    end_at: datetime
    periodicity: str
    status: str
    is_enabled: bool
    next_run_at: datetime | None
    created_at: datetime
    updated_at: datetime


class MailingPage(Schema):
    items: list[MailingOut]
    next: str | None


ClientIds = Annotated[list[Id], Field(max_length=CLIENT_IDS_MAX)]


class MailingIn(Schema):
    message_id: Id
    start_at: datetime
    end_at: datetime
    periodicity: Periodicity = "once"
    client_ids: ClientIds = []


class MailingPatch(Schema):
    message_id: Id | None = None
    start_at: datetime | None = None
    end_at: datetime | None = None
    periodicity: Periodicity | None = None
    # Replaces the individual picks; or add and remove some.
    client_ids: ClientIds | None = None
    add_client_ids: ClientIds = []
    remove_client_ids: ClientIds = []


class MailingFilter(Schema):
    status: Literal["created", "running", "finished"] | None = None


class Queued(Schema):
    detail: str


class MailingReport(Schema):
    mailing_id: int
    status: str
    attempts: int
    recipients: int
    sent: int
    failed: int
    skipped: int
    last_attempt_at: datetime | None


# --- attempts and deliveries ------------------------------------------------------


class AttemptOut(Schema):
    id: int
    mailing_id: int
    attempted_at: datetime
    finished_at: datetime | None
    status: str
    server_response: str
    total_count: int
    sent_count: int
    failed_count: int
    skipped_count: int


class AttemptPage(Schema):
    items: list[AttemptOut]
    next: str | None


class AttemptFilter(Schema):
    mailing: Id | None = None
    status: Literal["success", "partial", "failure"] | None = None


class DeliveryOut(Schema):
    id: int
    attempt_id: int
    client_id: int | None
    email: str
    outcome: str
    server_response: str
    processed_at: datetime | None


class DeliveryPage(Schema):
    items: list[DeliveryOut]
    next: str | None


class DeliveryFilter(Schema):
    attempt: Id | None = None
    mailing: Id | None = None
    outcome: Literal["pending", "claimed", "sent", "failed", "skipped"] | None = None
