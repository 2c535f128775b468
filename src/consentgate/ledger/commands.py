"""The work behind ``consentgate ledger …``, for the command line to call with plain values.

Each function opens an :class:`SqlLedger` on ``url``, works directly against the database (not
through the write queue; no background task runs), closes it and returns the exit code: 0 when
done, 1 when the database fails, 2 for a bad argument or URL. Results go to ``out``; a one-line
message goes to ``err`` (default: standard error).
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TextIO

from ..errors import LedgerError
from .report import render_html, render_json, render_table
from .sql import SqlLedger
from .stats import LedgerStats

__all__ = ["FORMATS", "erase", "export", "purge", "show", "stats"]

#: ``--format`` values of ``consentgate ledger stats``.
FORMATS: dict[str, Callable[[LedgerStats], str]] = {
    "table": render_table,
    "json": render_json,
    "html": render_html,
}
_OK, _FAILED, _USAGE = 0, 1, 2


class _UsageError(Exception):
    """A bad argument: exit code 2."""


async def _run(
    command: str,
    url: str,
    err: TextIO | None,
    work: Callable[[SqlLedger], Awaitable[int]],
    **options: Any,
) -> int:
    """Open the ledger, run ``work`` on it, close it; failures become a message and a code."""
    stream = err if err is not None else sys.stderr
    try:
        ledger = SqlLedger(url, purge_interval=None, **options)
    except LedgerError as exc:
        print(f"consentgate ledger {command}: {exc}", file=stream)
        return _USAGE
    try:
        await ledger.prepare()
        return await work(ledger)
    except _UsageError as exc:
        print(f"consentgate ledger {command}: {exc}", file=stream)
        return _USAGE
    except (LedgerError, OSError) as exc:
        print(f"consentgate ledger {command}: {exc}", file=stream)
        return _FAILED
    finally:
        await ledger.close(drain_seconds=0)


async def purge(
    url: str,
    *,
    ip_retention_days: int,
    record_retention_days: int,
    out: TextIO,
    err: TextIO | None = None,
) -> int:
    """Apply retention now: clear old full IPs, delete records past their retention."""

    async def work(ledger: SqlLedger) -> int:
        cleared, deleted = await ledger.purge()
        print(f"cleared {cleared} IP addresses, deleted {deleted} records", file=out)
        return _OK

    return await _run(
        "purge",
        url,
        err,
        work,
        ip_retention_days=ip_retention_days,
        record_retention_days=record_retention_days,
    )


async def stats(
    url: str,
    *,
    days: int | None,
    fmt: str,
    output_path: str | Path | None,
    out: TextIO,
    err: TextIO | None = None,
) -> int:
    """Aggregate statistics as ``fmt`` (table, json or html) to ``output_path`` or ``out``."""

    async def work(ledger: SqlLedger) -> int:
        if fmt not in FORMATS:
            raise _UsageError(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")
        if days is not None and days < 1:
            raise _UsageError(f"--days must be at least 1, not {days}")
        report = FORMATS[fmt](await ledger.stats(days))
        if output_path is None:
            out.write(report)
        else:
            await asyncio.to_thread(Path(output_path).write_text, report, encoding="utf-8")
            print(f"wrote {output_path}", file=out)
        return _OK

    return await _run("stats", url, err, work)


def _since(value: datetime | date | str | None) -> datetime | None:
    """A point in time from a datetime, a date (midnight UTC) or ISO 8601 text; naive is UTC."""
    if value is None or isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    else:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise _UsageError(f"--since must be an ISO 8601 date, not {value!r}") from None
    if moment is not None and moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment


async def export(
    url: str,
    *,
    since: datetime | date | str | None,
    include_ip: bool,
    out: TextIO,
    err: TextIO | None = None,
) -> int:
    """Every record from ``since`` on as JSON lines; full IPs only with ``include_ip``."""

    async def work(ledger: SqlLedger) -> int:
        async for row in ledger.export(_since(since), include_ip=include_ip):
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
        return _OK

    return await _run("export", url, err, work)


async def show(url: str, consent_id: str, *, out: TextIO, err: TextIO | None = None) -> int:
    """The records of one consent id (as the visitor's receipt shows them), as JSON."""

    async def work(ledger: SqlLedger) -> int:
        records = await ledger.records_for(consent_id)
        receipt = {"consent_id": consent_id, "records": records}
        out.write(json.dumps(receipt, indent=2, ensure_ascii=False) + "\n")
        return _OK

    return await _run("show", url, err, work)


async def erase(url: str, consent_id: str, *, out: TextIO, err: TextIO | None = None) -> int:
    """Erase one consent id's records (for requests that reach the site by e-mail)."""

    async def work(ledger: SqlLedger) -> int:
        erased = await ledger.erase(consent_id)
        print(f"erased {erased} records; an erase record keeps a keyed hash of the id", file=out)
        return _OK

    return await _run("erase", url, err, work)
