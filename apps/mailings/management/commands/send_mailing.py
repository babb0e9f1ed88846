"""send_mailing ID: send a mailing now (or resume its unfinished run), with progress."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from tqdm import tqdm

from apps.mailings import sending


class Command(BaseCommand):
    help = _(
        "Send a mailing now, or resume its interrupted run. Exits non-zero when the "
        "run failed."
    )

    def add_arguments(self, parser):
        parser.add_argument("mailing_id", type=int, help=_("the mailing's id"))
        parser.add_argument(
            "--no-progress", action="store_true", help=_("do not show a progress bar")
        )

    def handle(self, *args, mailing_id: int, no_progress: bool, **options):
        bars: list[tqdm] = []

        def progress_factory(attempt):
            bar = tqdm(
                total=attempt.total_count,
                initial=attempt.total_count
                - attempt.deliveries.filter(outcome__in=["pending", "claimed"]).count(),
                unit=_("recipient"),
                file=self.stderr._out,
                disable=no_progress,
                desc=_("Mailing #%(id)s") % {"id": mailing_id},
            )
            bars.append(bar)
            return lambda outcome: bar.update(1)

        try:
            result = sending.run_mailing_now(
                mailing_id, progress_factory=progress_factory
            )
        except sending.CannotRun as exc:
            raise CommandError(str(exc)) from exc
        finally:
            for bar in bars:
                bar.close()
        if not result.ok:
            raise CommandError(result.summary())
        self.stdout.write(result.summary())
