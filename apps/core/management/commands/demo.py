"""Load the demo data: people, clients, messages, mailings, posts and their images.

``make run`` loads it only into an empty database (``--if-empty``), so edits to demo
records survive a restart; ``make demo`` reloads it on purpose, putting the demo
records back as they were (records added meanwhile are kept).
"""

from __future__ import annotations

import shutil
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from apps.users.models import User


def database_is_empty() -> bool:
    """Nobody registered yet: a fresh database (migrations make groups, no people)."""
    return not User.objects.exists()


class Command(BaseCommand):
    help = "Load the demo data and its images (fixtures/)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="Load nothing when the database already holds people.",
        )

    def handle(self, *args: Any, if_empty: bool, **options: Any) -> None:
        if if_empty and not database_is_empty():
            self.stdout.write(
                "The database already has data: demo data not loaded "
                "(`make demo` reloads it)."
            )
            return
        fixtures = settings.BASE_DIR / "fixtures"
        media = fixtures / "media"
        if media.is_dir():
            shutil.copytree(media, settings.MEDIA_ROOT, dirs_exist_ok=True)
        call_command(
            "loaddata", *sorted(map(str, fixtures.glob("*.json"))), verbosity=0
        )
        self.stdout.write("Demo data loaded.")
