"""The form of the import's preview page: how the file is read (encoding and
delimiter of a CSV), where each column goes, and which list the clients join."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from unfold.widgets import UnfoldAdminSelectWidget, UnfoldAdminTextInputWidget

from apps.audiences.models import ClientList
from apps.core.validators import validate_no_newlines
from apps.mailings.import_files import (
    ATTR_PREFIX,
    COMMENT,
    EMAIL,
    FULL_NAME,
    IGNORE,
    ReadOptions,
    TableHead,
    attribute_name,
    mapping_problem,
)

ATTRIBUTE = "attribute"
TARGETS = [
    (EMAIL, _("E-mail")),
    (FULL_NAME, _("Full name")),
    (COMMENT, _("Comment")),
    (ATTRIBUTE, _("Attribute named…")),
    ("ignore", _("Ignore this column")),
]
DELIMITER_CHOICES = [
    (",", _("Comma ( , )")),
    (";", _("Semicolon ( ; )")),
    ("tab", _("Tab")),
]
ENCODING_CHOICES = [
    ("utf-8", "UTF-8"),
    ("utf-8-sig", "UTF-8 (BOM)"),
    ("cp1251", "Windows-1251"),
]


def _delimiter_key(delimiter: str) -> str:
    return "tab" if delimiter == "\t" else delimiter


def _read_as(options: ReadOptions) -> str:
    """The reading a page was drawn with: a change of it resets the columns."""
    return f"{options.encoding}|{_delimiter_key(options.delimiter)}"


def posted_reading(data: Mapping[str, Any]) -> tuple[ReadOptions | None, bool]:
    """The reading of a CSV posted by the preview page (None: not posted, or not
    one of the choices), and whether it changed since the page was drawn: then the
    columns are read afresh and the mapping posted for the old ones is dropped."""
    encoding, delimiter = data.get("encoding"), data.get("delimiter")
    if encoding not in dict(ENCODING_CHOICES) or delimiter not in dict(
        DELIMITER_CHOICES
    ):
        return None, False
    options = ReadOptions(
        encoding=str(encoding), delimiter="\t" if delimiter == "tab" else str(delimiter)
    )
    return options, _read_as(options) != data.get("read_as")


class ImportPreviewForm(forms.Form):
    """One row per column of ``head`` (``column_N``: a target, ``attr_N``: the
    attribute's name), the CSV's reading, and the list to fill: an existing one of
    the person's ``lists`` or a new one by name (or none)."""

    encoding = forms.ChoiceField(
        label=_("Encoding"), choices=ENCODING_CHOICES, widget=UnfoldAdminSelectWidget
    )
    delimiter = forms.ChoiceField(
        label=_("Delimiter"), choices=DELIMITER_CHOICES, widget=UnfoldAdminSelectWidget
    )
    read_as = forms.CharField(widget=forms.HiddenInput, required=False)
    client_list = forms.ModelChoiceField(
        label=_("Add them to the list"),
        queryset=ClientList.objects.none(),
        required=False,
        empty_label=_("— no list —"),
        widget=UnfoldAdminSelectWidget,
    )
    new_list = forms.CharField(
        label=_("or to a new list named"),
        max_length=200,
        required=False,
        validators=[validate_no_newlines],
        widget=UnfoldAdminTextInputWidget,
    )

    def __init__(
        self,
        *args: Any,
        head: TableHead,
        lists: QuerySet[ClientList],
        is_csv: bool,
        **kwargs: Any,
    ) -> None:
        options = head.options
        initial: dict[str, Any] = {
            "encoding": options.encoding,
            "delimiter": _delimiter_key(options.delimiter),
            "read_as": _read_as(options),
        }
        for index, target in enumerate(options.mapping or ()):
            if target.startswith(ATTR_PREFIX):
                initial[f"column_{index}"] = ATTRIBUTE
                initial[f"attr_{index}"] = target.removeprefix(ATTR_PREFIX)
            else:
                initial[f"column_{index}"] = target or "ignore"
                initial[f"attr_{index}"] = attribute_name(head.headers[index])
        kwargs["initial"] = {**initial, **kwargs.get("initial", {})}
        super().__init__(*args, **kwargs)
        self.head = head
        self.is_csv = is_csv
        if not is_csv:
            del self.fields["encoding"], self.fields["delimiter"]
        self.fields["client_list"].queryset = lists  # type: ignore[attr-defined]
        for index, header in enumerate(head.headers):
            self.fields[f"column_{index}"] = forms.ChoiceField(
                label=header or gettext("Column %(number)d") % {"number": index + 1},
                choices=TARGETS,
                widget=UnfoldAdminSelectWidget,
            )
            self.fields[f"attr_{index}"] = forms.CharField(
                label=gettext("Attribute name"),
                max_length=50,
                required=False,
                widget=UnfoldAdminTextInputWidget,
            )

    def columns(self) -> list[dict[str, Any]]:
        """The template's rows: header, examples, and the two fields of a column."""
        return [
            {
                "header": header,
                "examples": [row[index] for row in self.head.rows[:3]],
                "target": self[f"column_{index}"],
                "attribute": self[f"attr_{index}"],
            }
            for index, header in enumerate(self.head.headers)
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or self.cleaned_data
        mapping = []
        for index in range(len(self.head.headers)):
            target = data.get(f"column_{index}")
            if target == ATTRIBUTE:
                name = (data.get(f"attr_{index}") or "").strip()
                mapping.append(ATTR_PREFIX + name)
            elif target in (EMAIL, FULL_NAME, COMMENT):
                mapping.append(target)
            else:
                mapping.append(IGNORE)
        if problem := mapping_problem(mapping):
            raise ValidationError(problem)
        if data.get("client_list") and (data.get("new_list") or "").strip():
            raise ValidationError(
                gettext("Choose an existing list or name a new one, not both.")
            )
        data["mapping"] = tuple(mapping)
        return data

    def options(self) -> ReadOptions:
        """The reading and mapping of a valid form."""
        return ReadOptions(
            encoding=self.head.options.encoding,
            delimiter=self.head.options.delimiter,
            mapping=self.cleaned_data["mapping"],
        )
