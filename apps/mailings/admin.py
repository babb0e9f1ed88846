from django import forms
from django.contrib import admin

from apps.core.admin import OwnedModelAdmin
from apps.mailings import selectors
from apps.mailings.admin_sending import MailingSendingMixin
from apps.mailings.models import Client, Mailing, Message


@admin.register(Client)
class ClientAdmin(OwnedModelAdmin):
    list_display = ["email", "full_name", "is_unsubscribed", "created_at"]
    search_fields = ["email", "full_name"]
    list_filter = ["is_unsubscribed"]
    fields = ["email", "full_name", "comment", "is_unsubscribed"]
    list_per_page = 50
    show_full_result_count = False

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        if obj is None:
            # Model validation (unique e-mail per owner) needs the owner before save.
            owner = request.user

            class OwnedForm(form):
                def _post_clean(self):
                    self.instance.owner = owner
                    super()._post_clean()

            return OwnedForm
        return form


@admin.register(Message)
class MessageAdmin(OwnedModelAdmin):
    list_display = ["subject", "created_at"]
    search_fields = ["subject"]
    fields = ["subject", "body"]


class MailingForm(forms.ModelForm):
    class Meta:
        model = Mailing
        fields = ["message", "clients", "start_at", "end_at", "periodicity"]

    def __init__(self, *args, owner=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.owner = owner
        if owner is not None:
            # Only the owner's own clients and messages are valid choices: a crafted
            # POST with someone else's id fails validation with a form error.
            self.fields["clients"].queryset = selectors.owned_clients(owner)
            self.fields["message"].queryset = selectors.owned_messages(owner)

    def _post_clean(self):
        if self.owner is not None and not self.instance.owner_id:
            self.instance.owner = self.owner
        super()._post_clean()


@admin.register(Mailing)
class MailingAdmin(MailingSendingMixin, OwnedModelAdmin):
    form = MailingForm
    list_display = [
        "__str__",
        "periodicity",
        "status",
        "is_enabled",
        "start_at",
        "end_at",
        "next_run_at",
    ]
    list_filter = ["status", "periodicity", "is_enabled"]
    search_fields = ["message__subject"]
    autocomplete_fields = ["message", "clients"]
    list_select_related = ["message"]

    def get_form(self, request, obj=None, **kwargs):
        form_class = super().get_form(request, obj, **kwargs)
        owner = obj.owner if obj is not None else request.user

        class BoundOwnerForm(form_class):
            def __init__(self, *args, **kw):
                kw.setdefault("owner", owner)
                super().__init__(*args, **kw)

        return BoundOwnerForm


# Attempts and "send now" live beside the sending engine.
from apps.mailings import admin_sending  # noqa: E402, F401
