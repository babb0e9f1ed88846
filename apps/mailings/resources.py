"""django-import-export resources: what a client export contains (CSV, XLSX).

Imports go through ``apps.mailings.imports`` (a streamed, batched fast path); the
export's headers are the import's column names, so an exported file imports back.
"""

from typing import Any

from django.utils.text import capfirst
from import_export import fields, resources

from apps.mailings.exports import spreadsheet_safe
from apps.mailings.models import Client


class ClientResource(resources.ModelResource):
    email = fields.Field(attribute="email", column_name="email")
    full_name = fields.Field(attribute="full_name", column_name="full_name")
    comment = fields.Field(attribute="comment", column_name="comment")
    is_unsubscribed = fields.Field(
        attribute="is_unsubscribed", column_name="is_unsubscribed"
    )
    created_at = fields.Field(attribute="created_at", column_name="created_at")

    class Meta:
        model = Client
        # Never the owner, the id or the unsubscribe token: the file may be shared.
        fields = ("email", "full_name", "comment", "is_unsubscribed", "created_at")
        export_order = fields
        import_id_fields = ("email",)

    @classmethod
    def field_labels(cls) -> list[str]:
        """The export page's list of what a file holds, in the reader's language
        (the file's own headers stay ``full_name`` etc., so that it imports back)."""
        return [
            str(capfirst(getattr(Client._meta.get_field(name), "verbose_name", name)))
            for name in cls._meta.export_order
        ]

    def export_resource(
        self, instance: Client, selected_fields: Any = None, **kwargs: Any
    ) -> list[Any]:
        # Every format (CSV and XLSX) is built from these rows: escaped once here.
        row = super().export_resource(instance, selected_fields, **kwargs)
        return [spreadsheet_safe(value) for value in row]
