"""The owner's control of their mailings in the admin (issue 15).

Pause / resume (the owner's switch, ``Mailing.is_paused``; a manager's disable is
shown as such and cannot be undone by the owner), the mailing's state in words
that tell the truth, "Duplicate" for mailings and messages, and the live progress
of a run on the mailing and attempt pages.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, cast

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from unfold.decorators import action, display

from apps.core import permissions
from apps.core.admin import OwnedModelAdmin, confirmed, render_confirmation
from apps.core.http import AuthenticatedHttpRequest
from apps.core.timezones import with_zone
from apps.core.validators import parse_id
from apps.mailings import selectors, services, views
from apps.mailings.models import Mailing, Message

if TYPE_CHECKING:
    # The admin these mixins go into, for the type checker only: at run time they
    # stay plain classes, so the admins' bases are unchanged.
    class _AdminBase[M: Model](OwnedModelAdmin[M]):
        pass

else:

    class _AdminBase[M]:
        pass


# The session key of the copies their owner has not saved yet (they stay paused).
COPIES_KEY = "mailshot_mailing_copies"

STATE_COLOURS = {
    "disabled": "danger",
    "paused": "warning",
    "sending": "info",
    "starting": "info",
    "finished": "success",
    "scheduled": "info",
    "running": "success",
}


def unsaved_copies(request: HttpRequest) -> list[int]:
    return list(request.session.get(COPIES_KEY, []))


def _visible(admin: Any, request: AuthenticatedHttpRequest, object_id: Any) -> Any:
    pk = parse_id(object_id)
    if pk is None:
        return None
    return admin.get_queryset(request).filter(pk=pk).first()


def _may_duplicate(user: Any, obj: Model) -> bool:
    """Only who may change the original (its owner, a superuser) copies it; the
    copy is the original owner's."""
    return permissions.may(user, "add", type(obj)) and permissions.can(
        user, "change", obj
    )


class DuplicateMixin[M: Model](_AdminBase[M]):
    """ "Duplicate" on a change page: a GET asks, the POST makes the copy and opens
    its change page. Someone else's object answers 404, a manager's try 403."""

    def has_duplicate_permission(
        self, request: AuthenticatedHttpRequest, object_id: Any = None
    ) -> bool:
        if object_id is None:
            return permissions.may(request.user, "add", self.model)
        obj = _visible(self, request, object_id)
        if obj is None:
            return True  # the view answers 404, as the change page does
        return _may_duplicate(request.user, obj)

    def duplicate_object(
        self, request: AuthenticatedHttpRequest, obj: Any
    ) -> Model:  # pragma: no cover (each admin says how)
        raise NotImplementedError

    def duplicate_question(self, obj: Any) -> str:
        return gettext("Make a copy of “%(name)s”?") % {"name": obj}

    def duplicate_done(self, request: AuthenticatedHttpRequest, copy: Any) -> None:
        self.message_user(
            request,
            gettext("The copy “%(name)s” is made; you are on its page now.")
            % {"name": copy},
            messages.SUCCESS,
        )

    @action(
        description=_("Duplicate"),
        url_path="duplicate",
        permissions=["duplicate"],
        icon="content_copy",
    )
    def duplicate_detail(
        self, request: AuthenticatedHttpRequest, object_id: str
    ) -> HttpResponse:
        obj = _visible(self, request, object_id)
        if obj is None:
            raise Http404
        if not _may_duplicate(request.user, obj):
            raise PermissionDenied
        opts = self.opts
        change_url = reverse(
            f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk]
        )
        if confirmed(request):
            copy = self.duplicate_object(request, obj)
            self.duplicate_done(request, copy)
            return HttpResponseRedirect(
                reverse(
                    f"admin:{opts.app_label}_{opts.model_name}_change", args=[copy.pk]
                )
            )
        return render_confirmation(
            request,
            self,
            title=gettext("Duplicate"),
            question=self.duplicate_question(obj),
            objects=[obj],
            hidden=[("post", "yes")],
            submit_label=gettext("Make a copy"),
            cancel_url=change_url,
        )


class MessageOwnerMixin(DuplicateMixin[Message]):
    def duplicate_object(
        self, request: AuthenticatedHttpRequest, obj: Message
    ) -> Message:
        return services.message_duplicate(message=obj)


class MailingOwnerMixin(DuplicateMixin[Mailing]):
    """Mixed into MailingAdmin: pause / resume, the state, duplicate, progress."""

    change_form_before_template = "mailings/admin/mailing_state.html"

    # --- the state, in the list and on the page ---

    def get_queryset(self, request: AuthenticatedHttpRequest) -> QuerySet[Any]:
        return selectors.with_run_flags(super().get_queryset(request))

    @display(description=_("state"), ordering="status", label=STATE_COLOURS)
    def state(self, obj: Mailing) -> tuple[str, str]:
        key = selectors.mailing_state(obj)
        return key, str(selectors.state_label(key))

    @display(description=_("state"))
    def current_state(self, obj: Mailing) -> str:
        """The state on the mailing's own page (a read-only field shows text)."""
        return str(selectors.state_label(selectors.mailing_state(obj)))

    @display(description=with_zone(_("next run")), ordering="next_run_at")
    def next_run(self, obj: Mailing) -> str:
        if obj.next_run_at is None:
            return "—"
        if selectors.mailing_state(obj) not in selectors.STATES_WITH_NEXT_RUN:
            return "—"
        return date_format(timezone.localtime(obj.next_run_at), "DATETIME_FORMAT")

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        extra_context = dict(extra_context or {})
        person = cast(AuthenticatedHttpRequest, request)  # behind the admin's login
        mailing = _visible(self, person, object_id) if object_id else None
        if mailing is not None:
            progress = selectors.mailing_progress(mailing)
            extra_context.update(
                mailing_state=progress["state"],
                mailing_progress=progress,
                progress_url=reverse(
                    "admin:mailings_mailing_progress", args=[mailing.pk]
                ),
                unsaved_copy=mailing.pk in unsaved_copies(request),
                may_send=permissions.can(person.user, "send", mailing),
            )
        return super().changeform_view(request, object_id, form_url, extra_context)

    # --- progress (JSON, polled by mailings/run-progress.js) ---

    def get_urls(self) -> list[Any]:
        progress = path(
            "<str:object_id>/progress/",
            self.admin_site.admin_view(views.mailing_progress),
            name="mailings_mailing_progress",
        )
        return [progress, *super().get_urls()]

    # --- pause / resume: the owner's switch ---

    def has_pause_permission(
        self, request: AuthenticatedHttpRequest, object_id: Any = None
    ) -> bool:
        return self._switch_allowed(request, object_id, paused=True)

    def has_resume_permission(
        self, request: AuthenticatedHttpRequest, object_id: Any = None
    ) -> bool:
        return self._switch_allowed(request, object_id, paused=False)

    def _switch_allowed(
        self, request: AuthenticatedHttpRequest, object_id: Any, *, paused: bool
    ) -> bool:
        """Owners (and superusers) pause and resume; managers, who only look, do
        not. On a page the button offered is the one that changes something."""
        if not permissions.may(request.user, "send", Mailing):
            return False
        if object_id is None:
            return True
        mailing = _visible(self, request, object_id)
        if mailing is None:
            return True  # the view answers 404
        return (
            permissions.can(request.user, "send", mailing)
            and mailing.is_paused != paused
        )

    def _set_paused(
        self,
        request: AuthenticatedHttpRequest,
        mailings: Iterable[Mailing],
        *,
        paused: bool,
    ) -> int:
        changed = 0
        for mailing in mailings:
            if not permissions.can(request.user, "send", mailing):
                raise PermissionDenied
            if mailing.is_paused != paused:
                services.mailing_set_paused(mailing=mailing, paused=paused)
                changed += 1
        return changed

    @action(description=_("Pause selected mailings"), permissions=["pause"])
    def pause_mailings(
        self, request: AuthenticatedHttpRequest, queryset: QuerySet[Mailing]
    ) -> None:
        changed = self._set_paused(request, queryset, paused=True)
        self.message_user(
            request,
            ngettext("%(count)d mailing paused.", "%(count)d mailings paused.", changed)
            % {"count": changed},
            messages.SUCCESS,
        )

    @action(description=_("Resume selected mailings"), permissions=["resume"])
    def resume_mailings(
        self, request: AuthenticatedHttpRequest, queryset: QuerySet[Mailing]
    ) -> None:
        changed = self._set_paused(request, queryset, paused=False)
        self.message_user(
            request,
            ngettext(
                "%(count)d mailing resumed.", "%(count)d mailings resumed.", changed
            )
            % {"count": changed},
            messages.SUCCESS,
        )

    def _detail_switch(
        self, request: AuthenticatedHttpRequest, object_id: str, *, paused: bool
    ) -> HttpResponse:
        mailing = _visible(self, request, object_id)
        if mailing is None:
            raise Http404
        if not permissions.can(request.user, "send", mailing):
            raise PermissionDenied
        change_url = reverse("admin:mailings_mailing_change", args=[mailing.pk])
        if confirmed(request):
            self._set_paused(request, [mailing], paused=paused)
            text = (
                gettext(
                    "“%(mailing)s” is paused: it sends nothing until you resume it."
                )
                if paused
                else gettext("“%(mailing)s” is resumed.")
            )
            if not paused and not mailing.is_enabled:
                text = gettext(
                    "“%(mailing)s” is resumed, but a manager has disabled it: it "
                    "sends nothing until a manager enables it."
                )
            self.message_user(request, text % {"mailing": mailing}, messages.SUCCESS)
            return HttpResponseRedirect(change_url)
        return render_confirmation(
            request,
            self,
            title=gettext("Pause mailing") if paused else gettext("Resume mailing"),
            question=gettext(
                "Pause this mailing? A run in progress stops within a second; "
                "nothing is sent until you resume it."
            )
            if paused
            else gettext("Resume this mailing? It sends again on its schedule."),
            objects=[mailing],
            hidden=[("post", "yes")],
            submit_label=gettext("Pause") if paused else gettext("Resume"),
            danger=paused,
            cancel_url=change_url,
        )

    @action(
        description=_("Pause"),
        url_path="pause",
        permissions=["pause"],
        icon="pause",
    )
    def pause_detail(
        self, request: AuthenticatedHttpRequest, object_id: str
    ) -> HttpResponse:
        return self._detail_switch(request, object_id, paused=True)

    @action(
        description=_("Resume"),
        url_path="resume",
        permissions=["resume"],
        icon="play_arrow",
    )
    def resume_detail(
        self, request: AuthenticatedHttpRequest, object_id: str
    ) -> HttpResponse:
        return self._detail_switch(request, object_id, paused=False)

    # --- duplicate ---

    def duplicate_object(
        self, request: AuthenticatedHttpRequest, obj: Mailing
    ) -> Mailing:
        copy = services.mailing_duplicate(mailing=obj)
        request.session[COPIES_KEY] = [*unsaved_copies(request), copy.pk][-50:]
        return copy

    def duplicate_question(self, obj: Any) -> str:
        return gettext(
            "Make a copy of “%(name)s”, with its message, schedule and recipients? "
            "The copy stays paused until you save it."
        ) % {"name": obj}

    def duplicate_done(self, request: AuthenticatedHttpRequest, copy: Any) -> None:
        self.message_user(
            request,
            gettext(
                "This is the copy “%(name)s”. It stays paused until you save it: "
                "check its dates and recipients, then save."
            )
            % {"name": copy},
            messages.WARNING,
        )

    def resume_on_save(self, request: AuthenticatedHttpRequest, obj: Mailing) -> bool:
        """A copy saved by its owner for the first time starts to count."""
        copies = unsaved_copies(request)
        if obj.pk not in copies:
            return False
        request.session[COPIES_KEY] = [pk for pk in copies if pk != obj.pk]
        return True
