from typing import Any, ClassVar

from django.contrib.auth.models import AbstractUser
from django.contrib.auth.models import UserManager as DjangoUserManager
from django.contrib.sessions.base_session import AbstractBaseSession
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _
from timezone_field import TimeZoneField  # type: ignore[import-untyped]

from apps.core.validators import validate_no_newlines


class UserManager(DjangoUserManager["User"]):
    """Users are identified by e-mail; there is no username."""

    use_in_migrations = True

    def get_by_natural_key(self, email: str | None) -> "User":
        return self.get(email__iexact=email)

    def _create_user(
        self, email: str | None, password: str | None, **extra_fields: Any
    ) -> "User":
        if not email:
            raise ValueError("An e-mail address is required.")
        email = self.normalize_email(email).strip().lower()
        user = self.model(email=email, **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    # The e-mail address takes the place of Django's username as the first argument,
    # which the stubs of Django's UserManager (username first) cannot express.
    def create_user(  # type: ignore[override]
        self, email: str | None = None, password: str | None = None, **extra_fields: Any
    ) -> "User":
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(  # type: ignore[override]
        self, email: str | None = None, password: str | None = None, **extra_fields: Any
    ) -> "User":
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        extra_fields.setdefault("email_confirmed", True)
        if not extra_fields["is_staff"] or not extra_fields["is_superuser"]:
            raise ValueError("A superuser must have is_staff and is_superuser set.")
        return self._create_user(email, password, **extra_fields)


class User(AbstractUser):
    # Setting an inherited field to None removes it (Django's documented way); the
    # stubs type the field as a str.
    username = None  # type: ignore[assignment]
    first_name = models.CharField(
        _("first name"), max_length=150, blank=True, validators=[validate_no_newlines]
    )
    last_name = models.CharField(
        _("last name"), max_length=150, blank=True, validators=[validate_no_newlines]
    )
    email = models.EmailField(_("e-mail address"), unique=True)
    email_confirmed = models.BooleanField(
        _("e-mail confirmed"),
        default=False,
        help_text=_("The person opened the confirmation link sent to this address."),
    )
    is_blocked = models.BooleanField(
        _("blocked"),
        default=False,
        help_text=_("A blocked person cannot log in and their mailings are not sent."),
    )
    blocked_at = models.DateTimeField(_("blocked at"), null=True, blank=True)
    # An IANA name (stored as text, read as a ZoneInfo): the admin shows and takes
    # date-times in it, and the owner's recurring mailings keep its wall-clock time.
    time_zone = TimeZoneField(
        _("time zone"),
        default="UTC",
        use_pytz=False,
        help_text=_("Dates and times in the admin are shown and entered in this zone."),
    )

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    objects: ClassVar[UserManager] = UserManager()

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        ordering = ["email"]
        permissions = [("block_user", _("Can block and unblock users"))]
        constraints = [
            # Login is case-insensitive: two spellings of one address are one account.
            models.UniqueConstraint(Lower("email"), name="users_user_email_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.email

    def clean(self) -> None:
        super().clean()
        if self.email:
            self.email = type(self).objects.normalize_email(self.email).strip().lower()

    @property
    def can_log_in(self) -> bool:
        return (
            self.is_active
            and not self.is_blocked
            and (self.email_confirmed or self.is_superuser)
        )


class UserSession(AbstractBaseSession):
    """A session row that also says whose it is (the engine: apps/users/sessions.py).

    ``user_id`` is filled from the session's data on every save (see
    ``apps.users.sessions.SessionStore``), so ending someone's sessions is an indexed
    query instead of decoding every session of the site. NULL for anonymous visitors.

    A plain integer, not a foreign key: the session is saved on most requests, and a
    key would make that write fail (a 500) when the account was deleted meanwhile; a
    deleted account's session is already anonymous (auth finds no user) and expires,
    and account ids are never reused (PostgreSQL sequences, SQLite AUTOINCREMENT).
    """

    user_id = models.BigIntegerField(_("user id"), null=True, blank=True, db_index=True)

    @classmethod
    def get_session_store_class(cls) -> type[Any]:
        from apps.users.sessions import SessionStore

        return SessionStore
