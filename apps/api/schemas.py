"""Request and response bodies of the API (the OpenAPI document is built from these)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

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


# An attribute's name as {{ attr.NAME }} can use it; its value as the import keeps it.
AttrName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,49}$")]
AttrValue = Annotated[
    str, Field(max_length=255, pattern=r"^[^\x00-\x1f\x7f-\x9f\u2028\u2029]*$")
]
Attributes = Annotated[dict[AttrName, AttrValue], Field(max_length=50)]


class ClientOut(Schema):
    id: int
    email: str
    full_name: str
    comment: str
    attributes: dict[str, Any]
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
    attributes: Attributes = {}


class ClientPatch(Schema):
    email: Email | None = None
    full_name: Name | None = None
    comment: str | None = None
    # Merged into the client's attributes; an empty value removes one.
    attributes: Attributes | None = None


class ClientFilter(Schema):
    email: Text | None = None
    is_unsubscribed: bool | None = None
    # Members of one of your lists, with this subscription status (default:
    # subscribed).
    list_id: Id | None = None
    subscription: Literal["unconfirmed", "subscribed", "unsubscribed"] = "subscribed"
    # NAME=VALUE: clients whose attribute NAME is VALUE.
    attribute: (
        Annotated[
            str,
            Field(
                pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,49}=[^\x00-\x1f\x7f-\x9f\u2028\u2029]{0,255}$"
            ),
        ]
        | None
    ) = None


# Plain pydantic models for the 10,000 rows of a bulk call: ninja's Schema runs a
# validator per object (to read ORM objects), which costs more than the rows' checks.
class BulkClientIn(BaseModel):
    email: Annotated[str, Field(max_length=254)]
    # Omitted: an existing client keeps its value (a new one gets "").
    full_name: Name | None = None
    comment: str | None = None
    # Merged into an existing client's attributes.
    attributes: Attributes | None = None


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
    body_html: str
    layout_id: int | None
    language: str
    created_at: datetime
    updated_at: datetime


class MessagePage(Schema):
    items: list[MessageOut]
    next: str | None


Language = Literal["en", "ru"]


class MessageIn(Schema):
    """The text, the HTML or both (the text is made from the HTML when empty)."""

    subject: Annotated[str, Field(min_length=1, max_length=255)]
    body: str = ""
    body_html: str = ""
    # Empty: the default layout.
    layout_id: Id | None = None
    language: Language = "en"


class MessagePatch(Schema):
    subject: Annotated[str, Field(min_length=1, max_length=255)] | None = None
    body: str | None = None
    body_html: str | None = None
    layout_id: Id | None = None
    language: Language | None = None


class SenderOut(Schema):
    id: int
    from_name: str
    from_email: str
    reply_to: str
    verified_at: datetime | None
    created_at: datetime


class SenderPage(Schema):
    items: list[SenderOut]
    next: str | None


# --- mailings ---------------------------------------------------------------------

Periodicity = Literal["once", "daily", "weekly", "monthly"]
CLIENT_IDS_MAX = 1000


class MailingOut(Schema):
    id: int
    message_id: int
    to_all_clients: bool
    list_ids: list[int]
    segment_ids: list[int]
    sender_id: int | None
    start_at: datetime
    end_at: datetime
    periodicity: str
    status: str
    is_enabled: bool
    # The owner's own switch (pause/resume); is_enabled is the managers'.
    is_paused: bool
    next_run_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def resolve_list_ids(obj: Any) -> list[int]:
        return [item.pk for item in obj.lists.all()]

    @staticmethod
    def resolve_segment_ids(obj: Any) -> list[int]:
        return [item.pk for item in obj.segments.all()]


class MailingPage(Schema):
    items: list[MailingOut]
    next: str | None


ClientIds = Annotated[list[Id], Field(max_length=CLIENT_IDS_MAX)]


class MailingIn(Schema):
    """Who receives it: all your clients, lists, segments and/or some clients (at
    least one of them)."""

    message_id: Id
    # One of your verified sender identities; empty: your first verified one.
    sender_id: Id | None = None
    start_at: datetime
    end_at: datetime
    periodicity: Periodicity = "once"
    to_all_clients: bool = False
    list_ids: Annotated[list[Id], Field(max_length=100)] = []
    segment_ids: Annotated[list[Id], Field(max_length=100)] = []
    client_ids: ClientIds = []


class MailingPatch(Schema):
    message_id: Id | None = None
    sender_id: Id | None = None
    start_at: datetime | None = None
    end_at: datetime | None = None
    periodicity: Periodicity | None = None
    to_all_clients: bool | None = None
    list_ids: Annotated[list[Id], Field(max_length=100)] | None = None
    segment_ids: Annotated[list[Id], Field(max_length=100)] | None = None
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


# --- lists, subscriptions, suppressions ---------------------------------------------


class ListOut(Schema):
    id: int
    name: str
    description: str
    is_public: bool
    double_opt_in: bool
    uuid: str
    # Kept exact by the database on every subscription change (read, never written).
    subscriber_count: int
    unconfirmed_count: int
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def resolve_uuid(obj: Any) -> str:
        return str(obj.uuid)


class ListPage(Schema):
    items: list[ListOut]
    next: str | None


class ListIn(Schema):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    description: str = ""
    is_public: bool = False
    double_opt_in: bool = True


class ListPatch(Schema):
    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    description: str | None = None
    is_public: bool | None = None
    double_opt_in: bool | None = None


class SubscriptionOut(Schema):
    id: int
    client_id: int
    client_list_id: int
    email: str
    status: str
    created_at: datetime
    confirmed_at: datetime | None

    @staticmethod
    def resolve_email(obj: Any) -> str:
        return str(obj.client.email)


class SubscriptionPage(Schema):
    items: list[SubscriptionOut]
    next: str | None


class SubscriptionFilter(Schema):
    status: Literal["unconfirmed", "subscribed", "unsubscribed"] | None = None


class SubscribeIn(Schema):
    email: Email
    full_name: Name = ""
    # Unset: the list's own setting.
    double_opt_in: bool | None = None


class SubscribeOut(Schema):
    email: str
    status: Literal["subscribed", "confirmation_sent"]


class UnsubscribeIn(Schema):
    email: Email


class SuppressionOut(Schema):
    id: int
    email: str
    reason: str
    # None: site-wide (hard bounces, complaints).
    owner_id: int | None
    source: str
    created_at: datetime


class SuppressionPage(Schema):
    items: list[SuppressionOut]
    next: str | None


class SuppressionIn(Schema):
    email: Email
