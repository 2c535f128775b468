"""Files that hold full IP addresses are created 0600, whatever the process umask."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from consentgate.ledger import SqlLedger
from consentgate.ledger.spool import Spool

from .ledger_fixtures import make_record


@pytest.fixture
def umask_022() -> Iterator[None]:
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("umask_022")
def test_spool_replay_leftovers_are_private(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s")
    spool.append([make_record(name) for name in ("a", "b", "c")])
    [claimed] = spool.claim()
    with spool.reader(claimed) as reader:
        assert reader is not None
        reader.read(1)
        reader.commit()
        reader.keep_rest()  # "b" and "c" go into a new claimed file
    leftovers = list(tmp_path.glob("s.replay-*"))
    assert leftovers
    assert {path.name: mode(path) for path in leftovers} == {p.name: 0o600 for p in leftovers}


@pytest.mark.usefixtures("umask_022")
async def test_sqlite_ledger_and_its_wal_and_shm_files_are_private(tmp_path: Path) -> None:
    database = tmp_path / "ledger.db"
    ledger = SqlLedger(f"sqlite:///{database}", spool_path=tmp_path / "spool", purge_interval=None)
    try:
        await ledger.prepare()
        ledger.record(make_record("cid-modes"))
        await ledger.flush()
        wal, shm = Path(f"{database}-wal"), Path(f"{database}-shm")
        # Checked while the connection is open: SQLite removes -wal/-shm on the last close.
        assert (mode(database), mode(wal), mode(shm)) == (0o600, 0o600, 0o600)
        assert await ledger.records_for("cid-modes")
    finally:
        await ledger.close(1.0)


@pytest.mark.usefixtures("umask_022")
async def test_an_existing_sqlite_file_keeps_the_mode_its_operator_gave_it(tmp_path: Path) -> None:
    database = tmp_path / "ledger.db"
    database.touch(mode=0o640)
    database.chmod(0o640)
    ledger = SqlLedger(f"sqlite:///{database}", spool_path=tmp_path / "spool", purge_interval=None)
    try:
        await ledger.prepare()
    finally:
        await ledger.close(1.0)
    assert mode(database) == 0o640
