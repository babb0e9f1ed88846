"""Create the superuser, or reset its password, without asking anything.

    DJANGO_SUPERUSER_EMAIL=root@example.com DJANGO_SUPERUSER_PASSWORD=... \
        manage.py setupsuperuser
    manage.py setupsuperuser --email root@example.com --password ...

Running it again is harmless: an existing account gets the new password and is made a
confirmed, active, unblocked superuser.
"""

from __future__ import annotations

import os

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_email
from django.db import transaction

from apps.users.models import User


class Command(BaseCommand):
    help = (
        "Create or update the superuser from --email/--password or the "
        "DJANGO_SUPERUSER_EMAIL/DJANGO_SUPERUSER_PASSWORD environment variables."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--email", help="defaults to $DJANGO_SUPERUSER_EMAIL", default=None
        )
        parser.add_argument(
            "--password",
            help="defaults to $DJANGO_SUPERUSER_PASSWORD",
            default=None,
        )
        parser.add_argument(
            "--skip-password-validation",
            action="store_true",
            help="accept a password that Django's validators refuse",
        )

    def handle(self, *args, **options):
        email = (
            options["email"] or os.environ.get("DJANGO_SUPERUSER_EMAIL", "")
        ).strip()
        password = options["password"] or os.environ.get(
            "DJANGO_SUPERUSER_PASSWORD", ""
        )
        if not email:
            raise CommandError("No e-mail: pass --email or set DJANGO_SUPERUSER_EMAIL.")
        if not password:
            raise CommandError(
                "No password: pass --password or set DJANGO_SUPERUSER_PASSWORD."
            )
        email = User.objects.normalize_email(email).lower()
        try:
            validate_email(email)
        except ValidationError as exc:
            raise CommandError(f"Invalid e-mail address: {email!r}.") from exc

        with transaction.atomic():
            existing = User.objects.filter(email__iexact=email).first()
            created = existing is None
            user = User(email=email) if existing is None else existing
            if not options["skip_password_validation"]:
                try:
                    validate_password(password, user)
                except ValidationError as exc:
                    raise CommandError(
                        "Password refused: " + " ".join(exc.messages)
                    ) from exc
            user.set_password(password)
            user.is_superuser = True
            user.is_staff = True
            user.is_active = True
            user.email_confirmed = True
            user.is_blocked, user.blocked_at = False, None
            user.save()

        verb = "Created" if created else "Updated"
        self.stdout.write(self.style.SUCCESS(f"{verb} superuser {email}."))
