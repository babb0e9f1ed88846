"""django-import-export resources: what a client export contains (CSV, XLSX).

Imports go through ``apps.mailings.imports`` (a streamed, batched fast path); the
export's headers are the import's column names, so an exported file imports back.
"""

from import_export import fields, resources

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
