"""``manage.py flush_tracking``: write the buffered opens and clicks now."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from apps.deliverability import tracking


class Command(BaseCommand):
    help = "Write the opens and clicks waiting in the tracking buffer now."

    def handle(self, *args: Any, **options: Any) -> None:
        written = tracking.flush()
        self.stdout.write(f"{written} opens and clicks written")
