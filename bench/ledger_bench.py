"""Sustained records per second through ``SqlLedger.record()`` into SQLite and PostgreSQL.

    python -m bench.ledger_bench [--records 20000] [--batch-size 100]
    python bench/ledger_bench.py

The producer calls ``record()`` as fast as it can, yielding to the event loop every
``--chunk`` records and waiting for the writer when the queue is more than half full (so
that the figure is what the writer sustains, not how fast the spool fills). The clock runs
from the first ``record()`` until every record is committed. SQLite goes to a temporary
file; PostgreSQL to a fresh schema (dropped afterwards) of ``CONSENTGATE_TEST_PG_URL``
(default ``postgresql://postgres@127.0.0.1:5432/test``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from consentgate.ledger import ConsentRecord, SqlLedger
from consentgate.ledger.sql import database_url

PG_URL = os.environ.get("CONSENTGATE_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


@dataclass
class Result:
    """One backend's figures."""

    backend: str
    records: int
    seconds: float
    record_us: float
    batches: int
    spooled: int

    @property
    def rate(self) -> float:
        return self.records / self.seconds


def make_record(number: int) -> ConsentRecord:
    return ConsentRecord(
        consent_id=f"bench-{number:08d}",
        action="save",
        granted=("necessary", "analytics"),
        revision=1,
        country="DE",
        regulated=True,
        ip=f"198.51.100.{number % 250}",
        gpc=False,
        language="de",
        bundle_hash="bench-bundle",
        created_at=datetime.now(UTC),
    )


async def measure(name: str, url: str, args: argparse.Namespace, **options: Any) -> Result:
    """Push ``args.records`` records through one ledger and time them into the database."""
    records = [make_record(number) for number in range(args.records)]
    with tempfile.TemporaryDirectory() as spool_dir:
        ledger = SqlLedger(
            url,
            batch_size=args.batch_size,
            purge_interval=None,
            spool_path=Path(spool_dir) / "bench.spool",
            **options,
        )
        await ledger.prepare()  # schema creation is not part of the figure
        await ledger.start()
        half = args.queue_size // 2
        in_record = 0.0
        started = time.perf_counter()
        for offset in range(0, len(records), args.chunk):
            if ledger.queued > half:
                await ledger.flush()  # back-pressure: let the writer catch up
            before = time.perf_counter()
            for record in records[offset : offset + args.chunk]:
                ledger.record(record)
            in_record += time.perf_counter() - before
            await asyncio.sleep(0)
        if not await ledger.flush():
            raise SystemExit(f"{name}: the database failed")
        seconds = time.perf_counter() - started
        await ledger.close()
    return Result(
        name,
        len(records),
        seconds,
        in_record / len(records) * 1e6,
        ledger.batches,
        ledger.spooled,
    )


@asynccontextmanager
async def fresh_schema(url: str) -> AsyncIterator[str]:
    """A new PostgreSQL schema for one run, dropped afterwards."""
    name = f"cg_bench_{secrets.token_hex(6)}"
    dsn = database_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    admin = await asyncpg.connect(dsn, timeout=10)
    try:
        yield name
    finally:
        await admin.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        await admin.close()


def table(results: list[Result]) -> str:
    header = f"{'backend':<11} {'records':>8} {'seconds':>8} {'records/s':>10} "
    header += f"{'record() µs':>12} {'batches':>8} {'spooled':>8}"
    lines = [header, "-" * len(header)]
    for r in results:
        lines.append(
            f"{r.backend:<11} {r.records:>8} {r.seconds:>8.2f} {r.rate:>10,.0f} "
            f"{r.record_us:>12.2f} {r.batches:>8} {r.spooled:>8}"
        )
    return "\n".join(lines)


async def main(args: argparse.Namespace) -> None:
    results = []
    with tempfile.TemporaryDirectory() as directory:
        sqlite_url = f"sqlite:///{Path(directory) / 'bench.db'}"
        results.append(await measure("sqlite", sqlite_url, args))
    async with fresh_schema(args.pg_url) as schema:
        results.append(await measure("postgresql", args.pg_url, args, pg_schema=schema))
    print(table(results))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--queue-size", type=int, default=10_000)
    parser.add_argument("--chunk", type=int, default=200, help="records between yields")
    parser.add_argument("--pg-url", default=PG_URL)
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
