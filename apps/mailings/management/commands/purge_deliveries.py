from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from apps.mailings.models import Delivery
from apps.mailings.retention import deliveries_purge, old_attempts


class Command(BaseCommand):
    help = (
        "Delete per-recipient delivery rows of runs finished more than N days ago; "
        "attempts keep their summary (counts and server reply)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than",
            type=int,
            required=True,
            metavar="DAYS",
            help="runs finished more than this many days ago",
        )
        parser.add_argument(
            "--attempts",
            action="store_true",
            help="delete those attempts as well, summaries included",
        )
        parser.add_argument("--dry-run", action="store_true", help="only count")

    def handle(self, *args, older_than, attempts, dry_run, **options):
        if older_than < 1:
            raise CommandError("--older-than must be at least 1 day.")
        old = old_attempts(older_than_days=older_than)
        total = Delivery.objects.filter(attempt__in=old).count()
        if dry_run:
            self.stdout.write(
                f"Would delete {total} deliveries of {old.count()} attempts."
            )
            return
        with tqdm(
            total=total,
            unit="row",
            disable=options["verbosity"] < 1 or not total,
            file=self.stderr._out,
        ) as bar:
            deleted, attempts_deleted = deliveries_purge(
                older_than_days=older_than, with_attempts=attempts, progress=bar.update
            )
        self.stdout.write(
            f"Deleted {deleted} deliveries and {attempts_deleted} attempts "
            f"finished more than {older_than} days ago."
        )
