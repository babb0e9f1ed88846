"""Each list's stored member counts (``ClientList.subscriber_count`` and
``unconfirmed_count``), kept exact by database triggers on the subscriptions.

Every path that writes ``audiences_subscription`` — the admin, the public form,
the API, an import's raw ``INSERT … SELECT``, unsubscribes, the cascade of a
deleted client or list, the fast bulk delete's raw ``DELETE`` — moves the counts
in the same statement, without code in any of them:

* SQLite: row-level ``AFTER INSERT`` / ``AFTER DELETE`` / ``AFTER UPDATE OF status,
  client_list_id`` triggers add or subtract one.
* PostgreSQL: one plpgsql function behind three ``AFTER … FOR EACH STATEMENT``
  triggers with transition tables: the changed rows are summed per list, so an
  import of 100,000 rows updates its list once, not 100,000 times. The lists are
  updated in id order (fewer deadlocks between two statements touching two lists).
* Both: a list inserted when subscriptions of its id already exist (``loaddata``
  in any order) starts from their count, never from the fixture's numbers.

The ORM never writes the counts of an existing list (see ``ClientList.save``),
so a stale instance saved later cannot undo the triggers' work.

MIGRATIONS: on SQLite, Django's schema editor re-creates a table for most
``ALTER``s (copy, drop, rename), and dropping a table drops its triggers. Any
later migration that alters ``audiences_subscription`` or ``audiences_clientlist``
must call ``install`` again (it also recounts) after its own operations;
``apps/audiences/tests/test_counters.py`` checks that the migrated test database
has every trigger, so a migration that forgets turns the suite red.
"""

# Only this module's constants are formatted into its SQL (no input ever is).
# ruff: noqa: S608

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connection as default_connection
from django.db.backends.base.base import BaseDatabaseWrapper

# The tables' names and the statuses counted, written out rather than read from the
# models: migrations call this module with the schema as it was then.
LISTS = "audiences_clientlist"
SUBSCRIPTIONS = "audiences_subscription"
SUBSCRIBED = "subscribed"
UNCONFIRMED = "unconfirmed"

FUNCTION = "audiences_subscription_counts"
LIST_FUNCTION = "audiences_clientlist_counts"
TRIGGERS = {
    # trigger name: the table it is on
    "audiences_subscription_counts_insert": SUBSCRIPTIONS,
    "audiences_subscription_counts_delete": SUBSCRIPTIONS,
    "audiences_subscription_counts_update": SUBSCRIPTIONS,
    "audiences_clientlist_counts_insert": LISTS,
}

# A list's exact counts, for the row `{list}` of audiences_clientlist.
_COUNT = (
    f"(SELECT COUNT(*) FROM {SUBSCRIPTIONS} "
    "WHERE client_list_id = {list} AND status = '{status}')"
)


def _exact(list_ref: str) -> str:
    subscribed = _COUNT.format(list=list_ref, status=SUBSCRIBED)
    unconfirmed = _COUNT.format(list=list_ref, status=UNCONFIRMED)
    return f"subscriber_count = {subscribed}, unconfirmed_count = {unconfirmed}"


def _is(column: str, status: str) -> str:
    """1 when the row has this status, else 0 (both vendors)."""
    return f"(CASE WHEN {column} = '{status}' THEN 1 ELSE 0 END)"


_COUNTED = f"('{SUBSCRIBED}', '{UNCONFIRMED}')"


def _sqlite_move(row: str, sign: str) -> str:
    """The UPDATE that adds (+) or takes (-) the `row` (NEW or OLD) to its list."""
    subscribed = _is(f"{row}.status", SUBSCRIBED)
    unconfirmed = _is(f"{row}.status", UNCONFIRMED)
    return f"""
        UPDATE {LISTS}
        SET subscriber_count = subscriber_count {sign} {subscribed},
            unconfirmed_count = unconfirmed_count {sign} {unconfirmed}
        WHERE id = {row}.client_list_id;"""


_SQLITE = [
    f"""
    CREATE TRIGGER audiences_subscription_counts_insert
    AFTER INSERT ON {SUBSCRIPTIONS}
    WHEN NEW.status IN {_COUNTED}
    BEGIN{_sqlite_move("NEW", "+")}
    END
    """,
    f"""
    CREATE TRIGGER audiences_subscription_counts_delete
    AFTER DELETE ON {SUBSCRIPTIONS}
    WHEN OLD.status IN {_COUNTED}
    BEGIN{_sqlite_move("OLD", "-")}
    END
    """,
    f"""
    CREATE TRIGGER audiences_subscription_counts_update
    AFTER UPDATE OF status, client_list_id ON {SUBSCRIPTIONS}
    WHEN (OLD.status IS NOT NEW.status OR OLD.client_list_id IS NOT NEW.client_list_id)
        AND (OLD.status IN {_COUNTED} OR NEW.status IN {_COUNTED})
    BEGIN{_sqlite_move("OLD", "-")}{_sqlite_move("NEW", "+")}
    END
    """,
    f"""
    CREATE TRIGGER audiences_clientlist_counts_insert
    AFTER INSERT ON {LISTS}
    WHEN NEW.subscriber_count <> 0 OR NEW.unconfirmed_count <> 0
        OR EXISTS (SELECT 1 FROM {SUBSCRIPTIONS} WHERE client_list_id = NEW.id)
    BEGIN
        UPDATE {LISTS} SET {_exact("NEW.id")} WHERE id = NEW.id;
    END
    """,
]


def _pg_deltas(*parts: tuple[str, str]) -> str:
    """The per-list sums of (transition table, sign) parts, in list order."""
    rows = " UNION ALL ".join(
        f"SELECT client_list_id, {sign}{_is('status', SUBSCRIBED)} AS subscribed, "
        f"{sign}{_is('status', UNCONFIRMED)} AS unconfirmed "
        f"FROM {table} WHERE status IN {_COUNTED}"
        for table, sign in parts
    )
    return (
        "SELECT client_list_id, SUM(subscribed) AS subscribed, "
        f"SUM(unconfirmed) AS unconfirmed FROM ({rows}) AS changed "
        "GROUP BY client_list_id "
        "HAVING SUM(subscribed) <> 0 OR SUM(unconfirmed) <> 0 "
        "ORDER BY client_list_id"
    )


def _pg_apply(deltas: str) -> str:
    return f"""
        FOR delta IN {deltas}
        LOOP
            UPDATE {LISTS}
            SET subscriber_count = subscriber_count + delta.subscribed,
                unconfirmed_count = unconfirmed_count + delta.unconfirmed
            WHERE id = delta.client_list_id;
        END LOOP;"""


# plpgsql plans a statement when it first runs it: each branch names only the
# transition tables its event has.
_POSTGRESQL = [
    f"""
    CREATE OR REPLACE FUNCTION {FUNCTION}() RETURNS trigger
    LANGUAGE plpgsql AS $$
    DECLARE
        delta record;
    BEGIN
        IF TG_OP = 'INSERT' THEN{_pg_apply(_pg_deltas(("new_rows", "")))}
        ELSIF TG_OP = 'DELETE' THEN{_pg_apply(_pg_deltas(("old_rows", "-")))}
        ELSE{_pg_apply(_pg_deltas(("new_rows", ""), ("old_rows", "-")))}
        END IF;
        RETURN NULL;
    END
    $$
    """,
    f"""
    CREATE OR REPLACE FUNCTION {LIST_FUNCTION}() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        IF NEW.subscriber_count <> 0 OR NEW.unconfirmed_count <> 0
            OR EXISTS (SELECT 1 FROM {SUBSCRIPTIONS} WHERE client_list_id = NEW.id)
        THEN
            UPDATE {LISTS} SET {_exact("NEW.id")} WHERE id = NEW.id;
        END IF;
        RETURN NULL;
    END
    $$
    """,
    # A trigger with transition tables names one event only.
    f"""
    CREATE TRIGGER audiences_subscription_counts_insert
    AFTER INSERT ON {SUBSCRIPTIONS}
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION {FUNCTION}()
    """,
    f"""
    CREATE TRIGGER audiences_subscription_counts_delete
    AFTER DELETE ON {SUBSCRIPTIONS}
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION {FUNCTION}()
    """,
    # Transition tables allow no column list (UPDATE OF …): every UPDATE fires it,
    # and an UPDATE that moves no row between lists or statuses changes nothing.
    f"""
    CREATE TRIGGER audiences_subscription_counts_update
    AFTER UPDATE ON {SUBSCRIPTIONS}
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION {FUNCTION}()
    """,
    f"""
    CREATE TRIGGER audiences_clientlist_counts_insert
    AFTER INSERT ON {LISTS}
    FOR EACH ROW EXECUTE FUNCTION {LIST_FUNCTION}()
    """,
]


def _vendor(connection: BaseDatabaseWrapper) -> str:
    if connection.vendor not in ("sqlite", "postgresql"):
        raise NotImplementedError(
            f"No member-count triggers for {connection.vendor} databases."
        )
    return connection.vendor


def _drop_statements(connection: BaseDatabaseWrapper) -> list[str]:
    if _vendor(connection) == "sqlite":
        return [f"DROP TRIGGER IF EXISTS {name}" for name in TRIGGERS]
    return [
        *(
            f"DROP TRIGGER IF EXISTS {name} ON {table}"
            for name, table in TRIGGERS.items()
        ),
        f"DROP FUNCTION IF EXISTS {FUNCTION}()",
        f"DROP FUNCTION IF EXISTS {LIST_FUNCTION}()",
    ]


def install(schema_editor: Any) -> None:
    """(Re)create the triggers, then recount every list: safe to call again, and
    what a migration that re-creates either table on SQLite must call."""
    connection = schema_editor.connection
    statements = _SQLITE if _vendor(connection) == "sqlite" else _POSTGRESQL
    for sql in [*_drop_statements(connection), *statements]:
        schema_editor.execute(sql, params=None)
    recount(connection=connection)


def uninstall(schema_editor: Any) -> None:
    """Drop the triggers (the counts stay as they were, and go stale)."""
    for sql in _drop_statements(schema_editor.connection):
        schema_editor.execute(sql, params=None)


def recount(
    list_ids: Iterable[int] | None = None,
    *,
    connection: BaseDatabaseWrapper | None = None,
) -> None:
    """Set the counts of these lists (all when None) from their subscriptions:
    one UPDATE, for repair and for filling the counts when they are installed."""
    connection = connection or default_connection
    sql = f"UPDATE {LISTS} SET {_exact(f'{LISTS}.id')}"
    params: Sequence[int] = []
    if list_ids is not None:
        params = [int(pk) for pk in list_ids]
        if not params:
            return
        sql += f" WHERE id IN ({', '.join(['%s'] * len(params))})"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def installed(connection: BaseDatabaseWrapper | None = None) -> set[str]:
    """The names of the counting triggers present in the database."""
    connection = connection or default_connection
    with connection.cursor() as cursor:
        if _vendor(connection) == "sqlite":
            cursor.execute(
                "SELECT name, tbl_name FROM sqlite_master WHERE type = 'trigger'"
            )
        else:
            cursor.execute(
                "SELECT t.tgname, c.relname FROM pg_trigger t "
                "JOIN pg_class c ON c.oid = t.tgrelid "
                "WHERE NOT t.tgisinternal AND c.relnamespace = "
                "(SELECT oid FROM pg_namespace WHERE nspname = current_schema())"
            )
        found = set(cursor.fetchall())
    return {name for name, table in TRIGGERS.items() if (name, table) in found}
