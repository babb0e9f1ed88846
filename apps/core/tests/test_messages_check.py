"""``manage.py messages_check``: what makes the catalogue check fail, and what does not.

Each test writes a small catalogue with polib and compiles it with gettext's msgfmt,
as ``make messages`` does; the full check on the real catalogue runs in ``make test``.
"""

import shutil
import subprocess
from pathlib import Path

import polib
import pytest
from django.core.management import CommandError, call_command

from apps.core.management.commands import messages_check
from apps.core.management.commands.messages_check import (
    catalogue_problems,
    source_problem,
)

LONG = "A sentence long enough that gettext wraps it over two lines of the catalogue."


@pytest.fixture
def msgfmt() -> str:
    binary = shutil.which("msgfmt")
    if not binary:
        pytest.skip("gettext's msgfmt is not installed")
    return binary


def catalogue(**changes: object) -> polib.POFile:
    po = polib.POFile(wrapwidth=78)
    po.metadata = {
        "Project-Id-Version": "Mailshot",
        "POT-Creation-Date": "2026-01-01 00:00+0000",
        "Language": "ru",
        "MIME-Version": "1.0",
        "Content-Type": "text/plain; charset=UTF-8",
        "Content-Transfer-Encoding": "8bit",
        "Plural-Forms": "nplurals=2; plural=(n != 1);",
    }
    po.append(
        polib.POEntry(
            msgid="Mailing", msgstr="Рассылка", occurrences=[("a/models.py", "")]
        )
    )
    po.append(
        polib.POEntry(
            msgid="Hello, %(name)s",
            msgstr="Здравствуйте, %(name)s",
            flags=["python-format"],
            occurrences=[("a/emails.py", "")],
        )
    )
    po.append(
        polib.POEntry(
            msgid="%(count)s client",
            msgid_plural="%(count)s clients",
            msgstr_plural={0: "%(count)s клиент", 1: "%(count)s клиентов"},
            flags=["python-format"],
            occurrences=[("a/admin.py", "")],
        )
    )
    po.append(
        polib.POEntry(
            msgctxt="button", msgid="Send", msgstr="Отправить", occurrences=[]
        )
    )
    for attribute, value in changes.items():
        setattr(po[0], attribute, value)
    return po


def save(po: polib.POFile, folder: Path, msgfmt: str, compile: bool = True) -> Path:
    path = folder / "django.po"
    po.save(str(path))
    if compile:
        subprocess.run([msgfmt, "-o", str(path.with_suffix(".mo")), str(path)])  # noqa: S603
    return path


def test_a_complete_catalogue_compiled_by_msgfmt_passes(tmp_path, msgfmt):
    path = save(catalogue(), tmp_path, msgfmt)
    assert catalogue_problems(path, "django.po") == []


def test_an_untranslated_entry_fails_naming_it_and_saying_to_run_make_messages(
    tmp_path, msgfmt
):
    path = save(catalogue(msgstr=""), tmp_path, msgfmt)
    [problem] = catalogue_problems(path, "django.po")
    assert '1 untranslated, e.g. "Mailing"' in problem
    assert problem.endswith("run `make messages`.")


def test_a_fuzzy_entry_fails_even_though_it_has_a_translation(tmp_path, msgfmt):
    path = save(catalogue(flags=["fuzzy"]), tmp_path, msgfmt)
    problems = catalogue_problems(path, "django.po")
    assert any('1 fuzzy, e.g. "Mailing"' in problem for problem in problems)


def test_a_fuzzy_header_fails(tmp_path, msgfmt):
    po = catalogue()
    po.metadata_is_fuzzy = True
    path = save(po, tmp_path, msgfmt)
    [problem] = catalogue_problems(path, "django.po")
    assert "a fuzzy header" in problem


def test_a_translation_that_drops_a_placeholder_fails(tmp_path, msgfmt):
    po = catalogue()
    po[1].msgstr = "Здравствуйте"
    path = save(po, tmp_path, msgfmt, compile=False)
    problems = catalogue_problems(path, "django.po")
    assert any("msgfmt --check failed" in problem for problem in problems)


def test_a_mo_compiled_from_an_older_catalogue_is_stale(tmp_path, msgfmt):
    path = save(catalogue(), tmp_path, msgfmt)
    catalogue(msgstr="Рассылки").save(str(path))
    assert catalogue_problems(path, "locale/django.po") == [
        "locale/django.mo is stale (not compiled from django.po): run `make messages`."
    ]


def test_a_missing_mo_is_stale(tmp_path, msgfmt):
    path = save(catalogue(), tmp_path, msgfmt, compile=False)
    [problem] = catalogue_problems(path, "django.po")
    assert "django.mo is stale" in problem


def test_a_mo_compiled_by_another_tool_is_current_when_it_holds_the_same_strings(
    tmp_path, msgfmt
):
    po = catalogue()
    path = save(po, tmp_path, msgfmt, compile=False)
    po.save_as_mofile(str(path.with_suffix(".mo")))
    assert catalogue_problems(path, "django.po") == []


def test_a_new_source_string_is_named_even_when_gettext_wraps_it(tmp_path):
    catalogue().save(str(tmp_path / "ours.po"))
    fresh = catalogue()
    fresh.append(polib.POEntry(msgid=LONG, occurrences=[("a/views.py", "")]))
    fresh.save(str(tmp_path / "fresh.po"))
    assert 'msgid ""' in (tmp_path / "fresh.po").read_text()
    problem = source_problem(tmp_path / "ours.po", tmp_path / "fresh.po", "django.po")
    assert problem == (
        "django.po lacks the strings of the current sources (1 new, e.g. "
        '"A sentence long enough that gettext wraps it over two lines…"): '
        "run `make messages`."
    )


def test_a_string_the_sources_dropped_is_reported(tmp_path):
    catalogue().save(str(tmp_path / "ours.po"))
    fresh = catalogue()
    del fresh[0]
    fresh.save(str(tmp_path / "fresh.po"))
    problem = source_problem(tmp_path / "ours.po", tmp_path / "fresh.po", "django.po")
    assert '1 gone, e.g. "Mailing"' in problem


def test_a_string_that_moved_to_another_file_is_reported(tmp_path):
    catalogue().save(str(tmp_path / "ours.po"))
    catalogue(occurrences=[("b/models.py", "")]).save(str(tmp_path / "fresh.po"))
    problem = source_problem(tmp_path / "ours.po", tmp_path / "fresh.po", "django.po")
    assert "locations, comments, header or order changed" in problem


def test_a_new_creation_date_and_another_line_wrapping_change_nothing(tmp_path):
    catalogue(msgid=LONG).save(str(tmp_path / "ours.po"))
    fresh = catalogue(msgid=LONG)
    fresh.metadata["POT-Creation-Date"] = "2026-06-01 12:00+0000"
    fresh.wrapwidth = 200
    fresh.save(str(tmp_path / "fresh.po"))
    ours, new = (tmp_path / "ours.po").read_text(), (tmp_path / "fresh.po").read_text()
    assert ours.count("\n") != new.count("\n")
    assert source_problem(tmp_path / "ours.po", tmp_path / "fresh.po", "x") is None


def test_the_command_lists_each_problem_and_fails(
    tmp_path, msgfmt, settings, monkeypatch, capsys
):
    folder = tmp_path / "locale" / "ru" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    save(catalogue(msgstr=""), folder, msgfmt, compile=False)
    settings.BASE_DIR = tmp_path
    # The comparison with makemessages is tested above; it needs a whole project.
    monkeypatch.setattr(messages_check.Command, "check_sources", lambda *args: [])
    with pytest.raises(CommandError, match="run `make messages`"):
        call_command("messages_check")
    errors = capsys.readouterr().err.splitlines()
    assert errors[0].startswith("locale/ru/LC_MESSAGES/django.po: 1 untranslated")
    assert errors[1] == (
        "locale/ru/LC_MESSAGES/django.mo is stale (not compiled from django.po): "
        "run `make messages`."
    )
