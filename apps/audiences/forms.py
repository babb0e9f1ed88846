"""Admin forms of audiences: rows of key/value attributes, rows of segment rules,
the list chosen by a bulk action, a suppression file."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from django import forms
from django.core.exceptions import ValidationError
from django.forms.utils import flatatt
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext_lazy as _
from unfold.widgets import UnfoldAdminSelectWidget, UnfoldAdminTextInputWidget

from apps.audiences.models import ClientList, Segment
from apps.audiences.segments import ATTRIBUTE_NAME_RE, CONDITIONS, clean_rules

if TYPE_CHECKING:
    from django.utils.functional import _StrOrPromise

    from apps.users.models import User

MAX_ROWS = 50
MAX_ATTRIBUTES = 50
MAX_ATTRIBUTE_VALUE = 255


class RowsWidget(forms.Widget):
    """Rows of small inputs (one per column) that a person fills in like a table;
    two empty rows are always offered. The value is a list of dicts."""

    blank_rows = 2

    def __init__(
        self,
        columns: Sequence[tuple[str, _StrOrPromise, forms.Widget]],
        attrs: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(attrs)
        self.columns = list(columns)

    def render(
        self,
        name: str,
        value: Any,
        attrs: dict[str, Any] | None = None,
        renderer: Any = None,
    ) -> SafeString:
        rows = [r for r in (value or []) if isinstance(r, Mapping)]
        rows += [{}] * self.blank_rows
        head = format_html_join(
            "",
            '<th class="font-semibold pb-2 pr-3 text-left">{}</th>',
            ((label,) for _key, label, _widget in self.columns),
        )
        body = []
        for index, row in enumerate(rows):
            cells = format_html_join(
                "",
                '<td class="pb-2 pr-3">{}</td>',
                (
                    (
                        widget.render(
                            f"{name}-{index}-{key}",
                            row.get(key, ""),
                            {"id": f"id_{name}_{index}_{key}", "aria-label": label},
                        ),
                    )
                    for key, label, widget in self.columns
                ),
            )
            body.append(format_html("<tr>{}</tr>", cells))
        count = format_html(
            '<input type="hidden" name="{}-rows" value="{}">', name, len(rows)
        )
        final_attrs = self.build_attrs(self.attrs, attrs)
        return format_html(
            "<table{}><thead><tr>{}</tr></thead><tbody>{}</tbody></table>{}",
            flatatt({k: v for k, v in final_attrs.items() if k != "id"}),
            head,
            mark_safe("".join(body)),  # noqa: S308 (each row escaped by format_html)
            count,
        )

    def value_from_datadict(
        self, data: Mapping[str, Any], files: Any, name: str
    ) -> list[dict[str, str]]:
        try:
            count = min(int(data.get(f"{name}-rows", 0)), MAX_ROWS)
        except (TypeError, ValueError):
            count = 0
        rows = []
        for index in range(count):
            row = {
                key: str(data.get(f"{name}-{index}-{key}", "") or "").strip()
                for key, _label, _widget in self.columns
            }
            if any(row.values()):
                rows.append(row)
        return rows

    def value_omitted_from_data(
        self, data: Mapping[str, Any], files: Any, name: str
    ) -> bool:
        return f"{name}-rows" not in data


def _text(size: int = 20) -> forms.Widget:
    return UnfoldAdminTextInputWidget(attrs={"size": size})


class AttributesField(forms.Field):
    """A client's attributes as key/value rows; cleaned to a dict of text."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault(
            "widget",
            RowsWidget([("key", _("name"), _text()), ("value", _("value"), _text(40))]),
        )
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, Mapping):
            return [
                {"key": k, "value": "" if v is None else str(v)}
                for k, v in value.items()
            ]
        return value

    def to_python(self, value: Any) -> dict[str, str]:
        if isinstance(value, Mapping):
            return dict(value)
        result: dict[str, str] = {}
        errors: list[ValidationError] = []
        for row in value or []:
            key, text = row.get("key", ""), row.get("value", "")
            if not key:
                errors.append(ValidationError(_("Give every value a name.")))
            elif not ATTRIBUTE_NAME_RE.match(key):
                errors.append(
                    ValidationError(
                        _("“%(name)s”: use letters, digits, spaces, “_” or “-”.")
                        % {"name": key[:40]}
                    )
                )
            elif key in result:
                errors.append(
                    ValidationError(_("“%(name)s” is given twice.") % {"name": key})
                )
            elif len(text) > MAX_ATTRIBUTE_VALUE:
                errors.append(
                    ValidationError(
                        _("“%(name)s” is longer than %(count)d characters.")
                        % {"name": key, "count": MAX_ATTRIBUTE_VALUE}
                    )
                )
            else:
                result[key] = text
        if len(result) > MAX_ATTRIBUTES:
            errors.append(
                ValidationError(
                    _("A client has at most %(count)d attributes.")
                    % {"count": MAX_ATTRIBUTES}
                )
            )
        if errors:
            raise ValidationError(errors)
        return result


def condition_choices() -> list[tuple[str, Any]]:
    return [("", "—"), *((name, c.label) for name, c in CONDITIONS.items())]


class RulesWidget(RowsWidget):
    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(
            [
                (
                    "condition",
                    _("condition"),
                    UnfoldAdminSelectWidget(choices=condition_choices()),
                ),
                ("field", _("attribute"), _text()),
                ("value", _("value"), _text(30)),
            ],
            attrs,
        )


class SegmentForm(forms.ModelForm):
    """A segment with its rules as rows; checked for the owner (their lists)."""

    rules = forms.Field(
        label=_("rules"),
        required=False,
        widget=RulesWidget(attrs={"data-segment-rules": ""}),
        help_text=_(
            "A client is in the segment when every row holds. Lists: the list’s "
            "name or number; attributes: their name in the middle column; dates "
            "as YYYY-MM-DD. No rows: all your clients."
        ),
    )

    class Meta:
        model = Segment
        fields = ["name", "rules"]

    def __init__(self, *args: Any, owner: User | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.owner = owner
        if owner is not None and not self.instance.owner_id:
            self.instance.owner = owner

    def clean_rules(self) -> list[dict[str, str]]:
        rows = self.cleaned_data.get("rules") or []
        owner = self.owner or self.instance.owner
        rows = [list_name_to_id(row, owner) for row in rows]
        return clean_rules(rows, owner=owner)


def list_name_to_id(row: dict[str, str], owner: User) -> dict[str, str]:
    """A list named in a rule row by its name becomes its number."""
    if row.get("condition") in ("in_list", "not_in_list"):
        value = row.get("value", "")
        if value and not value.isdigit():
            found = (
                ClientList.objects.filter(owner=owner, name__iexact=value)
                .values_list("pk", flat=True)
                .first()
            )
            if found is not None:
                return {**row, "value": str(found)}
    return row


class ChooseListForm(forms.Form):
    """The list a bulk action adds clients to (or removes them from)."""

    client_list = forms.ModelChoiceField(
        label=_("list"),
        queryset=ClientList.objects.none(),
        widget=UnfoldAdminSelectWidget,
        empty_label=None,
    )

    def __init__(self, *args: Any, lists: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["client_list"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = lists


class SuppressionFileForm(forms.Form):
    file = forms.FileField(
        label=_("file"),
        help_text=_(
            "One e-mail per line, or a CSV file with an “email” column "
            "(UTF-8 or Windows-1251). At most 5 MB."
        ),
    )

    MAX_BYTES = 5 * 1024 * 1024

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > self.MAX_BYTES:
            raise ValidationError(_("The file is larger than 5 MB."))
        return upload
