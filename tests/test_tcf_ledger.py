"""The ledger keeps the TC string of each TCF decision, also in databases made before it did."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text

from .ledger_fixtures import Backend, make_record, open_backend

TC = "CQgcD4AQgcD4AEsADBDEABFoAPLAAELAAAYgF5wAgAAgLzAvOACAvMAA.IF5wAoAAgAEAvMAA"


@pytest.fixture(params=["sqlite", "postgresql"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    async with open_backend(request.param, tmp_path) as opened:
        yield opened


async def test_the_tc_string_round_trips(backend: Backend) -> None:
    ledger = backend.ledger()
    ledger.record(make_record("a", tc_string=TC))
    ledger.record(make_record("a", action="withdraw"))
    assert await ledger.flush()
    records = await ledger.records_for("a")
    assert [r["tc_string"] for r in records] == [TC, None]
    exported = [row async for row in ledger.export()]
    assert exported[0]["tc_string"] == TC


async def test_a_database_made_before_the_column_gets_it_at_start_up(backend: Backend) -> None:
    await backend.ledger().prepare()
    schema = backend.options.get("pg_schema")
    table = f'"{schema}".consent_records' if schema else "consent_records"
    await backend.query(text(f"ALTER TABLE {table} DROP COLUMN tc_string"))
    ledger = backend.ledger()
    ledger.record(make_record("b", tc_string=TC))
    assert await ledger.flush()
    assert [r["tc_string"] for r in await ledger.records_for("b")] == [TC]
