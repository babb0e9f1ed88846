"""Fail when the translations are not complete and up to date (``make messages-check``).

Checked, for each language in ``locale/``:

* ``makemessages`` would change nothing: the sources hold no string the catalogue lacks
  (nor the catalogue one the sources dropped), and ``apps/core/vendor_strings.py`` is
  current. This runs on a copy of the project, so the work tree is never touched.
* ``msgfmt --check`` passes and reports only translated messages: no untranslated or
  fuzzy entry.
* the committed ``django.mo`` is the compiled ``django.po``, byte for byte (msgfmt's
  output is deterministic).

Each problem is printed on one line, ending with what to run: ``make messages``.
"""

import filecmp
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from .vendor_strings import OUTPUT as VENDOR_STRINGS

# As `make messages` runs it: file names without line numbers, so that editing a source
# file does not make the catalogue stale unless its strings change.
IGNORED = [".venv", "var", "node_modules"]
COPY_IGNORE = shutil.ignore_patterns(
    ".git", ".venv", "var", "node_modules", "__pycache__", "*.pyc", ".pytest_cache",
    ".ruff_cache", "artifacts", "media", "*.mo",
)  # fmt: skip
STATISTICS = re.compile(r"^\d+ translated messages?\.$")


def msgfmt(*args: str) -> subprocess.CompletedProcess:
    binary = shutil.which("msgfmt")
    if not binary:
        raise CommandError(
            "msgfmt not found: install gettext (apt-get install gettext)."
        )
    return subprocess.run(  # noqa: S603 - fixed arguments
        [binary, *args], capture_output=True, text=True, check=False
    )


def without_creation_date(path: Path) -> list[str]:
    return [
        line
        for line in path.read_text(encoding="utf-8").splitlines()
        if not line.startswith('"POT-Creation-Date:')
    ]


def summarize(old: list[str], new: list[str]) -> str:
    """The msgids that makemessages would add or remove, for the failure message."""
    ids = lambda lines: {line for line in lines if line.startswith("msgid ")}  # noqa: E731
    added, removed = ids(new) - ids(old), ids(old) - ids(new)
    parts = []
    if added:
        parts.append(f"{len(added)} new, e.g. {sorted(added)[0][6:]}")
    if removed:
        parts.append(f"{len(removed)} gone, e.g. {sorted(removed)[0][6:]}")
    return "; ".join(parts) or "locations or order changed"


class Command(BaseCommand):
    help = "Fail when a translation is missing, fuzzy, stale or not compiled."

    def handle(self, *args, **options):
        base = Path(settings.BASE_DIR)
        catalogues = sorted((base / "locale").glob("*/LC_MESSAGES/*.po"))
        if not catalogues:
            raise CommandError("No catalogue in locale/: run `make messages`.")
        problems = self.check_sources(base, catalogues)
        for po in catalogues:
            problems += self.check_catalogue(base, po)
        if problems:
            for problem in problems:
                self.stderr.write(problem)
            raise CommandError(
                "Translations are not up to date: run `make messages`, translate what "
                "it reports, and commit locale/.",
                returncode=1,
            )
        self.stdout.write(f"Translations complete: {len(catalogues)} catalogue(s).")

    def check_sources(self, base: Path, catalogues: list[Path]) -> list[str]:
        """Run the generator and makemessages on a copy; compare with ours."""
        problems = []
        languages = sorted({po.parents[1].name for po in catalogues})
        with tempfile.TemporaryDirectory() as tmp:
            copy = Path(tmp) / "project"
            shutil.copytree(base, copy, ignore=COPY_IGNORE, symlinks=True)
            env = {**os.environ, "DJANGO_DEBUG": "1", "MAILSHOT_VAR_DIR": f"{tmp}/var"}
            manage = [sys.executable, "manage.py"]
            commands = [
                [*manage, "vendor_strings"],
                [*manage, "makemessages", "--no-obsolete", "--add-location=file", "-v0"]
                + [f"--locale={lang}" for lang in languages]
                + [f"--ignore={name}" for name in IGNORED],
            ]
            if any(po.name == "djangojs.po" for po in catalogues):
                commands.append([*commands[1], "--domain=djangojs"])
            for command in commands:
                result = subprocess.run(  # noqa: S603 - our own manage.py
                    command, cwd=copy, env=env, capture_output=True, text=True
                )
                if result.returncode:
                    raise CommandError(
                        f"{' '.join(command[1:3])} failed: {result.stderr.strip()}"
                    )
            vendor = copy / VENDOR_STRINGS.relative_to(base)
            if not filecmp.cmp(vendor, VENDOR_STRINGS, shallow=False):
                problems.append(
                    f"{VENDOR_STRINGS.relative_to(base)} is out of date (libraries "
                    "changed): run `make messages`."
                )
            for po in catalogues:
                fresh = copy / po.relative_to(base)
                old, new = without_creation_date(po), without_creation_date(fresh)
                if old != new:
                    problems.append(
                        f"{po.relative_to(base)} lacks the strings of the current "
                        f"sources ({summarize(old, new)}): run `make messages`."
                    )
        return problems

    def check_catalogue(self, base: Path, po: Path) -> list[str]:
        problems = []
        name = po.relative_to(base)
        result = msgfmt("--check", "--statistics", "-o", os.devnull, str(po))
        report = [line for line in result.stderr.splitlines() if "warning:" not in line]
        statistics = report[-1].strip() if report else ""
        if result.returncode or not STATISTICS.match(statistics):
            problems.append(
                f"{name}: {' '.join(line.strip() for line in report)} — translate "
                "the untranslated and fuzzy entries, then run `make messages`."
            )
        mo = po.with_suffix(".mo")
        with tempfile.TemporaryDirectory() as tmp:
            compiled = Path(tmp) / "django.mo"
            msgfmt("-o", str(compiled), str(po))
            if not mo.exists() or mo.read_bytes() != compiled.read_bytes():
                problems.append(
                    f"{mo.relative_to(base)} is stale (not compiled from {po.name}): "
                    "run `make messages`."
                )
        return problems
