"""The admin's own words for each model: success and delete messages, the add button,
the add page's title, the delete question — and a delete page that lists only what a
person recognises.

Django builds these from one generic sentence and the model's ``verbose_name``
("The {name} “{obj}” was added successfully"): in Russian the verb then agrees with
no noun ("сообщение … был успешно добавлен"), and "Add %s" puts the noun in the
wrong case ("Добавить: клиент"). Here each model has whole sentences of its own,
which a translator can give the right gender and case; a model without an entry
gets neutral sentences that need no agreement.

``AdminTextsMixin`` is in the bases of every ModelAdmin of the project (through
``OwnedModelAdmin`` and ``PermissionsAdminMixin``, and by hand for the others).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.db.models import Model
from django.http import HttpRequest, HttpResponse
from django.urls import NoReverseMatch, reverse
from django.utils.functional import Promise
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import capfirst
from django.utils.translation import gettext, ngettext, ngettext_lazy
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from unfold.admin import ModelAdmin

    # What the mixin is mixed into, for the type checker only: at run time it stays a
    # plain class in front of the ModelAdmin.
    class _AdminBase(ModelAdmin):
        pass

else:
    _AdminBase = object


@dataclass(frozen=True)
class ModelTexts:
    """Whole sentences about one model; ``%(obj)s`` is the object's name."""

    add: str | Promise  # the add button: "Add client"
    new: str | Promise  # the add page's title: "New client"
    added: str | Promise
    changed: str | Promise
    deleted: str | Promise
    delete_question: str | Promise
    # "Delete selected" of the lists without a delete page of their own: a plural.
    deleted_many: str | Promise | None = None


TEXTS: dict[str, ModelTexts] = {
    "mailings.client": ModelTexts(
        add=_("Add client"),
        new=_("New client"),
        added=_("Client “%(obj)s” added."),
        changed=_("Client “%(obj)s” saved."),
        deleted=_("Client “%(obj)s” deleted."),
        delete_question=_("Delete client “%(obj)s”?"),
    ),
    "mailings.message": ModelTexts(
        add=_("Write message"),
        new=_("New message"),
        added=_("Message “%(obj)s” added."),
        changed=_("Message “%(obj)s” saved."),
        deleted=_("Message “%(obj)s” deleted."),
        delete_question=_("Delete message “%(obj)s”?"),
    ),
    "mailings.mailing": ModelTexts(
        add=_("Create mailing"),
        new=_("New mailing"),
        added=_("Mailing “%(obj)s” created."),
        changed=_("Mailing “%(obj)s” saved."),
        deleted=_("Mailing “%(obj)s” deleted."),
        delete_question=_("Delete mailing “%(obj)s”?"),
    ),
    "mailings.attempt": ModelTexts(
        add=_("Add attempt"),
        new=_("New attempt"),
        added=_("Attempt “%(obj)s” added."),
        changed=_("Attempt “%(obj)s” saved."),
        deleted=_("Attempt “%(obj)s” deleted."),
        delete_question=_("Delete attempt “%(obj)s”?"),
    ),
    "blog.post": ModelTexts(
        add=_("Write post"),
        new=_("New post"),
        added=_("Post “%(obj)s” added."),
        changed=_("Post “%(obj)s” saved."),
        deleted=_("Post “%(obj)s” deleted."),
        delete_question=_("Delete post “%(obj)s”?"),
        deleted_many=ngettext_lazy(
            "%(count)d post deleted.", "%(count)d posts deleted.", "count"
        ),
    ),
    "users.user": ModelTexts(
        add=_("Add person"),
        new=_("New person"),
        added=_("Account “%(obj)s” added."),
        changed=_("Account “%(obj)s” saved."),
        deleted=_("Account “%(obj)s” deleted."),
        delete_question=_("Delete account “%(obj)s”?"),
        deleted_many=ngettext_lazy(
            "%(count)d account deleted.", "%(count)d accounts deleted.", "count"
        ),
    ),
    "auth.group": ModelTexts(
        add=_("Add group"),
        new=_("New group"),
        added=_("Group “%(obj)s” added."),
        changed=_("Group “%(obj)s” saved."),
        deleted=_("Group “%(obj)s” deleted."),
        delete_question=_("Delete group “%(obj)s”?"),
        deleted_many=ngettext_lazy(
            "%(count)d group deleted.", "%(count)d groups deleted.", "count"
        ),
    ),
}


def texts_for(model: type[Model]) -> ModelTexts:
    """The sentences of ``model``; neutral ones ("Added: schedule “x”.") otherwise."""
    found = TEXTS.get(model._meta.label_lower)
    if found is not None:
        return found
    name = str(model._meta.verbose_name)
    return ModelTexts(
        add=gettext("Add: %(model)s") % {"model": name},
        new=gettext("New record: %(model)s") % {"model": name},
        added=gettext("Added: %(model)s “%%(obj)s”.") % {"model": name},
        changed=gettext("Saved: %(model)s “%%(obj)s”.") % {"model": name},
        deleted=gettext("Deleted: %(model)s “%%(obj)s”.") % {"model": name},
        delete_question=gettext("Delete %(model)s “%%(obj)s”?") % {"model": name},
    )


def sentence(text: str | Promise, obj: object) -> SafeString:
    """``text`` with the object's name (escaped, or an escaped link) put in."""
    name = obj if isinstance(obj, str) else str(obj)
    return mark_safe(conditional_escape(str(text)) % {"obj": conditional_escape(name)})  # noqa: S308 - both parts escaped


# Models a person never thinks of as things of their own: guardian's permission rows,
# many-to-many "through" rows, Django's log entries. Never listed on a delete page.
def _internal(model: type[Model]) -> bool:
    opts = model._meta
    return (
        opts.auto_created is not False
        or (opts.model_name or "").endswith(("objectpermission", "permission"))
        or opts.app_label in {"admin", "guardian", "contenttypes", "sessions"}
    )


class AdminTextsMixin(_AdminBase):
    """Our sentences in place of Django's generic ones, on every admin page."""

    @contextmanager
    def _saying(
        self, request: HttpRequest, event: str, obj: Model | str
    ) -> Iterator[None]:
        """While Django answers a save or delete, its one success message is ours."""
        request._admin_text_event = (event, obj)  # type: ignore[attr-defined]
        try:
            yield
        finally:
            request.__dict__.pop("_admin_text_event", None)

    def message_user(
        self,
        request: HttpRequest,
        message: Any,
        level: int | str = messages.INFO,
        extra_tags: str = "",
        fail_silently: bool = False,
    ) -> None:
        event = getattr(request, "_admin_text_event", None)
        if event is not None and level == messages.SUCCESS:
            request.__dict__.pop("_admin_text_event", None)
            message = self._own_message(request, *event)
        super().message_user(request, message, level, extra_tags, fail_silently)

    def _own_message(
        self, request: HttpRequest, event: str, obj: Model | str
    ) -> SafeString:
        texts = texts_for(self.model)
        if event == "deleted_many":
            count = int(str(obj))
            if texts.deleted_many is not None:
                return conditional_escape(str(texts.deleted_many % {"count": count}))
            return conditional_escape(
                ngettext(
                    "Deleted: %(model)s, %(count)d.",
                    "Deleted: %(model)s, %(count)d.",
                    count,
                )
                % {"model": self.opts.verbose_name_plural, "count": count}
            )
        if "_saveasnew" in request.POST:
            event = "added"
        name: object = obj
        if isinstance(obj, Model):
            try:
                url = reverse(
                    f"admin:{self.opts.app_label}_{self.opts.model_name}_change",
                    args=[obj.pk],
                )
                name = format_html('<a href="{}">{}</a>', url, obj)
            except NoReverseMatch:
                pass
        text = sentence(getattr(texts, event), name)
        if "_continue" in request.POST or "_saveasnew" in request.POST:
            text = format_html("{} {}", text, gettext("You can go on editing below."))
        elif "_addanother" in request.POST:
            text = format_html(
                "{} {}", text, gettext("The form below is for the next one.")
            )
        return text

    def response_add(
        self, request: HttpRequest, obj: Model, *args: Any, **kwargs: Any
    ) -> HttpResponse:
        with self._saying(request, "added", obj):
            return super().response_add(request, obj, *args, **kwargs)

    def response_change(self, request: HttpRequest, obj: Model) -> HttpResponse:
        with self._saying(request, "changed", obj):
            return super().response_change(request, obj)

    def response_delete(
        self, request: HttpRequest, obj_display: str, obj_id: Any
    ) -> HttpResponse:
        with self._saying(request, "deleted", obj_display):
            return super().response_delete(request, obj_display, obj_id)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        """Django's "Delete selected" reports "Successfully deleted 5 posts" next:
        in our words, with the plural the language wants."""
        count = len(queryset)
        super().delete_queryset(request, queryset)
        request._admin_text_event = ("deleted_many", str(count))  # type: ignore[attr-defined]

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        extra_context = extra_context or {}
        if object_id is None and "title" not in extra_context:
            extra_context["title"] = texts_for(self.model).new
        return super().changeform_view(request, object_id, form_url, extra_context)

    def delete_view(
        self,
        request: HttpRequest,
        object_id: str,
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        extra_context = extra_context or {}
        obj = self.get_object(request, object_id)
        if obj is not None:
            extra_context.setdefault(
                "delete_question",
                sentence(texts_for(self.model).delete_question, obj),
            )
        return super().delete_view(request, object_id, extra_context)

    def get_deleted_objects(
        self,
        objs: Any,
        request: Any,  # an AuthenticatedHttpRequest in OwnedModelAdmin
    ) -> tuple[list[Any], dict[str, int], set[str], list[Any]]:
        """Django's list without the rows nobody recognises: what goes is the object
        itself and counts of the kinds a person knows (mailings, attempts, …)."""
        deleted, model_count, perms_needed, protected = super().get_deleted_objects(
            objs, request
        )
        hidden = {str(model._meta.verbose_name_plural) for model in _internal_models()}
        model_count = {
            name: count for name, count in model_count.items() if name not in hidden
        }
        deleted = [_prune(item) for item in deleted]
        return deleted, model_count, perms_needed, protected


def _prune(item: Any) -> Any:
    """One entry of Django's nested list of what is deleted, without internal rows
    (a list of strings: the object, then the list of what goes with it)."""
    if isinstance(item, list):
        kept = [_prune(sub) for sub in item if not _is_internal_line(sub)]
        return [sub for sub in kept if sub != []]
    return item


def _is_internal_line(item: Any) -> bool:
    if isinstance(item, list):
        return False
    text = str(item)
    return any(
        text.startswith(f"{capfirst(model._meta.verbose_name)}: ")
        for model in _internal_models()
    )


def _internal_models() -> list[type[Model]]:
    from django.apps import apps

    return [
        model
        for model in apps.get_models(include_auto_created=True)
        if _internal(model)
    ]
