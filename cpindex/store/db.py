"""Engines and schema upgrades.

The only SQLite-specific code in cpindex lives in `_sqlite_pragmas`,
`_sqlite_bulk_pragmas` and `serialised` below (marked) and in the `sqlite` branch of
`make_engine` (its connection options); the only PostgreSQL-specific code in
`bulk_insert`, `reset_sequences`, the settings check, the shared round trips
(`read_in_one_trip`, `sent_with_commit`) and `serialised` (marked). Everything else is
portable SQLAlchemy Core, so a PostgreSQL URL in `CPINDEX_DATABASE_URL` works as well.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import platformdirs

try:
    import fcntl
except ImportError:  # Windows (the client's embedded demo index): one process, no queue
    fcntl = None  # type: ignore[assignment]
from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, Select, Table, create_engine, event, insert, make_url
from sqlalchemy.exc import DisconnectionError

__all__ = [
    "STORE_THREADS",
    "bulk_insert",
    "check_postgres_settings",
    "default_database_url",
    "is_sqlite",
    "make_engine",
    "postgres_settings_off",
    "read_in_one_trip",
    "reading",
    "reset_sequences",
    "sent_with_commit",
    "serialised",
    "upgrade",
]

_MIGRATIONS = Path(__file__).with_name("migrations")


def default_database_url() -> str:
    """`CPINDEX_DATABASE_URL`, else a SQLite file in the user's data folder (zero set-up)."""
    url = os.environ.get("CPINDEX_DATABASE_URL")
    if url:
        return url
    folder = Path(platformdirs.user_data_dir("cpindex", appauthor=False))
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder.chmod(0o700)  # it holds the store and the secret key: the owner's alone
    return f"sqlite:///{folder / 'cpindex.db'}"


def _create_private(database: str | None) -> None:
    """A new SQLite file is made 0600 first (SQLite gives its -wal/-shm files its mode)."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    with contextlib.suppress(FileExistsError, FileNotFoundError):  # sqlite says which
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def is_sqlite(engine: Engine | Connection) -> bool:
    return engine.dialect.name == "sqlite"


# --- SQLite-specific (the one marked place) ------------------------------------------------


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL so readers never wait for the writer; a busy timeout for several processes."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.execute("PRAGMA mmap_size=1073741824")
    cursor.close()


def _sqlite_bulk_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """Trade durability for speed while the seed loads millions of rows into a new file."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA synchronous=OFF")
    cursor.execute("PRAGMA foreign_keys=OFF")
    cursor.close()


# --- end of SQLite-specific code -----------------------------------------------------------


# --- PostgreSQL-specific (the one marked place) --------------------------------------------


def bulk_insert(connection: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert many rows of one shape (the seed's batches): COPY on PostgreSQL, where an
    INSERT per row spends most of a multi-million-row seed in the driver; else executemany.
    Columns left out get their server defaults either way (no Python-side defaults here)."""
    if not rows:
        return
    if connection.dialect.name != "postgresql":
        connection.execute(insert(table), rows)
        return
    columns = list(rows[0])
    names = ", ".join(f'"{c}"' for c in columns)
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor, cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row([row[c] for c in columns])


def reset_sequences(connection: Connection, tables: tuple[str, ...]) -> None:
    """After a bulk load with explicit ids, move PostgreSQL's id sequences past them.

    SQLite needs nothing: its INTEGER PRIMARY KEY always continues from the largest id.
    """
    if connection.dialect.name != "postgresql":
        return
    for table, column in (t.split(".") for t in tables):
        connection.exec_driver_sql(
            f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), "  # noqa: S608
            f"COALESCE((SELECT MAX({column}) FROM {table}), 0) + 1, false)"
        )


# What the index needs of a PostgreSQL server (docs/index.md shows the configuration
# snippet): name -> (test on the value in the setting's base unit, what to set). Memory
# sizes are compared in kB, whatever unit the server reports them in.
_PG_NEEDS: dict[str, tuple[Callable[[float], bool], str]] = {
    "shared_buffers": (lambda kb: kb >= 256 * 1024, "at least 256MB (a quarter of RAM)"),
    "effective_cache_size": (lambda kb: kb >= 1024 * 1024, "at least 1GB (most of RAM)"),
    "work_mem": (lambda kb: kb >= 8 * 1024, "at least 8MB"),
    "random_page_cost": (lambda cost: cost <= 1.5, "1.1 on SSD storage"),
    "jit": (lambda on: not on, "off (compiling a millisecond query costs more than it saves)"),
}
_PG_UNITS_KB = {"B": 1 / 1024, "kB": 1, "8kB": 8, "MB": 1024, "GB": 1024 * 1024}


def postgres_settings_off(connection: Connection) -> list[str]:
    """One line per setting of this PostgreSQL server that is off what the index needs."""
    if connection.dialect.name != "postgresql":
        return []
    rows = connection.exec_driver_sql(
        "SELECT name, setting, unit FROM pg_settings WHERE name = ANY(%(names)s)",
        {"names": list(_PG_NEEDS)},
    ).all()
    off = []
    for name, setting, unit in rows:
        test, wanted = _PG_NEEDS[name]
        if setting in ("on", "off"):
            value = 1.0 if setting == "on" else 0.0
        else:
            value = float(setting) * _PG_UNITS_KB.get(unit or "", 1)
        if not test(value):
            shown = f"{setting}{' x ' + unit if unit else ''}"
            off.append(f"{name} is {shown}; set {wanted}")
    return sorted(off)


def check_postgres_settings(engine: Engine) -> list[str]:
    """Warn on stderr about each PostgreSQL setting that is off (at start); the lines."""
    if engine.dialect.name != "postgresql":
        return []
    with engine.connect() as connection:
        off = postgres_settings_off(connection)
    for line in off:
        print(f"cpindex: warning: PostgreSQL setting {line} (docs/index.md)", file=sys.stderr)
    return off


def read_in_one_trip(
    conn: Connection, queries: Sequence[tuple[Select[Any], dict[str, Any]]]
) -> list[list[tuple[Any, ...]]]:
    """Each (SELECT, values)'s rows, in order, typed as `conn.execute` would give them.

    PostgreSQL (psycopg 3): sent together, answered in one round trip (libpq's pipeline).
    The server still runs them one after another, each with its own snapshot, so a lock the
    first takes (FOR UPDATE) is held before the next one reads. Elsewhere, one by one.
    The statements are built once and kept (compiled once here); their values must need no
    conversion (numbers and text).
    """
    raw = _pipeline_connection(conn)
    if raw is None:
        return [[tuple(row) for row in conn.execute(s, values)] for s, values in queries]
    prepared = [_compiled(statement, conn) for statement, _ in queries]
    with raw.pipeline():
        cursors = []
        for (sql, compiled, _), (_, values) in zip(prepared, queries, strict=True):
            cursor = raw.cursor()
            cursor.execute(sql, compiled.construct_params(values))
            cursors.append(cursor)
        answers = [cursor.fetchall() for cursor in cursors]
    return [
        [
            tuple(v if p is None else p(v) for p, v in zip(processors, row, strict=True))
            for row in rows
        ]
        for (_, _, processors), rows in zip(prepared, answers, strict=True)
    ]


@contextlib.contextmanager
def sent_with_commit(conn: Connection) -> Iterator[None]:
    """The writes made inside reach PostgreSQL together with the transaction's COMMIT, in
    one round trip (the caller's own commit then finds nothing left to do). Elsewhere they
    run as usual and the caller commits."""
    raw = _pipeline_connection(conn)
    if raw is None:
        yield
        return
    with raw.pipeline():
        yield
        raw.commit()


def _pipeline_connection(conn: Connection) -> Any | None:
    if conn.dialect.name != "postgresql" or conn.dialect.driver != "psycopg":
        return None
    return conn.connection.driver_connection


_COMPILED: dict[Select[Any], tuple[str, Any, list[Any]]] = {}


def _compiled(statement: Select[Any], conn: Connection) -> tuple[str, Any, list[Any]]:
    """(SQL, compiled form, result processors) for a kept statement, compiled once."""
    found = _COMPILED.get(statement)
    if found is None:
        dialect = conn.dialect
        compiled = statement.compile(dialect=dialect)
        processors = [
            column.type.dialect_impl(dialect).result_processor(dialect, None)
            for column in statement.selected_columns
        ]
        found = _COMPILED[statement] = (str(compiled), compiled, processors)
    return found


# --- end of PostgreSQL-specific code -----------------------------------------------------


@contextlib.contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    """A connection for reads that need no one snapshot: each statement stands alone, so
    PostgreSQL is sent no BEGIN and no ROLLBACK (two round trips a search saves)."""
    with engine.connect() as conn:
        yield conn.execution_options(isolation_level="AUTOCOMMIT")


# --- SQLite- and PostgreSQL-specific: serialised writes (the one marked place) ------------


@contextlib.contextmanager
def serialised(engine: Engine) -> Iterator[Connection]:
    """A write transaction for read-modify-write of shared state (audit head, counters).

    SQLite: `BEGIN IMMEDIATE` takes the database's write lock before the first read, so a
    second process waits (busy timeout) instead of failing on a stale snapshot.
    PostgreSQL: a plain transaction; callers lock the rows they change with
    `SELECT ... FOR UPDATE` (`with_for_update()`) or change them with one atomic UPDATE.
    """
    with _writer_turn(engine), engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.rollback()
            raise
        conn.commit()


@contextlib.contextmanager
def _writer_turn(engine: Engine) -> Iterator[None]:
    """SQLite file: queue for the write lock on a lock file (`flock`) first.

    Processes that meet on SQLite's own lock wait in its busy handler, which sleeps in
    growing steps (up to 100 ms) whatever the lock's holder does: with several server
    processes that sleep is the latency tail. The kernel wakes a process waiting on
    `flock` the moment the holder is done. One open file per turn: `flock` excludes other
    opens, so threads of one process queue too. PostgreSQL queues on its row locks.
    """
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if fcntl is None or not database or database == ":memory:" or database.startswith("file:"):
        yield
        return
    fd = os.open(f"{database}-writer.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


# --- end of serialised writes -----------------------------------------------------------------


# Threads a server process runs its store work on (the event loop hands requests to them):
# enough to overlap the store's round trips, few enough that the audit writer's thread is
# not one of forty queueing for the GIL. The pool holds a connection for each, the
# writer's and a few to spare, so none is opened and closed per request under load.
STORE_THREADS = 16
_POOL_SIZE = STORE_THREADS + 4
_POOL_OVERFLOW = 10  # beyond: wait for one (pool_timeout), never an unbounded number
_PING_AFTER_IDLE_SECONDS = 30.0


def make_engine(url: str, *, bulk_load: bool = False) -> Engine:
    """An engine for `url`; SQLite files get WAL and a busy timeout.

    `bulk_load` is for the seed only: on SQLite it turns off syncing and foreign-key checks.
    """
    if url.startswith("sqlite"):
        database = make_url(url).database
        in_memory = not database or database == ":memory:" or "mode=memory" in url
        pool = {} if in_memory else {"pool_size": _POOL_SIZE, "max_overflow": _POOL_OVERFLOW}
        engine = create_engine(url, connect_args={"check_same_thread": False}, **pool)
        _create_private(engine.url.database)
        event.listen(engine, "connect", _sqlite_pragmas)
        if bulk_load:
            event.listen(engine, "connect", _sqlite_bulk_pragmas)
        return engine
    engine = create_engine(
        url,
        pool_size=_POOL_SIZE,
        max_overflow=_POOL_OVERFLOW,
        connect_args={"options": _PG_SESSION_OPTIONS},
    )
    event.listen(engine, "checkin", _idle_from_now)
    event.listen(engine, "checkout", functools.partial(_ping_if_idle, engine.dialect))
    return engine


def _idle_from_now(_dbapi_connection: Any, record: Any) -> None:
    record.info["idle_since"] = time.monotonic()


def _ping_if_idle(dialect: Any, dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    """Check a connection that sat idle before handing it out (the server may have restarted
    or dropped it meanwhile): a dead one is replaced, and the request never sees it. One
    in use moments ago is not checked: a ping on every checkout was a round trip a search."""
    idle_since = record.info.get("idle_since")
    if idle_since is None or time.monotonic() - idle_since < _PING_AFTER_IDLE_SECONDS:
        return
    try:
        alive = dialect.do_ping(dbapi_connection)
    except Exception:
        alive = False
    if not alive:
        raise DisconnectionError("an idle connection was dropped by the server")


# Set on every PostgreSQL session the index opens, whatever the server's defaults: right
# for its queries (index probes of a few rows) on any server, and harmless to others'.
# What a session cannot set (shared_buffers, effective_cache_size) the start-up check names.
_PG_SESSION_OPTIONS = "-c jit=off -c random_page_cost=1.1 -c work_mem=16MB"


def _alembic_config(connection: Connection) -> Config:
    """A programmatic Alembic config: works whatever the current directory is."""
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema up to `revision` (creates it on an empty database)."""
    with engine.begin() as connection:
        command.upgrade(_alembic_config(connection), revision)
