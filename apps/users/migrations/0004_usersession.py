"""Sessions move from ``django_session`` to ``users_usersession`` (indexed by user).

The live sessions are moved, not dropped, so deploying signs nobody out: each row is
decoded once to fill ``user_id``; a row that cannot be decoded (a rotated secret key,
corrupt data) is one the store would refuse anyway and is left behind. Then
``django_session`` is emptied: a copy left there would come back to life if the code
were ever rolled back, including sessions of people blocked in the meantime.
Reversing moves the live sessions back the same way, so a rollback signs nobody out
either.

Sessions written by processes still running the old code while this runs are lost
(those people sign in again).
"""

from django.conf import settings
from django.core import signing
from django.db import migrations, models
from django.utils import timezone
from django.utils.module_loading import import_string

BATCH = 2000
# Django derives the signing salt from the store's class name; the old store
# (django.contrib.sessions.backends.db) and the new (apps.users.sessions) are both
# named SessionStore, so the data is moved as is.
SALT = "django.contrib.sessions.SessionStore"
SESSION_KEY = "_auth_user_id"  # django.contrib.auth.SESSION_KEY


def user_id_of(session_data: str) -> tuple[bool, int | None]:
    """(readable, the signed-in person's id or None) of an encoded session."""
    try:
        data = signing.loads(
            session_data,
            salt=SALT,
            serializer=import_string(settings.SESSION_SERIALIZER),
        )
    except Exception:  # what SessionBase.decode swallows: bad signature, bad payload
        return False, None
    try:
        return True, int(data[SESSION_KEY])
    except (KeyError, TypeError, ValueError):
        return True, None


def copy_live(source, db, build, write):
    """Hand the live rows of `source` to `write` in batches, each made by
    `build(key, data, expire_date)` (None: left behind)."""
    rows = (
        source.objects.using(db)
        .filter(expire_date__gt=timezone.now())
        .values_list("session_key", "session_data", "expire_date")
        .order_by()
    )
    batch = []
    for key, data, expire_date in rows.iterator(chunk_size=BATCH):
        row = build(key, data, expire_date)
        if row is None:
            continue
        batch.append(row)
        if len(batch) >= BATCH:
            write(batch)
            batch = []
    write(batch)


def move_sessions_in(apps, schema_editor):
    Session = apps.get_model("sessions", "Session")
    UserSession = apps.get_model("users", "UserSession")
    db = schema_editor.connection.alias

    def build(key, data, expire_date):
        readable, user_id = user_id_of(data)
        if not readable:
            return None
        return UserSession(
            session_key=key, session_data=data, expire_date=expire_date, user_id=user_id
        )

    copy_live(Session, db, build, UserSession.objects.using(db).bulk_create)
    Session.objects.using(db).all().delete()


def move_sessions_out(apps, schema_editor):
    Session = apps.get_model("sessions", "Session")
    UserSession = apps.get_model("users", "UserSession")
    db = schema_editor.connection.alias

    def build(key, data, expire_date):
        return Session(session_key=key, session_data=data, expire_date=expire_date)

    copy_live(UserSession, db, build, lambda batch: put_back(Session, db, batch))


def put_back(Session, db, batch):
    # A row the old code wrote meanwhile under the same key is older: replace it.
    Session.objects.using(db).bulk_create(
        batch,
        update_conflicts=True,
        unique_fields=["session_key"],
        update_fields=["session_data", "expire_date"],
    )


class Migration(migrations.Migration):
    dependencies = [
        ("users", "0003_time_zone"),
        ("sessions", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="UserSession",
            fields=[
                (
                    "session_key",
                    models.CharField(
                        max_length=40,
                        primary_key=True,
                        serialize=False,
                        verbose_name="session key",
                    ),
                ),
                ("session_data", models.TextField(verbose_name="session data")),
                (
                    "expire_date",
                    models.DateTimeField(db_index=True, verbose_name="expire date"),
                ),
                (
                    "user_id",
                    models.BigIntegerField(
                        blank=True, db_index=True, null=True, verbose_name="user id"
                    ),
                ),
            ],
            options={
                "verbose_name": "session",
                "verbose_name_plural": "sessions",
                "abstract": False,
            },
        ),
        migrations.RunPython(move_sessions_in, move_sessions_out),
    ]
