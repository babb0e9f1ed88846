"""send_due_mailings: one scheduler tick, safe from cron beside or without qcluster."""

from __future__ import annotations

from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from apps.mailings import sending


class Command(BaseCommand):
    help = _(
        "Start every due mailing and resume runs whose worker stopped (one scheduler "
        "tick). Safe to run from cron, also beside qcluster."
    )

    def handle(self, *args, **options):
        result = sending.tick()
        self.stdout.write(result.summary())
