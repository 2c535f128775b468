"""Helpers shared by the ledger tests: records, a settable clock, databases that go down."""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from consentgate.ledger import ConsentRecord, SqlLedger
from consentgate.ledger.sql import database_url

PG_URL = os.environ.get("CONSENTGATE_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
T0 = datetime(2024, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
IP = "203.0.113.77"


def make_record(consent_id: str = "cid-1", **fields: Any) -> ConsentRecord:
    """A valid record; any field can be overridden."""
    values: dict[str, Any] = {
        "action": "accept_all",
        "granted": ("necessary", "functional", "analytics", "advertising"),
        "revision": 1,
        "country": "DE",
        "regulated": True,
        "ip": IP,
        "gpc": False,
        "language": "de",
        "bundle_hash": "bundle-1",
        "created_at": T0,
    }
    values.update(fields)
    return ConsentRecord(consent_id=consent_id, **values)


@dataclass
class Clock:
    """A clock the test moves by hand."""

    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now


def asyncpg_dsn(url: str = PG_URL) -> str:
    """The PostgreSQL URL in the form asyncpg itself takes."""
    return database_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@asynccontextmanager
async def pg_schema() -> AsyncIterator[str]:
    """A fresh, uniquely named schema, dropped afterwards. Fails when PostgreSQL is down."""
    name = f"cg_test_{secrets.token_hex(6)}"
    admin = await asyncpg.connect(asyncpg_dsn(), timeout=10)
    try:
        await admin.execute(f'CREATE SCHEMA "{name}"')
        yield name
    finally:
        await admin.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        await admin.close()


class PgSwitch:
    """An engine factory whose connections go to a closed port until :meth:`up`."""

    def __init__(self) -> None:
        self.dsn = f"postgresql://postgres@127.0.0.1:{closed_port()}/test"

    def factory(self, url: URL, **options: Any) -> AsyncEngine:
        return create_async_engine(url, async_creator=self._connect, **options)

    async def _connect(self) -> Any:
        return await asyncpg.connect(self.dsn, timeout=5)

    def up(self) -> None:
        self.dsn = asyncpg_dsn()


@dataclass
class Down:
    """A ledger whose database does not answer until :meth:`fix`."""

    backend: Backend
    url: str
    ledger: SqlLedger
    fix_database: Callable[[], object]

    def fix(self) -> None:
        self.fix_database()

    def reopen(self, **options: Any) -> SqlLedger:
        """Another ledger on the same (repaired) database and spool."""
        return self.backend.ledger(url=self.url, **options)


@dataclass
class Backend:
    """One database for one test: SQLite in a temporary directory or a fresh PG schema."""

    name: str
    url: str
    tmp: Path
    options: dict[str, Any] = field(default_factory=dict)
    ledgers: list[SqlLedger] = field(default_factory=list)

    @property
    def spool_path(self) -> Path:
        return self.tmp / "ledger.spool"

    def ledger(self, *, url: str | None = None, **options: Any) -> SqlLedger:
        """A ledger on this database (closed when the test ends)."""
        merged = {"spool_path": self.spool_path, "purge_interval": None, **self.options}
        merged.update(options)
        ledger = SqlLedger(url or self.url, **merged)
        self.ledgers.append(ledger)
        return ledger

    def down(self, **options: Any) -> Down:
        """A ledger whose database is down: a missing directory, or a closed port."""
        if self.name == "sqlite":
            missing = self.tmp / "missing"
            url = f"sqlite:///{missing / 'ledger.db'}"
            return Down(self, url, self.ledger(url=url, **options), missing.mkdir)
        switch = PgSwitch()
        ledger = self.ledger(engine_factory=switch.factory, **options)
        return Down(self, self.url, ledger, switch.up)

    async def query(self, statement: Any) -> list[Any]:
        """Run (and commit) a Core statement against this database, outside any ledger."""
        engine = create_async_engine(database_url(self.url))
        translate = {None: self.options.get("pg_schema")}
        try:
            async with engine.begin() as conn:
                conn = await conn.execution_options(schema_translate_map=translate)
                result = await conn.execute(statement)
                return list(result.all()) if result.returns_rows else []
        finally:
            await engine.dispose()

    async def close(self) -> None:
        for ledger in self.ledgers:
            await ledger.close(drain_seconds=0)


@asynccontextmanager
async def open_backend(name: str, tmp: Path) -> AsyncIterator[Backend]:
    """The database of one test, cleaned up afterwards (ledgers first, then the schema)."""
    async with AsyncExitStack() as stack:
        if name == "sqlite":
            (tmp / "db").mkdir()
            backend = Backend(name, f"sqlite:///{tmp / 'db' / 'ledger.db'}", tmp)
        else:
            schema = await stack.enter_async_context(pg_schema())
            backend = Backend(name, PG_URL, tmp, {"pg_schema": schema})
        stack.push_async_callback(backend.close)
        yield backend
