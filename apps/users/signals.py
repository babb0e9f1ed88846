from django.db.models.signals import post_migrate


def ensure_groups(sender, using: str = "default", **kwargs) -> None:
    """Keep the three groups (and the daily clean-ups) present after migrate and flush.

    The data migration creates them on a fresh database; a flush (transactional tests,
    `manage.py flush`) empties the table and re-sends only ``post_migrate``, which
    brings content types and permissions back but not the groups.
    """
    if sender.label != "users":
        return
    create_groups(using=using)
    ensure_purge_schedule(using=using)


# Daily clean-ups: schedule name → task.
DAILY = {
    # Registrations nobody confirmed.
    "users-purge-unconfirmed": "apps.users.tasks.purge_unconfirmed_accounts",
    # Expired sessions (Django keeps them until `clearsessions` runs).
    "users-clear-sessions": "apps.users.tasks.clear_expired_sessions",
}


def ensure_purge_schedule(*, using: str = "default") -> None:
    """The daily clean-ups' schedules (idempotent)."""
    from django_q.models import Schedule

    for name, func in DAILY.items():
        Schedule.objects.using(using).update_or_create(
            name=name,
            defaults={
                "func": func,
                "args": None,
                "schedule_type": Schedule.DAILY,
                "repeats": -1,
            },
        )


def create_groups(*, using: str = "default") -> None:
    """The three groups with their permissions; safe to call again."""
    from django.apps import apps
    from django.contrib.auth.management import create_permissions
    from django.contrib.auth.models import Group, Permission

    from apps.users import roles

    for label in ("users", "mailings", "content", "blog", "audiences"):
        create_permissions(apps.get_app_config(label), verbosity=0, using=using)
    for name, dotted in roles.GROUP_PERMISSIONS.items():
        group, _ = Group.objects.using(using).get_or_create(name=name)
        for perm in dotted:
            app_label, codename = perm.split(".")
            group.permissions.add(
                Permission.objects.using(using).get(
                    content_type__app_label=app_label, codename=codename
                )
            )


def connect() -> None:
    post_migrate.connect(ensure_groups, dispatch_uid="users-ensure-groups")
