"""The SQL ledger: proofs of consent in SQLite or PostgreSQL, through SQLAlchemy Core (async).

Schema (version :data:`SCHEMA_VERSION`, created by :meth:`SqlLedger.start` /
:meth:`SqlLedger.prepare`):

``consent_records``
    one row per decision: ``id`` (autoincrement), ``consent_id``, ``created_at`` (UTC; a
    ``timestamptz`` in PostgreSQL, ``YYYY-MM-DD HH:MM:SS.ffffff`` text in SQLite, always read
    back as an aware UTC datetime), ``action``, ``granted`` (a JSON array of category names),
    ``revision``, ``country``, ``regulated``, ``ip`` (NULL once ``ip_retention_days`` have
    passed), ``ip_prefix`` (IPv4 /24, IPv6 /48; kept), ``gpc``, ``language``, ``bundle_hash``,
    ``tc_string`` (the IAB TCF TC string in TCF mode; added in place to older databases).
    No user agent, no other personal data. Indexed on ``consent_id`` and ``created_at``.

    **Erasures** are rows of this table too: ``action = 'erase'``, ``consent_id`` NULL, and
    ``id_hash`` = :func:`~consentgate.ledger.erase_hash` of the erased id under the ledger's
    ``erase_key``; every other column is NULL. A CHECK constraint keeps decision rows complete
    and erase rows free of the id.
``text_bundles``
    ``hash`` (primary key), ``created_at``, ``texts`` (JSON): every banner text as shown, once.
``meta``
    ``key``/``value`` rows: ``schema_version`` and ``erase_key`` (32 random bytes, hex, made
    once per ledger by whichever worker creates the schema first).

Schema creation runs in one transaction, under ``pg_advisory_xact_lock`` in PostgreSQL (many
workers start at once) and ``BEGIN IMMEDIATE`` in SQLite. SQLite runs in WAL mode with a busy
timeout and ``synchronous=NORMAL`` (a process crash loses nothing committed; in the rare power
loss the last commits may go, as the in-memory queue would anyway).

Writing: :meth:`SqlLedger.record` and :meth:`SqlLedger.store_bundle` only append to an
in-process queue (bounded by ``queue_size``); a background task writes it in batches of
``batch_size``, one transaction per batch, at least every ``flush_interval`` seconds. While the
database is down the task retries with exponential backoff (capped at 30 s) and the site keeps
serving; when the queue is full, items go to the spool file (:mod:`.spool`), which is replayed
into the database once it answers again. Only when the spool cannot be written either is an
item dropped, counted in ``dropped`` and logged. Logs name causes, never IPs or consent ids
(aiosqlite's own DEBUG log prints statement parameters: keep the ``aiosqlite`` logger above
DEBUG in production).
"""

from __future__ import annotations

import asyncio
import importlib
import json
import logging
import math
import os
import secrets
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager, suppress
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from os import PathLike
from pathlib import Path
from typing import Any, Protocol, TypeGuard

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ColumnElement,
    Connection,
    Dialect,
    Index,
    Integer,
    MetaData,
    Row,
    Table,
    Text,
    TypeDecorator,
    delete,
    event,
    exists,
    func,
    inspect,
    select,
    update,
)
from sqlalchemy import DateTime as _DateTime
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.schema import CreateSchema

from ..errors import LedgerError
from ..paths import data_dir
from .base import ConsentRecord, erase_hash
from .spool import Spool, TextBundle
from .stats import CHOICES, DECISIONS, LedgerStats, build_stats, window_start

__all__ = [
    "SCHEMA_VERSION",
    "EngineFactory",
    "SqlLedger",
    "UtcDateTime",
    "consent_records",
    "database_url",
    "meta",
    "metadata",
    "text_bundles",
]

log = logging.getLogger("consentgate.ledger")

#: The layout this code reads and writes; a database with another version is refused.
SCHEMA_VERSION = 1
_SPOOL_NAME = "consentgate-ledger.spool"
# Any fixed 63-bit number: every consentgate worker takes the same lock around schema creation.
_SCHEMA_LOCK = 0x636F_6E73_656E_7467
_BACKOFF_START = 0.1
_BACKOFF_CAP = 30.0
_FIRST_PURGE_DELAY = 5.0
_CLOSE_GRACE = 1.0
_DROP_LOG_EVERY = 60.0
_SQLITE_BUSY_TIMEOUT_MS = 5000
_SQLITE_SETTLE = 0.01
_PG_CONNECT_TIMEOUT = 10
# Execution option marking write transactions, which SQLite must begin IMMEDIATE.
_WRITE = "consentgate_write"
_ERASE = "erase"
_INT64 = 2**63
_DRIVERS = {"sqlite": "aiosqlite", "postgresql": "asyncpg"}

Item = ConsentRecord | TextBundle


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, whatever the database keeps."""

    impl = _DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Store UTC; SQLite keeps naive text, so the zone is dropped there (always UTC)."""
        if value is None:
            return None
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Read back as an aware UTC datetime."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


#: Columns added to ``consent_records`` since schema version 1; start-up adds them in place.
_ADDED_TEXT_COLUMNS = ("tc_string",)
#: The ledger's tables (see the module docstring).
metadata = MetaData()
#: One row per decision, and one per erasure.
consent_records = Table(
    "consent_records",
    metadata,
    # BIGINT is not SQLite's rowid alias, so it would not autoincrement there.
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True),
    Column("consent_id", Text),
    Column("created_at", UtcDateTime(timezone=True), nullable=False),
    Column("action", Text, nullable=False),
    Column("granted", Text),
    Column("revision", BigInteger),
    Column("country", Text),
    Column("regulated", Boolean),
    Column("ip", Text),
    Column("ip_prefix", Text),
    Column("gpc", Boolean),
    Column("language", Text),
    Column("bundle_hash", Text),
    Column("id_hash", Text),
    # Added after schema version 1 was released: older databases get it at start-up.
    Column("tc_string", Text),
    CheckConstraint(
        "(action = 'erase' AND consent_id IS NULL AND id_hash IS NOT NULL)"
        " OR (action <> 'erase' AND consent_id IS NOT NULL AND granted IS NOT NULL"
        " AND revision IS NOT NULL AND regulated IS NOT NULL AND gpc IS NOT NULL)",
        name="ck_consent_records_complete",
    ),
    Index("ix_consent_records_consent_id", "consent_id"),
    Index("ix_consent_records_created_at", "created_at"),
)
#: Every banner text as shown, once per hash.
text_bundles = Table(
    "text_bundles",
    metadata,
    Column("hash", Text, primary_key=True),
    Column("created_at", UtcDateTime(timezone=True), nullable=False),
    Column("texts", JSON, nullable=False),
)
#: ``schema_version`` and ``erase_key``.
meta = Table(
    "meta",
    metadata,
    Column("key", Text, primary_key=True),
    Column("value", Text, nullable=False),
)


class EngineFactory(Protocol):
    """Makes the engine of a ledger from its URL and the engine options the ledger wants.

    The default is :func:`sqlalchemy.ext.asyncio.create_async_engine`; pass another to decide
    how connections are made (for example a test that points them at a server that is down
    and later at one that is up).
    """

    def __call__(self, url: URL, **options: Any) -> AsyncEngine:
        """Return an engine for ``url`` configured with ``options``."""
        ...


def database_url(url: str) -> URL:
    """The async SQLAlchemy URL for a ``ledger_url``.

    ``sqlite:///path`` becomes ``sqlite+aiosqlite:///path``, ``postgresql://`` and
    ``postgres://`` become ``postgresql+asyncpg://``; an explicit ``+driver`` is kept.
    Raises :class:`LedgerError` for other databases and when asyncpg is missing.
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise LedgerError(f"ledger_url: {url!r} is not a database URL") from None
    backend, _, driver = parsed.drivername.partition("+")
    backend = "postgresql" if backend == "postgres" else backend
    if backend not in _DRIVERS:
        raise LedgerError(
            f"ledger_url: {backend!r} databases are not supported; use sqlite:/// or postgresql://"
        )
    driver = driver or _DRIVERS[backend]
    if driver == "asyncpg":
        try:
            importlib.import_module("asyncpg")
        except ImportError:
            raise LedgerError(
                "ledger_url: PostgreSQL needs asyncpg: pip install 'consentgate[postgres]'"
            ) from None
    return parsed.set(drivername=f"{backend}+{driver}")


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _reason(exc: BaseException) -> str:
    """One line naming what went wrong; statement parameters (IPs, ids) are never in it."""
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


@contextmanager
def _as_ledger_error(what: str) -> Iterator[None]:
    """Turn any database or driver failure into a :class:`LedgerError` saying ``what`` failed."""
    try:
        yield
    except LedgerError:
        raise
    except Exception as exc:  # drivers raise their own classes too (asyncpg at connect time)
        raise LedgerError(f"ledger: {what}: {_reason(exc)}") from exc


def _text_ok(value: object, *, optional: bool = False) -> bool:
    # NUL, control characters and lone surrogates are refused by one database or the other.
    return (optional and value is None) or (isinstance(value, str) and value.isprintable())


def _storable(item: Item) -> bool:
    """Whether both databases accept ``item`` as it is: a bad item must not block its batch."""
    if isinstance(item, TextBundle):
        return _text_ok(item.hash) and item.created_at.tzinfo is not None
    optional = (
        item.country,
        item.ip,
        item.ip_prefix,
        item.language,
        item.bundle_hash,
        item.tc_string,
    )
    return (
        item.action != _ERASE
        and _text_ok(item.consent_id)
        and _text_ok(item.action)
        and isinstance(item.granted, tuple)
        and all(_text_ok(name) for name in item.granted)
        and all(_text_ok(value, optional=True) for value in optional)
        and type(item.revision) is int
        and -_INT64 <= item.revision < _INT64
        and isinstance(item.regulated, bool)
        and isinstance(item.gpc, bool)
        and isinstance(item.created_at, datetime)
        and item.created_at.tzinfo is not None
    )


def _is_record_of(item: Item, consent_id: str) -> TypeGuard[ConsentRecord]:
    return isinstance(item, ConsentRecord) and item.consent_id == consent_id


@lru_cache(maxsize=1024)
def _granted_text(granted: tuple[str, ...]) -> str:
    """The stored JSON form of a grant; a site has only a handful of distinct ones."""
    return json.dumps(list(granted), separators=(",", ":"))


def _record_row(record: ConsentRecord) -> dict[str, Any]:
    return {
        "consent_id": record.consent_id,
        "created_at": record.created_at,
        "action": record.action,
        "granted": _granted_text(record.granted),
        "revision": record.revision,
        "country": record.country,
        "regulated": record.regulated,
        "ip": record.ip,
        "ip_prefix": record.ip_prefix,
        "gpc": record.gpc,
        "language": record.language,
        "bundle_hash": record.bundle_hash,
        "id_hash": None,
        "tc_string": record.tc_string,
    }


def _record_dict(row: Row[Any]) -> dict[str, Any]:
    """A stored row in the shape of :meth:`ConsentRecord.as_dict`."""
    return {
        "consent_id": row.consent_id,
        "action": row.action,
        "granted": json.loads(row.granted) if row.granted is not None else None,
        "revision": row.revision,
        "country": row.country,
        "regulated": row.regulated,
        "ip": row.ip,
        "gpc": row.gpc,
        "language": row.language,
        "bundle_hash": row.bundle_hash,
        "created_at": row.created_at.isoformat(),
        "ip_prefix": row.ip_prefix,
        "tc_string": row.tc_string,
    }


def _add_missing_columns(conn: Connection) -> None:
    """Add the nullable text columns that ``consent_records`` gained after schema version 1."""
    schema = conn.get_execution_options().get("schema_translate_map", {}).get(None)
    present = {c["name"] for c in inspect(conn).get_columns(consent_records.name, schema=schema)}
    quote = conn.dialect.identifier_preparer
    table = quote.quote(consent_records.name)
    if schema:
        table = f"{quote.quote_schema(schema)}.{table}"
    for name in _ADDED_TEXT_COLUMNS:
        if name not in present:
            conn.exec_driver_sql(f"ALTER TABLE {table} ADD COLUMN {quote.quote(name)} TEXT")


def _default_spool_path(url: URL) -> Path:
    database = url.database or ""
    # In-memory and URI-style SQLite databases have no directory to sit beside.
    beside = database not in ("", ":memory:") and not database.startswith("file:")
    if url.get_backend_name() == "sqlite" and beside:
        return Path(database).parent / _SPOOL_NAME
    # Never the directory the server happens to start in.
    directory = data_dir()
    with suppress(OSError):  # unwritable: appending fails later and is counted as dropped
        directory.mkdir(parents=True, exist_ok=True)
    return directory / _SPOOL_NAME


def _use_sqlite_transactions(engine: AsyncEngine) -> None:
    """WAL, a busy timeout, and BEGIN issued by us (the driver skips it before DDL).

    Writes begin IMMEDIATE, so that a writer waits for the lock up front instead of failing
    when it upgrades a read transaction.
    """

    def connect(dbapi_connection: Any, _record: Any) -> None:
        try:
            dbapi_connection.isolation_level = None  # the driver's own BEGIN would skip DDL
            cursor = dbapi_connection.cursor()
            cursor.execute(f"PRAGMA busy_timeout = {_SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute("PRAGMA journal_mode")
            if cursor.fetchone()[0] != "wal":
                # Busy at once (whatever the timeout) while another connection switches the
                # file to WAL; the mode is kept in the file, so this connection follows it.
                with suppress(dbapi_connection.dbapi.OperationalError):
                    cursor.execute("PRAGMA journal_mode = WAL")
            cursor.close()
        except BaseException:
            dbapi_connection.close()  # the pool leaves a connection whose set-up failed open
            raise

    def begin(connection: Connection) -> None:
        write = connection.get_execution_options().get(_WRITE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    event.listen(engine.sync_engine, "connect", connect)
    event.listen(engine.sync_engine, "begin", begin)


def _create_private_sqlite_file(engine: AsyncEngine, url: URL) -> None:
    """Create the SQLite file 0600 (whatever the umask) before SQLite first opens it.

    The file holds full IP addresses; SQLite gives its ``-wal`` and ``-shm`` files the
    database file's mode, so they are private too.
    """
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return
    path = Path(database)

    def do_connect(*_args: Any) -> None:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError:
            return  # already there (kept as the operator made it), or SQLite reports the error
        try:
            os.fchmod(fd, 0o600)
        finally:
            os.close(fd)

    event.listen(engine.sync_engine, "do_connect", do_connect)


async def _counts(conn: AsyncConnection, *keys: Any, where: Iterable[Any]) -> list[tuple[Any, ...]]:
    """``(*keys, count)`` for each group of rows matching ``where``."""
    query = select(*keys, func.count()).where(*where).group_by(*keys)
    return [tuple(row) for row in await conn.execute(query)]


async def _wait(signal: asyncio.Event, seconds: float) -> None:
    """Sleep ``seconds`` or until ``signal`` is set."""
    with suppress(TimeoutError):
        await asyncio.wait_for(signal.wait(), seconds)


class SqlLedger:
    """A :class:`~consentgate.ledger.Ledger` in SQLite or PostgreSQL (see the module docstring).

    ``url`` is a ``ledger_url`` (:func:`database_url`). Options: ``ip_retention_days`` and
    ``record_retention_days`` (see :meth:`purge`); ``spool_path`` (default: next to an SQLite
    database file, else in the working directory, named ``consentgate-ledger.spool``);
    ``queue_size``, ``batch_size``, ``flush_interval`` (seconds) of the write queue; ``clock``,
    the source of "now" (erase records, retention); ``purge_interval``, seconds between
    automatic purges (the first runs a few seconds after :meth:`start`; None: never);
    ``pg_schema``, the PostgreSQL schema for the tables (created if missing; default: the
    connection's search path); ``engine_factory`` (:class:`EngineFactory`).

    Counters of queue items (a record or a text bundle): ``written`` (into the database),
    ``spooled`` (into the spool file), ``dropped`` (lost, because they were not storable or
    the spool failed too), ``batches`` (write transactions committed) and ``spool_skipped``
    (torn or unreadable spool lines passed over on replay).
    """

    def __init__(
        self,
        url: str,
        *,
        ip_retention_days: int = 30,
        record_retention_days: int = 1095,
        spool_path: str | PathLike[str] | None = None,
        queue_size: int = 10_000,
        batch_size: int = 100,
        flush_interval: float = 0.2,
        clock: Callable[[], datetime] = _utcnow,
        purge_interval: float | None = 3600.0,
        pg_schema: str | None = None,
        engine_factory: EngineFactory = create_async_engine,
    ) -> None:
        for name, count in (
            ("ip_retention_days", ip_retention_days),
            ("record_retention_days", record_retention_days),
            ("queue_size", queue_size),
            ("batch_size", batch_size),
        ):
            if count < 1:
                raise LedgerError(f"ledger: {name} must be at least 1, not {count}")
        for name, seconds in (
            ("flush_interval", flush_interval),
            ("purge_interval", purge_interval),
        ):
            if seconds is not None and not seconds > 0:
                raise LedgerError(f"ledger: {name} must be more than 0 seconds, not {seconds}")
        target = database_url(url)
        self._dialect = target.get_backend_name()
        if pg_schema is not None and (self._dialect != "postgresql" or not pg_schema):
            raise LedgerError("ledger: pg_schema names a schema of a PostgreSQL ledger_url")
        options: dict[str, Any] = {"hide_parameters": True, "pool_pre_ping": True}
        if target.get_driver_name() == "asyncpg":
            options["connect_args"] = {"timeout": _PG_CONNECT_TIMEOUT}
        try:
            self._engine = engine_factory(target, **options)
        except Exception as exc:  # a missing or sync-only explicit driver
            raise LedgerError(
                f"ledger_url: cannot use {target.drivername}: {_reason(exc)}"
            ) from exc
        if self._dialect == "sqlite":
            _use_sqlite_transactions(self._engine)
            _create_private_sqlite_file(self._engine, target)
        #: The ledger URL, password masked.
        self.url = target.render_as_string(hide_password=True)
        self._db = self._engine.execution_options(schema_translate_map={None: pg_schema})
        self._writer = self._db.execution_options(**{_WRITE: True})
        self._pg_schema = pg_schema
        insert = sqlite_insert if self._dialect == "sqlite" else pg_insert
        # Bundles and meta rows may already be there (another worker, an earlier run).
        self._insert_bundles = insert(text_bundles).on_conflict_do_nothing()
        self._insert_meta = insert(meta).on_conflict_do_nothing()

        self._ip_retention = timedelta(days=ip_retention_days)
        self._record_retention = timedelta(days=record_retention_days)
        self._spool = Spool(spool_path if spool_path is not None else _default_spool_path(target))
        self._queue_size = queue_size
        self._batch_size = batch_size
        self._flush_interval = flush_interval
        self._clock = clock
        self._purge_interval = purge_interval

        self._pending: deque[Item] = deque()
        self._bundle_hashes: set[str] = set()
        self._lock = asyncio.Lock()  # one writer at a time: batches, replays, erasures
        self._schema_lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()
        self._erase_key: bytes | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._sync_task: asyncio.Task[None] | None = None
        self._spool_waiting = True  # a spool left by an earlier run is replayed first
        self._spool_unsynced = False
        self._stopping = False
        self._closed = False
        self._outage = False
        self._last_drop_log = -math.inf

        self.written = 0
        self.spooled = 0
        self.dropped = 0
        self.batches = 0
        self.spool_skipped = 0

    @property
    def ready(self) -> bool:
        """Whether the schema is known to be in place."""
        return self._erase_key is not None

    @property
    def queued(self) -> int:
        """Items waiting in the in-process queue."""
        return len(self._pending)

    # -- life cycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the background writer (which creates the schema) and the purger.

        Returns at once and never fails because the database is down: the writer retries.
        """
        if self._tasks or self._closed:
            return
        loop = asyncio.get_running_loop()
        self._tasks.append(loop.create_task(self._flush_loop(), name="consentgate-ledger-flush"))
        if self._purge_interval is not None:
            purger = self._purge_loop(self._purge_interval)
            self._tasks.append(loop.create_task(purger, name="consentgate-ledger-purge"))

    async def prepare(self) -> None:
        """Create or check the schema now, without background tasks (one-shot use, commands).

        Raises :class:`LedgerError` when the database cannot be reached.
        """
        await self._ensure_schema()

    async def close(self, drain_seconds: float = 5.0) -> None:
        """Write what is queued within ``drain_seconds``, spool the rest, release the engine.

        A database call already under way may take up to a second more to end: cut off, a
        driver thread (aiosqlite) would outlive the event loop.
        """
        if self._closed:
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(0.0, drain_seconds)

        def time_left() -> float:  # until the deadline, plus the grace for a call under way
            return max(0.0, deadline + _CLOSE_GRACE - loop.time())

        self._stopping = True
        self._stop.set()
        self._wake.set()
        if self._tasks:
            # Both tasks stop after their current step.
            _, running = await asyncio.wait(self._tasks, timeout=time_left())
            for task in running:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if loop.time() < deadline:
            with suppress(TimeoutError):
                await asyncio.wait_for(self._write_pending(deadline), time_left())
        self._closed = True
        leftovers = list(self._pending)
        self._pending.clear()
        if leftovers:
            self._spool_items(leftovers)
        if self._sync_task is not None:
            await self._sync_task
        await self._engine.dispose()
        if self._dialect == "sqlite":
            # After a failed connect aiosqlite stops its worker thread without waiting for it;
            # a moment without the GIL lets the thread finish before the event loop may close.
            await asyncio.sleep(_SQLITE_SETTLE)

    # -- writing ----------------------------------------------------------------------------

    def record(self, record: ConsentRecord) -> None:
        """Queue one record; returns at once (spools it when the queue is full)."""
        if _storable(record):
            self._enqueue(record)
        else:
            self._drop(1, "a record whose fields the database cannot store")

    def store_bundle(self, bundle_hash: str, texts: Mapping[str, Any]) -> None:
        """Queue a text bundle unless this ledger has already queued one under ``bundle_hash``."""
        if bundle_hash in self._bundle_hashes:
            return
        try:
            # A JSON copy: checked storable now, and safe from later changes by the caller.
            copy = json.loads(json.dumps(dict(texts), ensure_ascii=False).encode())
        except (TypeError, ValueError):  # not JSON, or a lone surrogate
            bundle = None
        else:
            bundle = TextBundle(hash=bundle_hash, texts=copy, created_at=self._clock())
        if bundle is None or not _storable(bundle):
            self._drop(1, "a text bundle that is not JSON text")
        elif self._enqueue(bundle):
            self._bundle_hashes.add(bundle_hash)

    def _enqueue(self, item: Item) -> bool:
        if self._closed or len(self._pending) >= self._queue_size:
            return self._spool_items([item])
        self._pending.append(item)
        if len(self._pending) >= self._batch_size:
            self._wake.set()
        return True

    def _spool_items(self, items: list[Item]) -> bool:
        try:
            self._spool.append(items)
        except OSError as exc:
            self._drop(len(items), f"the spool file cannot be written ({_reason(exc)})")
            return False
        self.spooled += len(items)
        self._spool_waiting = True
        self._spool_unsynced = True
        self._schedule_spool_sync()
        return True

    def _drop(self, count: int, why: str) -> None:
        self.dropped += count
        now = time.monotonic()
        if now - self._last_drop_log >= _DROP_LOG_EVERY:  # at most one line a minute
            self._last_drop_log = now
            log.error("ledger: dropped %s; %d items dropped so far", why, self.dropped)

    def _schedule_spool_sync(self) -> None:
        if self._sync_task is not None and not self._sync_task.done():
            return  # the running sync loops until nothing is left unsynced
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # called outside the event loop: sync right here
            self._spool_unsynced = False
            self._fsync_spool()
            return
        self._sync_task = loop.create_task(self._sync_spool_loop())

    async def _sync_spool_loop(self) -> None:
        while self._spool_unsynced:
            self._spool_unsynced = False
            await asyncio.to_thread(self._fsync_spool)

    def _fsync_spool(self) -> None:
        try:
            self._spool.sync()
        except OSError as exc:
            log.warning("ledger: cannot fsync the spool file (%s)", _reason(exc))

    async def flush(self) -> bool:
        """Write everything queued or spooled now; False when the database failed."""
        return await self._write_pending()

    async def _flush_loop(self) -> None:
        delay = 0.0
        while not self._stopping:
            written = await self._write_pending()
            delay = 0.0 if written else min(_BACKOFF_CAP, max(_BACKOFF_START, delay * 2))
            if delay:
                await _wait(self._stop, delay)
            else:
                await _wait(self._wake, self._flush_interval)
                self._wake.clear()

    async def _write_pending(self, deadline: float | None = None) -> bool:
        """Replay the spool and write the queue batch by batch; False on a database failure."""
        loop = asyncio.get_running_loop()
        async with self._lock:
            try:
                await self._ensure_schema()
                await self._replay_spool()
                while self._pending and (deadline is None or loop.time() < deadline):
                    if self._stopping and deadline is None:
                        break  # close() drains from here on, under its own deadline
                    size = min(self._batch_size, len(self._pending))
                    batch = [self._pending.popleft() for _ in range(size)]
                    try:
                        await self._write_batch(batch)
                    except BaseException:
                        self._pending.extendleft(reversed(batch))
                        raise
            except Exception as exc:
                if not self._outage:
                    log.warning(
                        "ledger: database unavailable (%s); %d items queued, retrying",
                        _reason(exc),
                        len(self._pending),
                    )
                self._outage = True
                return False
        if self._outage:
            log.warning("ledger: database available again")
            self._outage = False
        return True

    async def _write_batch(self, items: list[Item]) -> None:
        """Write ``items`` in one transaction: all of them or none."""
        records = [_record_row(item) for item in items if isinstance(item, ConsentRecord)]
        bundles = [
            {"hash": item.hash, "created_at": item.created_at, "texts": item.texts}
            for item in items
            if isinstance(item, TextBundle)
        ]
        async with self._writer.begin() as conn:
            if bundles:
                await conn.execute(self._insert_bundles, bundles)
            if records:
                await conn.execute(consent_records.insert(), records)
        self.batches += 1
        self.written += len(items)

    async def _replay_spool(self) -> None:
        """Write every spooled item into the database (callers hold ``_lock``)."""
        if not self._spool_waiting:
            return
        for path in await asyncio.to_thread(self._spool.claim):
            with self._spool.reader(path) as reader:
                if reader is None:
                    continue  # another process is replaying it
                try:
                    while True:
                        items = await asyncio.to_thread(reader.read, self._batch_size)
                        storable = [item for item in items if _storable(item)]
                        if storable:
                            await self._write_batch(storable)
                        reader.commit(unstorable=len(items) - len(storable))
                        if not items:
                            break
                except BaseException:
                    try:
                        reader.keep_rest()
                    except OSError as exc:  # the whole file stays: replayed again, at least once
                        log.warning("ledger: cannot trim the spool file (%s)", _reason(exc))
                    raise
                finally:
                    self.spool_skipped += reader.skipped
                reader.remove()
        self._spool_waiting = False

    # -- schema -----------------------------------------------------------------------------

    async def _ensure_schema(self) -> bytes:
        """The ledger's erase key, creating the schema first if it is not known to exist."""
        if self._erase_key is not None:
            return self._erase_key
        async with self._schema_lock:
            if self._erase_key is None:
                self._erase_key = await self._create_schema()
        return self._erase_key

    async def _create_schema(self) -> bytes:
        with _as_ledger_error("cannot prepare the database"):
            async with self._writer.begin() as conn:
                if self._dialect == "postgresql":
                    await conn.execute(select(func.pg_advisory_xact_lock(_SCHEMA_LOCK)))
                    if self._pg_schema is not None:
                        await conn.execute(CreateSchema(self._pg_schema, if_not_exists=True))
                await conn.run_sync(metadata.create_all)
                await conn.run_sync(_add_missing_columns)
                await conn.execute(
                    self._insert_meta,
                    [
                        {"key": "schema_version", "value": str(SCHEMA_VERSION)},
                        {"key": "erase_key", "value": secrets.token_hex(32)},
                    ],
                )
                rows = await conn.execute(select(meta.c.key, meta.c.value))
                values = {key: value for key, value in rows}
        if values.get("schema_version") != str(SCHEMA_VERSION):
            raise LedgerError(
                f"ledger: the database has schema version {values.get('schema_version')}; "
                f"this consentgate reads version {SCHEMA_VERSION}: use a matching release"
            )
        return bytes.fromhex(values["erase_key"])

    @asynccontextmanager
    async def _transaction(
        self, what: str, *, write: bool = False
    ) -> AsyncIterator[AsyncConnection]:
        """A transaction on a ready schema; failures become :class:`LedgerError`."""
        await self._ensure_schema()
        with _as_ledger_error(what):
            async with (self._writer if write else self._db).begin() as conn:
                yield conn

    # -- reading, erasing, retention ---------------------------------------------------------

    def _queued_records(self, consent_id: str) -> list[ConsentRecord]:
        return [item for item in self._pending if _is_record_of(item, consent_id)]

    async def records_for(self, consent_id: str) -> list[dict[str, Any]]:
        """The records of ``consent_id``, oldest first, including those still queued.

        Each is a dict shaped like :meth:`ConsentRecord.as_dict` (``bundle_hash`` names the
        texts shown; :meth:`bundle` returns them).
        """
        column = consent_records.c
        query = (
            select(consent_records)
            .where(column.consent_id == consent_id)
            .order_by(column.created_at, column.id)
        )
        async with self._lock:  # no batch in flight: each record is stored or queued
            async with self._transaction("cannot read records") as conn:
                rows = (await conn.execute(query)).all()
            queued = self._queued_records(consent_id)
        found = [(row.created_at, _record_dict(row)) for row in rows]
        found += [(record.created_at, record.as_dict()) for record in queued]
        found.sort(key=lambda pair: pair[0])
        return [data for _, data in found]

    async def erase(self, consent_id: str) -> int:
        """Delete every record of ``consent_id``; the number deleted.

        Stored, spooled and queued records alike go, in one transaction that also writes one
        ``erase`` record holding only the time and the keyed hash of the id.
        """
        column = consent_records.c
        marker = {
            "created_at": self._clock(),
            "action": _ERASE,
            "id_hash": erase_hash(await self._ensure_schema(), consent_id),
        }
        async with self._lock:
            with _as_ledger_error("cannot erase"):
                await self._replay_spool()  # spooled records of the id must not come back
            async with self._transaction("cannot erase", write=True) as conn:
                where = column.consent_id == consent_id
                result = await conn.execute(delete(consent_records).where(where))
                await conn.execute(consent_records.insert().values(**marker))
            # Only now: had the transaction failed, the queued records would still be wanted.
            queued = len(self._pending)
            self._pending = deque(i for i in self._pending if not _is_record_of(i, consent_id))
            queued -= len(self._pending)
        return result.rowcount + queued

    async def bundle(self, bundle_hash: str) -> dict[str, Any] | None:
        """The texts stored under ``bundle_hash`` (or still queued), None if unknown."""
        query = select(text_bundles.c.texts).where(text_bundles.c.hash == bundle_hash)
        async with self._transaction("cannot read a text bundle") as conn:
            texts = (await conn.execute(query)).scalar_one_or_none()
        if texts is None:
            queued = (
                i for i in self._pending if isinstance(i, TextBundle) and i.hash == bundle_hash
            )
            texts = next((item.texts for item in queued), None)
        return dict(texts) if texts is not None else None

    async def purge(self, now: datetime | None = None) -> tuple[int, int]:
        """Apply retention; returns ``(IPs cleared, records deleted)``.

        The full IP of records older than ``ip_retention_days`` becomes NULL (the prefix
        stays); records older than ``record_retention_days`` are deleted, erase records too,
        and so are the text bundles that old that no record names any more.
        """
        now = now or self._clock()
        column = consent_records.c
        ip_cutoff = now - self._ip_retention
        record_cutoff = now - self._record_retention
        unused = ~exists().where(column.bundle_hash == text_bundles.c.hash)
        async with self._transaction("cannot purge", write=True) as conn:
            cleared = await conn.execute(
                update(consent_records)
                .where(column.ip.is_not(None), column.created_at < ip_cutoff)
                .values(ip=None)
            )
            deleted = await conn.execute(
                delete(consent_records).where(column.created_at < record_cutoff)
            )
            await conn.execute(
                delete(text_bundles).where(text_bundles.c.created_at < record_cutoff, unused)
            )
        self._bundle_hashes.clear()  # a bundle deleted here is stored again when next shown
        return cleared.rowcount, deleted.rowcount

    async def _purge_loop(self, interval: float) -> None:
        delay = min(_FIRST_PURGE_DELAY, interval)
        while not self._stopping:
            await _wait(self._stop, delay)
            delay = interval
            if self._stopping:
                return
            try:
                cleared, deleted = await self.purge()
            except LedgerError as exc:
                log.warning("%s; next purge in %.0f s", exc, interval)
            else:
                log.info("ledger: purge cleared %d IPs, deleted %d records", cleared, deleted)

    def _day(self) -> ColumnElement[str]:
        """``YYYY-MM-DD`` (UTC) of ``created_at``."""
        created_at = consent_records.c.created_at
        if self._dialect == "sqlite":
            return func.substr(created_at, 1, 10)  # stored as 'YYYY-MM-DD HH:MM:SS…' in UTC
        return func.to_char(func.timezone("UTC", created_at), "YYYY-MM-DD")

    async def stats(self, days: int | None = None, now: datetime | None = None) -> LedgerStats:
        """Aggregate counts only, over the last ``days`` calendar days (UTC) or all time.

        :mod:`consentgate.ledger.stats` says what each number means.
        """
        now = now or self._clock()
        try:
            since = window_start(now, days)
        except ValueError as exc:
            raise LedgerError(f"ledger: {exc}") from None
        column = consent_records.c
        window = [] if since is None else [column.created_at >= since]
        daily = select(self._day().label("day"), column.action).where(*window).subquery()
        decisions = [column.action.in_(DECISIONS), *window]

        async with self._transaction("cannot compute statistics") as conn:
            day_actions = await _counts(conn, daily.c.day, daily.c.action, where=())
            choices = [column.action.in_(CHOICES), *window]
            granted = await _counts(conn, column.granted, where=choices)
            countries = await _counts(conn, column.country, where=decisions)
            regulated = await _counts(conn, column.regulated, where=decisions)
        return build_stats(
            day_actions=day_actions,
            granted=[(tuple(json.loads(names)), count) for names, count in granted],
            countries=countries,
            regulated=regulated,
            generated_at=now,
            since=since,
            days=days,
        )

    async def export(
        self, since: datetime | None = None, include_ip: bool = False
    ) -> AsyncIterator[dict[str, Any]]:
        """Every record from ``since`` on, erase records too, oldest first, as JSON-ready dicts.

        Each has the :meth:`ConsentRecord.as_dict` fields and ``id_hash`` (set on erase
        records only); the full ``ip`` only with ``include_ip``, ``ip_prefix`` always.
        """
        column = consent_records.c
        query = select(consent_records).order_by(column.created_at, column.id)
        if since is not None:
            query = query.where(column.created_at >= since)
        async with self._transaction("cannot export") as conn:
            async for row in await conn.stream(query):
                data = _record_dict(row)
                data["id_hash"] = row.id_hash
                if not include_ip:
                    del data["ip"]
                yield data
