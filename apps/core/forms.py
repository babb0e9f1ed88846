"""Form pieces shared by the apps."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.datastructures import MultiValueDict

from apps.core.validators import parse_id


def _integer_key(field: forms.ModelChoiceField) -> bool:
    if field.queryset is None:
        return False
    model = field.queryset.model
    key = model._meta.get_field(field.to_field_name) if field.to_field_name else None
    return isinstance(key or model._meta.pk, models.AutoField | models.IntegerField)


class IdChoicesGuardMixin(forms.BaseForm):
    """Choices posted for a model-choice field that cannot be ids never reach a query.

    Django checks "abc" itself, but 30 digits overflow SQLite while the choice is
    validated, and the admin's autocomplete widget looks up whatever was posted when
    it draws the form again (``ValueError``: a 500 instead of the form with its
    error). Such values are taken out of the form's data before either happens, and
    the field reports them as an invalid choice.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._not_ids: list[str] = []
        if not self.is_bound:
            return
        # Bound data is a QueryDict (a request) or a dict (tests, code); the stubs say
        # Mapping, which has no copy().
        data = cast("MultiValueDict[str, Any] | dict[str, Any]", self.data).copy()
        for name, field in self.fields.items():
            if not isinstance(field, forms.ModelChoiceField) or not _integer_key(field):
                continue
            key = self.add_prefix(name)
            if isinstance(data, MultiValueDict):
                values = data.getlist(key)
            else:
                raw = data.get(key)
                values = list(raw) if isinstance(raw, list | tuple) else [raw]
            kept = [v for v in values if v in (None, "") or parse_id(v) is not None]
            if len(kept) == len(values):
                continue
            self._not_ids.append(name)
            if isinstance(data, MultiValueDict):
                data.setlist(key, kept)
            else:
                data[key] = (
                    kept if isinstance(field, forms.ModelMultipleChoiceField) else ""
                )
        self.data = data

    # The hook between the fields' and the form's cleaning, private to Django and
    # absent from its stubs.
    def _clean_fields(self) -> None:
        super()._clean_fields()  # type: ignore[misc]
        for name in self._not_ids:
            # One error, not also "required" for a field left empty by the removal.
            # (``errors`` is the dict being filled: cleaning has already begun.)
            self.errors.pop(name, None)
            message = forms.ModelChoiceField.default_error_messages["invalid_choice"]
            self.add_error(name, ValidationError(message, code="invalid_choice"))
