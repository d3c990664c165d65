"""Bulk writes without per-row SQLAlchemy processing: the hot path of group commit.

SQLAlchemy's per-row bind processing cost more than SQLite's own insert work in profiles of the
ingest benchmark, so the writer's bulk statements are rendered once per (table, columns) and fed
plain tuples: JSON columns pre-encoded with msgspec, times already integer microseconds. They run
on the driver's own cursor (`execute`): SQLAlchemy's execution context and result objects cost
more than SQLite's own work for the small statements of a one-event commit.
"""

from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any, Final

import msgspec
from sqlalchemy import JSON, Connection, Dialect, Table
from sqlalchemy.exc import DBAPIError


def execute(
    connection: Connection, statement: str, params: Sequence[Any], many: bool = False
) -> list[Any]:
    """Run `statement` (in the driver's parameter style) on the driver's cursor, in the
    connection's transaction (begun here if none is, as SQLAlchemy would); the rows it returns.

    A driver error comes out as SQLAlchemy's (`OperationalError`, `IntegrityError`, …), and a
    lost connection is invalidated, so that SQLAlchemy connects again on next use, as it does
    for its own statements. Statement parameters stay out of the error's text.
    """
    if not connection.in_transaction():
        connection.begin()
    proxied = connection.connection
    cursor = proxied.cursor()
    try:
        if many:
            cursor.executemany(statement, params)
        else:
            cursor.execute(statement, params)
        return list(cursor.fetchall()) if cursor.description is not None else []
    except connection.dialect.loaded_dbapi.Error as error:
        raise _driver_error(connection, cursor, statement, params, error, many) from error
    finally:
        cursor.close()


def execute_all(connection: Connection, statements: Sequence[tuple[str, Sequence[Any]]]) -> None:
    """Run statements whose rows nobody reads, as `execute` does; on PostgreSQL in one round
    trip (psycopg's pipeline mode), on SQLite one after the other.

    On PostgreSQL the first statement of a transaction goes with its BEGIN, which psycopg
    otherwise sends alone: the writer takes its lock this way.
    """
    if connection.dialect.name != "postgresql" or not _pipelines():
        for statement, params in statements:
            execute(connection, statement, params)
        return
    if not connection.in_transaction():
        connection.begin()
    proxied = connection.connection
    driver: Any = proxied.driver_connection
    cursor = proxied.cursor()
    statement, params = "", ()
    try:
        with driver.pipeline():  # leaving it waits for every answer
            for statement, params in statements:
                cursor.execute(statement, params)
    except connection.dialect.loaded_dbapi.Error as error:
        raise _driver_error(connection, cursor, statement, params, error, False) from error
    finally:
        cursor.close()


@lru_cache(maxsize=1)
def _pipelines() -> bool:
    """Whether psycopg's libpq has pipeline mode (libpq 14)."""
    import psycopg

    return psycopg.Pipeline.is_supported()


def _driver_error(
    connection: Connection,
    cursor: Any,
    statement: str,
    params: Sequence[Any],
    error: Exception,
    many: bool,
) -> BaseException:
    dbapi_error: Any = error
    lost = connection.dialect.is_disconnect(
        dbapi_error, connection.connection.dbapi_connection, cursor
    )
    if lost:
        connection.invalidate(error)
    return DBAPIError.instance(
        statement,
        params,
        error,
        connection.dialect.loaded_dbapi.Error,
        hide_parameters=True,
        connection_invalidated=lost,
        dialect=connection.dialect,
        ismulti=many,
    )


_encode = msgspec.json.Encoder()


def json_text(value: Any) -> str | None:
    """A JSON column's value as the text the drivers store (None stays SQL NULL)."""
    return None if value is None else _encode.encode(value).decode()


@lru_cache(maxsize=64)
def _statement(
    dialect: Dialect,
    table: Table,
    columns: tuple[str, ...],
    conflict: tuple[str, ...],
) -> str:
    quote = dialect.identifier_preparer.quote
    marker = "?" if dialect.paramstyle == "qmark" else "%s"
    names = ", ".join(quote(c) for c in columns)
    sql = f"INSERT INTO {quote(table.name)} ({names}) VALUES ({', '.join([marker] * len(columns))})"
    if conflict:
        keys = ", ".join(quote(c) for c in conflict)
        kept = [c for c in columns if c not in conflict]
        updates = ", ".join(f"{quote(c)} = excluded.{quote(c)}" for c in kept)
        sql += f" ON CONFLICT ({keys}) DO UPDATE SET {updates}"
    return sql


def insert_rows(
    connection: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    conflict: tuple[str, ...] = (),
    encoded: bool = False,
) -> None:
    """Insert `rows` (dicts with the same keys); with `conflict` keys, replace existing rows.

    With `encoded`, JSON columns already hold their text (see `json_text`).
    """
    if not rows:
        return
    columns = tuple(rows[0])
    if encoded:
        params = [tuple(row.values()) for row in rows]
    else:
        json_columns = {c for c in columns if isinstance(table.c[c].type, JSON)}
        encoders = [json_text if c in json_columns else None for c in columns]
        params = [
            tuple(
                encode(row[column]) if encode is not None else row[column]
                for column, encode in zip(columns, encoders, strict=True)
            )
            for row in rows
        ]
    # One single-row statement for every row: psycopg sends executemany in pipeline mode (one
    # round trip) and parses the statement once. A multi-row VALUES statement was parsed again
    # on every call (too long for psycopg's cache): 7x the client CPU of executemany.
    statement = _statement(connection.dialect, table, columns, conflict)
    execute(connection, statement, params, many=True)


FEW: Final = 16
"""Up to this many rows go in one multi-row VALUES statement (one text per count, each prepared
once); more go as one array per column, whose conversion costs ~4 µs per column per call."""


@lru_cache(maxsize=64)
def _new_rows_statement(
    dialect: Dialect,
    table: Table,
    columns: tuple[str, ...],
    key: tuple[str, ...],
    returned: str,
    count: int,
) -> str:
    quote = dialect.identifier_preparer.quote
    if count <= FEW:
        row = f"({', '.join(['%s'] * len(columns))})"
        source = f"VALUES {', '.join([row] * count)}"
    else:
        arrays = ", ".join(f"%s::{table.c[c].type.compile(dialect=dialect)}[]" for c in columns)
        source = f"SELECT * FROM unnest({arrays})"
    return (
        f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in columns)}) {source} "
        f"ON CONFLICT ({', '.join(quote(c) for c in key)}) DO NOTHING RETURNING {quote(returned)}"
    )


def insert_new_rows(
    connection: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    key: tuple[str, ...],
    returned: str,
) -> set[Any]:
    """PostgreSQL: insert those of `rows` (JSON already encoded) whose `key` is not stored yet;
    the `returned` column of the rows inserted.

    The primary key's own uniqueness check is the lookup: no plan to go wrong, and no round trip
    before the insert. One statement: a few rows as VALUES, more as one array per column.
    """
    if not rows:
        return set()
    columns = tuple(rows[0])
    statement = _new_rows_statement(connection.dialect, table, columns, key, returned, len(rows))
    if len(rows) <= FEW:
        params: tuple[Any, ...] = tuple(value for row in rows for value in row.values())
    else:
        params = tuple([row[c] for row in rows] for c in columns)
    return {value for (value,) in execute(connection, statement, params)}


CHUNK = 500


@lru_cache(maxsize=256)
def _lookup(
    dialect: Dialect, table: Table, columns: tuple[str, ...], key: str, count: int, distinct: bool
) -> str:
    quote = dialect.identifier_preparer.quote
    selected = ", ".join(quote(c) for c in columns)
    if dialect.name == "postgresql":
        # One probe of the (project, key) index per value, whatever the statistics say. Without
        # column statistics (a table not yet analysed: a fresh database's first minute), the
        # planner takes `project = …` for selective and reads every row of the project to find
        # 500 ids, for an IN list and a join alike; OFFSET 0 keeps the subquery a separate
        # plan, run per value with both keys bound. One statement for any number of values.
        found = ", ".join(f"found.{quote(c)}" for c in columns)
        return (
            f"SELECT {'DISTINCT ' if distinct else ''}{found} FROM unnest(%s::text[]) AS wanted "
            f"CROSS JOIN LATERAL (SELECT {selected} FROM {quote(table.name)} "
            f"WHERE {quote('project')} = %s AND {quote(key)} = wanted.wanted OFFSET 0) AS found"
        )
    markers = ", ".join(["?"] * count)
    return (
        f"SELECT {'DISTINCT ' if distinct else ''}{selected} FROM {quote(table.name)} "
        f"WHERE {quote('project')} = ? AND {quote(key)} IN ({markers})"
    )


def rows_in(
    connection: Connection,
    table: Table,
    columns: tuple[str, ...],
    project: str,
    key: str,
    values: Iterable[str],
    distinct: bool = False,
) -> list[Any]:
    """`columns` of the rows of `project` whose `key` is one of `values` (on SQLite in chunks
    of `CHUNK` values, on PostgreSQL in one statement)."""
    items = sorted(set(values))
    if not items:
        return []
    dialect = connection.dialect
    if dialect.name == "postgresql":
        statement = _lookup(dialect, table, columns, key, 0, distinct)
        return execute(connection, statement, (items, project))
    found: list[Any] = []
    for start in range(0, len(items), CHUNK):
        chunk = items[start : start + CHUNK]
        statement = _lookup(dialect, table, columns, key, len(chunk), distinct)
        found.extend(execute(connection, statement, (project, *chunk)))
    return found


def update_row(
    connection: Connection, table: Table, keys: Mapping[str, Any], values: Mapping[str, Any]
) -> None:
    """Set `values` (JSON columns already encoded) on the row with these `keys`."""
    quote = connection.dialect.identifier_preparer.quote
    marker = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    assignments = ", ".join(f"{quote(c)} = {marker}" for c in values)
    conditions = " AND ".join(f"{quote(c)} = {marker}" for c in keys)
    statement = f"UPDATE {quote(table.name)} SET {assignments} WHERE {conditions}"
    execute(connection, statement, (*values.values(), *keys.values()))
