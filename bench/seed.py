"""Fast seeding of large data sets for the benchmarks (bulk inserts and perms)."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

if TYPE_CHECKING:
    from apps.users.models import User

BATCH = 5000


def bench_user(email: str = "bench@example.com") -> User:
    from apps.users.models import User
    from apps.users.roles import USERS

    user, created = User.objects.get_or_create(
        email=email, defaults={"is_staff": True, "email_confirmed": True}
    )
    if created:
        user.set_password("bench-password-1")
        user.save()
        user.groups.add(Group.objects.get(name=USERS))
    return user


@transaction.atomic
def seed_clients(user: User, n: int) -> None:
    from apps.mailings.models import Client
    from apps.mailings.services import grant_owner_permissions

    Client.objects.filter(owner=user).delete()
    for start in range(0, n, BATCH):
        Client.objects.bulk_create(
            Client(owner=user, email=f"r{i}@example.org", full_name=f"Reader {i}")
            for i in range(start, min(n, start + BATCH))
        )
    grant_owner_permissions(owner=user, objects=Client.objects.filter(owner=user))


# The HTML message of the "send N, HTML" rows: about 10 KB once in the default layout
# with its CSS inlined, five links, and a text part made from it.
_PARAGRAPH = (
    "<p>Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod "
    "tempor incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, "
    "quis nostrud exercitation ullamco laboris.</p>"
)
HTML_BODY = "<h2>Hello {{ full_name }}</h2>" + "".join(
    _PARAGRAPH * 7
    + f'<p><a class="button" href="https://example.com/news/{i}">Story {i}</a></p>'
    for i in range(5)
)


@transaction.atomic
def seed_mailing(n: int, *, html: bool = False) -> int:
    from apps.mailings.models import Client, Mailing, Message
    from apps.mailings.services import grant_owner_permissions

    user = bench_user()
    Mailing.objects.filter(owner=user).delete()
    seed_clients(user, n)
    message = Message.objects.create(
        owner=user,
        subject="News for {{ full_name }}",
        # The same text as the other senders send (bench/workloads.py BODY).
        body=""
        if html
        else "Hello {{ full_name }},\n\nThis is the monthly news.\n"
        + "Lorem ipsum dolor sit amet. " * 20,
        body_html=HTML_BODY if html else "",
    )
    now = timezone.now()
    mailing = Mailing.objects.create(
        owner=user,
        message=message,
        start_at=now + timedelta(days=1),
        end_at=now + timedelta(days=30),
    )
    through = Mailing.clients.through
    ids = Client.objects.filter(owner=user).values_list("id", flat=True).iterator(BATCH)
    batch = []
    for client_id in ids:
        batch.append(through(mailing_id=mailing.id, client_id=client_id))
        if len(batch) >= BATCH:
            through.objects.bulk_create(batch)
            batch = []
    through.objects.bulk_create(batch)
    grant_owner_permissions(owner=user, objects=message)
    grant_owner_permissions(owner=user, objects=mailing)
    return mailing.id


@transaction.atomic
def seed_admin_scale(n: int) -> int:
    """One user with n clients, n/100 (≥ 100) mailings, n attempts and deliveries."""
    from apps.mailings.models import Attempt, Client, Delivery, Mailing, Message
    from apps.mailings.services import grant_owner_permissions

    user = bench_user(f"scale{n}@example.com")
    seed_clients(user, n)
    message = Message.objects.create(owner=user, subject="Scale", body="Hello")
    grant_owner_permissions(owner=user, objects=message)
    now = timezone.now()
    mailings = Mailing.objects.bulk_create(
        Mailing(
            owner=user,
            message=message,
            start_at=now + timedelta(days=1),
            end_at=now + timedelta(days=30),
        )
        # At least a full page (100) so both sizes render the same number of rows.
        for _ in range(max(100, n // 100))
    )
    grant_owner_permissions(owner=user, objects=Mailing.objects.filter(owner=user))
    client_ids = list(
        Client.objects.filter(owner=user).values_list("id", flat=True)[: len(mailings)]
    )
    through = Mailing.clients.through
    through.objects.bulk_create(
        through(mailing_id=m.id, client_id=c)
        for m, c in zip(mailings, client_ids, strict=False)
    )
    for start in range(0, n, BATCH):
        attempts = Attempt.objects.bulk_create(
            Attempt(
                mailing=mailings[i % len(mailings)],
                attempted_at=now - timedelta(minutes=i),
                finished_at=now - timedelta(minutes=i),
                status="success",
                server_response="250 OK",
                total_count=1,
                sent_count=1,
            )
            for i in range(start, min(n, start + BATCH))
        )
        Delivery.objects.bulk_create(
            Delivery(
                attempt=a,
                email="r@example.org",
                outcome="sent",
                server_response="250 OK",
                processed_at=a.attempted_at,
            )
            for a in attempts
        )
    grant_owner_permissions(
        owner=user, objects=Attempt.objects.filter(mailing__owner=user)
    )
    transaction.on_commit(analyze)
    return user.id


def analyze() -> None:
    """What autovacuum does in a live PostgreSQL database a little after large
    inserts: statistics for the planner (which would otherwise take 100,000-row
    tables for empty ones) and the visibility map that lets COUNT(*) read an index
    alone. Runs after the seed's transaction commits (VACUUM cannot run inside)."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
