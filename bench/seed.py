"""Fast seeding of large data sets for the benchmarks (bulk inserts and perms)."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

BATCH = 5000


def bench_user(email: str = "bench@example.com"):
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
def seed_clients(user, n: int) -> None:
    from apps.mailings.models import Client
    from apps.mailings.services import grant_owner_permissions

    Client.objects.filter(owner=user).delete()
    for start in range(0, n, BATCH):
        Client.objects.bulk_create(
            Client(owner=user, email=f"r{i}@example.org", full_name=f"Reader {i}")
            for i in range(start, min(n, start + BATCH))
        )
    grant_owner_permissions(owner=user, objects=Client.objects.filter(owner=user))


@transaction.atomic
def seed_mailing(n: int) -> int:
    from apps.mailings.models import Client, Mailing, Message
    from apps.mailings.services import grant_owner_permissions

    user = bench_user()
    Mailing.objects.filter(owner=user).delete()
    seed_clients(user, n)
    message = Message.objects.create(
        owner=user, subject="News for {{ full_name }}", body="Hello {{ full_name }}!"
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
