"""Crash safety of the SQLite ledger: a writer killed with SIGKILL leaves whole batches only."""

from __future__ import annotations

import json
import os
import select
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pytest

from consentgate.ledger import SqlLedger

from .ledger_fixtures import make_record

BATCH = 50
RECORD = """ConsentRecord(
    consent_id=f"c{number}", action="save", granted=("necessary", "analytics"), revision=1,
    country="DE", regulated=True, ip="203.0.113.9", gpc=False, language="de", bundle_hash="b")"""
# Writes batch after batch until killed; says "ready" once the first batch is in.
WRITER = f"""
import asyncio, sys
from consentgate.ledger import ConsentRecord, SqlLedger

async def main(url, spool):
    ledger = SqlLedger(url, batch_size={BATCH}, purge_interval=None, spool_path=spool)
    number = 0
    while True:
        for _ in range({BATCH}):
            number += 1
            ledger.record({RECORD})
        if not await ledger.flush():
            sys.exit("flush failed")
        if number == {BATCH}:
            print("ready", flush=True)

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""
# Spools record after record (its database directory does not exist) until killed.
SPOOLER = f"""
import asyncio, sys
from consentgate.ledger import ConsentRecord, SqlLedger

async def main(url, spool):
    ledger = SqlLedger(url, queue_size=1, purge_interval=None, spool_path=spool)
    number = 0
    while True:
        number += 1
        ledger.record({RECORD})
        if number % 100 == 0:
            await asyncio.sleep(0)  # let the spool's fsync task run
        if number == 100:
            print("ready", flush=True)

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


@contextmanager
def killed_after(script: str, delay: float, *args: str) -> Iterator[None]:
    """Run ``script`` until it says ready, let it work ``delay`` seconds, then SIGKILL it."""
    child = subprocess.Popen(
        [sys.executable, "-c", script, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        ready, _, _ = select.select([child.stdout], [], [], 30)
        line = child.stdout.readline() if ready else ""
        assert line == "ready\n", (
            f"writer did not start: {child.stderr.read() if child.stderr else ''}"
        )
        time.sleep(delay)
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(timeout=10) == -signal.SIGKILL
        yield
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        for stream in (child.stdout, child.stderr):
            if stream is not None:
                stream.close()


@pytest.mark.parametrize("delay", [0.05, 0.2, 0.5])
async def test_a_killed_writer_leaves_only_whole_batches(tmp_path: Path, delay: float) -> None:
    database = tmp_path / "ledger.db"

    with killed_after(WRITER, delay, f"sqlite:///{database}", str(tmp_path / "spool")):
        pass

    with closing(sqlite3.connect(database)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        count = conn.execute("SELECT count(*) FROM consent_records").fetchone()[0]
        incomplete = conn.execute(
            "SELECT count(*) FROM consent_records WHERE consent_id IS NULL"
            " OR created_at IS NULL OR action IS NULL OR granted IS NULL OR revision IS NULL"
            " OR regulated IS NULL OR gpc IS NULL OR ip IS NULL OR ip_prefix IS NULL"
        ).fetchone()[0]
        rows = conn.execute("SELECT consent_id, granted FROM consent_records").fetchall()
    assert count >= BATCH
    assert count % BATCH == 0
    assert incomplete == 0
    assert {consent_id for consent_id, _ in rows} == {f"c{n}" for n in range(1, count + 1)}
    assert all(json.loads(granted) == ["necessary", "analytics"] for _, granted in rows)

    ledger = SqlLedger(f"sqlite:///{database}", purge_interval=None)
    ledger.record(make_record("after-the-crash"))
    assert await ledger.flush()
    await ledger.close()


async def test_a_spool_cut_off_by_a_kill_is_replayed(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    down = f"sqlite:///{tmp_path / 'missing' / 'ledger.db'}"

    with killed_after(SPOOLER, 0.2, down, str(spool)):
        pass

    lines = spool.read_bytes().count(b"\n") + (not spool.read_bytes().endswith(b"\n"))
    ledger = SqlLedger(f"sqlite:///{tmp_path / 'ledger.db'}", spool_path=spool, purge_interval=None)
    assert await ledger.flush()
    await ledger.close()
    assert ledger.written >= 99
    assert ledger.spool_skipped <= 1
    assert ledger.written + ledger.spool_skipped == lines
    assert not spool.exists()
