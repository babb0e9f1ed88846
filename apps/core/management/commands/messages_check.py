"""Fail when the translations are not complete and up to date (``make messages-check``).

Checked, for each language in ``locale/``:

* ``makemessages`` would change nothing: the sources hold no string the catalogue lacks
  (nor the catalogue one the sources dropped), and ``apps/core/vendor_strings.py`` is
  current. This runs on a copy of the project, so the work tree is never touched.
* no entry is untranslated or fuzzy, and ``msgfmt --check`` accepts the catalogue (a
  translation that drops a ``%(name)s`` placeholder would fail at run time).
* the committed ``django.mo`` holds exactly the translations of ``django.po``.

Catalogues are read with polib, so entries are compared by their content: how a file
wraps its lines, and which gettext version compiled the ``.mo``, make no difference.
Each problem is printed on one line, ending with what to run: ``make messages``.
"""

import filecmp
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import polib
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from .vendor_strings import OUTPUT as VENDOR_STRINGS

# As `make messages` runs it: file names without line numbers, so that editing a source
# file does not make the catalogue stale unless its strings change.
IGNORED = [".venv", "var", "node_modules"]
COPY_IGNORE = shutil.ignore_patterns(
    ".git", ".venv", "var", "node_modules", "__pycache__", "*.pyc", ".pytest_cache",
    ".ruff_cache", ".mypy_cache", "artifacts", "media", "*.mo",
)  # fmt: skip
# makemessages stamps each run with the time, and msgfmt leaves it out of the .mo: not
# a change of the catalogue.
VOLATILE_METADATA = {"POT-Creation-Date"}
RUN = "run `make messages`."

# (msgctxt, msgid, msgid_plural): what gettext looks a translation up by.
Key = tuple[str, str, str]


def key(entry: polib.POEntry | polib.MOEntry) -> Key:
    return (entry.msgctxt or "", entry.msgid, entry.msgid_plural or "")


def quoted(entries: list[Key]) -> str:
    """The first msgid of a list, short enough for a one-line report."""
    msgid = min(entries)[1].replace("\n", "\\n")
    return f'"{msgid[:60].rstrip()}…"' if len(msgid) > 60 else f'"{msgid}"'


def msgfmt(*args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("msgfmt")
    if not binary:
        raise CommandError(
            "msgfmt not found: install gettext (apt-get install gettext)."
        )
    return subprocess.run(  # noqa: S603 - fixed arguments
        [binary, *args], capture_output=True, text=True, check=False
    )


def header(catalogue: polib.POFile | polib.MOFile) -> dict[str, str]:
    return {
        name: value
        for name, value in catalogue.metadata.items()
        if name not in VOLATILE_METADATA
    }


def content(po: polib.POFile) -> tuple[list[str], dict[str, str]]:
    """Every entry as polib writes it, and the header: all makemessages may change."""
    return [str(entry) for entry in po], header(po)


def source_problem(ours: Path, fresh: Path, name: str) -> str | None:
    """What makemessages changed from our catalogue to the fresh one, if anything."""
    old, new = polib.pofile(str(ours)), polib.pofile(str(fresh))
    if content(old) == content(new):
        return None
    old_keys = {key(entry) for entry in old}
    new_keys = {key(entry) for entry in new}
    added, removed = sorted(new_keys - old_keys), sorted(old_keys - new_keys)
    parts = []
    if added:
        parts.append(f"{len(added)} new, e.g. {quoted(added)}")
    if removed:
        parts.append(f"{len(removed)} gone, e.g. {quoted(removed)}")
    summary = "; ".join(parts) or "locations, comments, header or order changed"
    return f"{name} lacks the strings of the current sources ({summary}): {RUN}"


def translations(catalogue: polib.POFile | polib.MOFile) -> dict[Any, Any]:
    """What a compiled catalogue holds: the header and each translated entry."""
    found: dict[Any, Any] = {"": header(catalogue)}
    for entry in catalogue.translated_entries():
        found[key(entry)] = (entry.msgstr, sorted(entry.msgstr_plural.items()))
    return found


def catalogue_problems(po_path: Path, name: str) -> list[str]:
    """Untranslated, fuzzy or malformed entries of one catalogue, and a stale .mo."""
    try:
        po = polib.pofile(str(po_path))
    except OSError as error:
        return [f"{name} cannot be read ({error}): fix it, then {RUN}"]
    problems = []
    untranslated = [key(entry) for entry in po.untranslated_entries()]
    fuzzy = [key(entry) for entry in po.fuzzy_entries()]
    counts = []
    if untranslated:
        counts.append(f"{len(untranslated)} untranslated, e.g. {quoted(untranslated)}")
    if po.metadata_is_fuzzy:
        counts.append("a fuzzy header")
    if fuzzy:
        counts.append(f"{len(fuzzy)} fuzzy, e.g. {quoted(fuzzy)}")
    if counts:
        problems.append(
            f"{name}: {'; '.join(counts)} — translate them, drop the fuzzy flags, "
            f"then {RUN}"
        )
    result = msgfmt("--check", "-o", os.devnull, str(po_path))
    if result.returncode:
        errors = " ".join(line.strip() for line in result.stderr.splitlines())
        problems.append(f"{name}: msgfmt --check failed: {errors} — fix it, then {RUN}")
    mo_path = po_path.with_suffix(".mo")
    mo_name = str(Path(name).with_suffix(".mo"))
    # polib reads a path that does not exist as the file's content: look first.
    try:
        current = mo_path.is_file() and (
            translations(polib.mofile(str(mo_path))) == translations(po)
        )
    except OSError:
        current = False  # not a .mo file at all
    if not current:
        problems.append(f"{mo_name} is stale (not compiled from {po_path.name}): {RUN}")
    return problems


class Command(BaseCommand):
    help = "Fail when a translation is missing, fuzzy, stale or not compiled."

    def handle(self, *args: Any, **options: Any) -> None:
        base = Path(settings.BASE_DIR)
        catalogues = sorted((base / "locale").glob("*/LC_MESSAGES/*.po"))
        if not catalogues:
            raise CommandError(f"No catalogue in locale/: {RUN}")
        problems = self.check_sources(base, catalogues)
        for po in catalogues:
            problems += catalogue_problems(po, str(po.relative_to(base)))
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
                    f"changed): {RUN}"
                )
            for po in catalogues:
                problem = source_problem(
                    po, copy / po.relative_to(base), str(po.relative_to(base))
                )
                if problem:
                    problems.append(problem)
        return problems
