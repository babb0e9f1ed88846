from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _


def validate_no_newlines(value: str) -> None:
    """Refuse CR/LF: these values end up in mail headers (no header injection)."""
    if value and ("\r" in value or "\n" in value):
        raise ValidationError(_("Line breaks are not allowed here."), code="newline")
