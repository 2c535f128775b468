"""The SQL ledger, on SQLite and on PostgreSQL alike, plus its reports and commands."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import math
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select, update

from consentgate.errors import LedgerError
from consentgate.ledger import (
    ConsentRecord,
    Ledger,
    MemoryLedger,
    NullLedger,
    SqlLedger,
    commands,
    erase_hash,
    open_ledger,
)
from consentgate.ledger.report import render_html, render_json, render_table
from consentgate.ledger.spool import Spool, SpoolReader, TextBundle, encode_item
from consentgate.ledger.sql import database_url, meta
from consentgate.ledger.stats import LedgerStats, build_stats, window_start

from .ledger_fixtures import IP, T0, Backend, Clock, make_record, open_backend


@pytest.fixture(params=["sqlite", "postgresql"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    async with open_backend(request.param, tmp_path) as opened:
        yield opened


async def exported(ledger: SqlLedger, **options: Any) -> list[dict[str, Any]]:
    return [row async for row in ledger.export(**options)]


async def erase_key(backend: Backend) -> bytes:
    rows = await backend.query(select(meta.c.value).where(meta.c.key == "erase_key"))
    return bytes.fromhex(rows[0][0])


async def eventually(condition: Any, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not await condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


# -- schema -------------------------------------------------------------------------------


async def test_schema_records_its_version_and_a_random_erase_key(backend: Backend) -> None:
    await backend.ledger().prepare()

    rows = dict(await backend.query(select(meta.c.key, meta.c.value)))

    assert rows["schema_version"] == "1"
    assert len(bytes.fromhex(rows["erase_key"])) == 32


async def test_ledgers_starting_at_once_share_one_schema(backend: Backend) -> None:
    ledgers = [backend.ledger() for _ in range(5)]

    await asyncio.gather(*(ledger.prepare() for ledger in ledgers))

    assert all(ledger.ready for ledger in ledgers)
    assert len(await backend.query(select(meta))) == 2
    await ledgers[0].erase("first")
    await ledgers[4].erase("second")
    key = await erase_key(backend)
    hashes = [row["id_hash"] for row in await exported(ledgers[1])]
    assert hashes == [erase_hash(key, "first"), erase_hash(key, "second")]


async def test_a_database_of_another_schema_version_is_refused(backend: Backend) -> None:
    await backend.ledger().prepare()
    await backend.query(update(meta).where(meta.c.key == "schema_version").values(value="2"))

    with pytest.raises(LedgerError, match="schema version 2"):
        await backend.ledger().prepare()


async def test_start_returns_at_once_when_the_database_is_down(backend: Backend) -> None:
    down = backend.down()
    started = time.monotonic()

    await down.ledger.start()

    assert time.monotonic() - started < 0.5
    assert not down.ledger.ready


# -- writing ------------------------------------------------------------------------------


async def test_records_round_trip_with_every_field(backend: Backend) -> None:
    ledger = backend.ledger()
    plus_two = timezone(timedelta(hours=2))
    records = [
        make_record("a"),
        make_record(
            "a",
            action="save",
            granted=("necessary", "analytics"),
            revision=2**40,
            country=None,
            regulated=False,
            ip="2001:db8:1234:5678::1",
            gpc=True,
            language=None,
            bundle_hash=None,
            created_at=datetime(2024, 3, 1, 14, 0, 0, 1, tzinfo=plus_two),
        ),
        make_record("a", action="reject_all", granted=("necessary",), ip=None),
        make_record("a", action="withdraw", granted=(), created_at=T0 + timedelta(days=1)),
    ]
    for record in records:
        ledger.record(record)

    assert await ledger.flush()

    expected = sorted((r.as_dict() for r in records), key=lambda d: d["created_at"])
    assert await ledger.records_for("a") == expected
    # 14:00:00.000001+02:00 is just before T0 (12:00:00.123456 UTC); ties keep their order.
    assert [d["action"] for d in expected] == ["save", "accept_all", "reject_all", "withdraw"]


async def test_each_batch_is_one_transaction(backend: Backend) -> None:
    ledger = backend.ledger(batch_size=100, flush_interval=60)
    await ledger.start()
    for number in range(250):
        ledger.record(make_record(f"c{number}"))

    assert await ledger.flush()

    assert ledger.batches == math.ceil(250 / 100)
    assert ledger.written == 250
    assert len(await exported(ledger)) == 250


async def test_background_writer_flushes_within_the_interval(backend: Backend) -> None:
    ledger = backend.ledger(flush_interval=0.05)
    await ledger.start()
    ledger.record(make_record())

    async def written() -> bool:
        return ledger.written == 1

    await eventually(written)
    assert ledger.queued == 0


async def test_a_bundle_is_stored_once_under_its_hash(backend: Backend) -> None:
    first, second = backend.ledger(), backend.ledger()
    first.store_bundle("h1", {"title": "Cookies", "categories": [{"name": "analytics"}]})
    first.store_bundle("h1", {"title": "changed"})

    assert await first.bundle("h1") == {"title": "Cookies", "categories": [{"name": "analytics"}]}
    assert await first.flush()
    second.store_bundle("h1", {"title": "another worker"})
    assert await second.flush()

    assert await second.bundle("h1") == {"title": "Cookies", "categories": [{"name": "analytics"}]}
    assert await second.bundle("unknown") is None
    assert first.written + second.written == 2


async def test_an_unstorable_record_is_dropped_without_blocking_its_batch(
    backend: Backend,
) -> None:
    ledger = backend.ledger()

    ledger.record(make_record("bad\x00id"))
    ledger.record(make_record("bad", revision="1"))
    ledger.store_bundle("h", {"text": object()})
    ledger.record(make_record("good"))

    assert ledger.dropped == 3
    assert await ledger.flush()
    assert [row["consent_id"] for row in await exported(ledger)] == ["good"]


# -- database down, spool, shutdown ----------------------------------------------------------


async def test_records_wait_for_the_database_and_arrive_after_recovery(backend: Backend) -> None:
    down = backend.down()
    await down.ledger.start()
    for number in range(2000):
        # record() is synchronous: it queues and returns, whatever the database is doing.
        assert down.ledger.record(make_record(f"c{number}")) is None
    assert down.ledger.queued == 2000, "every record waits in the queue, none was written"
    assert not await down.ledger.flush()
    assert down.ledger.queued == 2000
    down.fix()

    async def drained() -> bool:
        # Written, not only taken from the queue: the last batch may still be in its
        # transaction when the queue is already empty.
        return down.ledger.written == 2000

    await eventually(drained)
    assert down.ledger.queued == 0
    assert len(await exported(down.ledger)) == 2000


async def test_logs_name_neither_ips_nor_consent_ids(
    backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="consentgate")
    down = backend.down(queue_size=1, spool_path=backend.tmp / "nowhere" / "spool")
    down.ledger.record(make_record("secret-consent-id"))
    down.ledger.record(make_record("secret-consent-id"))
    assert not await down.ledger.flush()
    down.fix()
    assert await down.ledger.flush()

    messages = " ".join(r.getMessage() for r in caplog.records if r.name.startswith("consentgate"))
    assert "unavailable" in messages
    assert "dropped" in messages
    assert IP not in messages
    assert "secret-consent-id" not in messages


async def test_a_full_queue_spills_into_the_spool_which_is_replayed(backend: Backend) -> None:
    down = backend.down(queue_size=10)
    for number in range(25):
        down.ledger.record(make_record(f"c{number}"))

    assert (down.ledger.queued, down.ledger.spooled) == (10, 15)
    assert len(backend.spool_path.read_bytes().splitlines()) == 15
    down.fix()
    assert await down.ledger.flush()

    assert len(await exported(down.ledger)) == 25
    assert list(backend.tmp.glob("ledger.spool*")) == []


async def test_a_spool_left_by_an_earlier_run_is_replayed_at_start(backend: Backend) -> None:
    spooled = [make_record(f"c{number}") for number in range(3)]
    Spool(backend.spool_path).append(spooled)
    ledger = backend.ledger(flush_interval=0.05)

    await ledger.start()

    async def replayed() -> bool:
        return ledger.written == 3

    await eventually(replayed)
    assert [row["consent_id"] for row in await exported(ledger)] == ["c0", "c1", "c2"]


async def test_a_torn_spool_line_is_skipped_and_counted(backend: Backend) -> None:
    lines = [encode_item(make_record(f"c{number}")) for number in range(3)]
    backend.spool_path.write_bytes(lines[0] + lines[1] + lines[2][:-20])
    ledger = backend.ledger()

    assert await ledger.flush()

    assert (ledger.written, ledger.spool_skipped) == (2, 1)
    assert not backend.spool_path.exists()


async def test_a_record_is_dropped_and_counted_only_when_the_spool_fails_too(
    backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    down = backend.down(queue_size=2, spool_path=backend.tmp / "nowhere" / "spool")

    for number in range(5):
        down.ledger.record(make_record(f"c{number}"))

    assert (down.ledger.queued, down.ledger.spooled, down.ledger.dropped) == (2, 0, 3)
    assert any(r.levelno == logging.ERROR and "dropped" in r.getMessage() for r in caplog.records)


async def test_close_writes_what_is_queued(backend: Backend) -> None:
    ledger = backend.ledger(flush_interval=60)
    await ledger.start()
    for number in range(50):
        ledger.record(make_record(f"c{number}"))

    await ledger.close(drain_seconds=5)

    assert ledger.written == 50
    assert len(await exported(backend.ledger())) == 50


async def test_close_spools_what_the_database_does_not_take(backend: Backend) -> None:
    down = backend.down()
    await down.ledger.start()
    for number in range(5):
        down.ledger.record(make_record(f"c{number}"))

    await down.ledger.close(drain_seconds=0.2)
    down.ledger.record(make_record("after-close"))

    assert down.ledger.spooled == 6
    down.fix()
    later = down.reopen()
    assert await later.flush()
    assert len(await exported(later)) == 6


async def test_a_spool_file_defaults_to_the_sqlite_database_directory(tmp_path: Path) -> None:
    ledger = SqlLedger(f"sqlite:///{tmp_path / 'site.db'}", queue_size=1, purge_interval=None)
    ledger.record(make_record("a"))
    ledger.record(make_record("b"))

    assert (tmp_path / "consentgate-ledger.spool").exists()
    await ledger.close(drain_seconds=5)
    assert (ledger.spooled, ledger.written) == (1, 2)
    assert not (tmp_path / "consentgate-ledger.spool").exists()


# -- receipt, erase ---------------------------------------------------------------------


async def test_receipt_lists_a_visitors_records_oldest_first_with_queued_ones(
    backend: Backend,
) -> None:
    ledger = backend.ledger()
    late, early = make_record("me", created_at=T0 + timedelta(hours=1)), make_record("me")
    ledger.record(late)
    ledger.record(early)
    ledger.record(make_record("someone-else"))
    assert await ledger.flush()
    queued = make_record("me", action="withdraw", granted=(), created_at=T0 + timedelta(days=1))
    ledger.record(queued)

    receipt = await ledger.records_for("me")

    assert receipt == [early.as_dict(), late.as_dict(), queued.as_dict()]
    assert await ledger.records_for("nobody") == []


async def test_erase_leaves_only_a_marker_with_the_keyed_hash(backend: Backend) -> None:
    clock = Clock(T0 + timedelta(days=2))
    ledger = backend.ledger(clock=clock)
    for _ in range(3):
        ledger.record(make_record("erase-me"))
    ledger.record(make_record("keep-me"))
    assert await ledger.flush()

    assert await ledger.erase("erase-me") == 3

    assert await ledger.records_for("erase-me") == []
    rows = await exported(ledger, include_ip=True)
    assert [row["consent_id"] for row in rows] == ["keep-me", None]
    marker = rows[1]
    assert marker["action"] == "erase"
    assert marker["id_hash"] == erase_hash(await erase_key(backend), "erase-me")
    assert marker["created_at"] == clock.now.isoformat()
    empty = {k for k, v in marker.items() if v is None}
    assert empty == set(marker) - {"action", "id_hash", "created_at"}
    assert "erase-me" not in json.dumps(rows)


async def test_erase_catches_a_record_still_queued(backend: Backend) -> None:
    ledger = backend.ledger()
    ledger.record(make_record("quick"))

    assert await ledger.erase("quick") == 1

    assert await ledger.flush()
    assert await ledger.records_for("quick") == []


async def test_erase_catches_a_spooled_record(backend: Backend) -> None:
    ledger = backend.ledger(queue_size=1)
    for _ in range(3):
        ledger.record(make_record("spooled"))
    assert ledger.spooled == 2

    assert await ledger.erase("spooled") == 3

    assert await ledger.flush()
    assert await ledger.records_for("spooled") == []


async def test_erase_needs_the_database(backend: Backend) -> None:
    down = backend.down()
    down.ledger.record(make_record("x"))

    with pytest.raises(LedgerError, match="cannot prepare the database"):
        await down.ledger.erase("x")

    assert down.ledger.queued == 1


# -- retention --------------------------------------------------------------------------


async def test_purge_clears_ips_then_deletes_records(backend: Backend) -> None:
    clock = Clock(T0)
    ledger = backend.ledger(clock=clock, ip_retention_days=30, record_retention_days=1095)
    ledger.store_bundle("bundle-1", {"title": "Cookies"})
    ledger.record(make_record("old"))
    ledger.record(make_record("old", ip="2001:db8::1"))
    assert await ledger.flush()
    await ledger.erase("gone")

    clock.now = T0 + timedelta(days=29)
    assert await ledger.purge() == (0, 0)
    clock.now = T0 + timedelta(days=31)
    assert await ledger.purge() == (2, 0)

    receipt = await ledger.records_for("old")
    assert [(r["ip"], r["ip_prefix"]) for r in receipt] == [
        (None, "203.0.113.0/24"),
        (None, "2001:db8::/48"),
    ]
    clock.now = T0 + timedelta(days=1096)
    assert await ledger.purge() == (0, 3)
    assert await exported(ledger) == []
    assert await ledger.bundle("bundle-1") is None


async def test_purge_runs_in_the_background(backend: Backend) -> None:
    clock = Clock(T0)
    ledger = backend.ledger(clock=clock, purge_interval=0.05)
    ledger.record(make_record("old"))
    assert await ledger.flush()
    clock.now = T0 + timedelta(days=31)

    await ledger.start()

    async def purged() -> bool:
        return (await ledger.records_for("old"))[0]["ip"] is None

    await eventually(purged)


# -- statistics and export ----------------------------------------------------------------

DAY1, DAY2 = T0, T0 + timedelta(days=1)
ALL = ("necessary", "functional", "analytics", "advertising")


def known_records() -> list[ConsentRecord]:
    """30 decisions over two days (see test_stats_count_a_known_data_set)."""
    plan: list[tuple[int, dict[str, Any]]] = [
        (12, {"action": "accept_all", "granted": ALL, "country": "DE"}),
        (6, {"action": "reject_all", "granted": ("necessary",), "country": "FR"}),
        (4, {"action": "save", "granted": ("necessary", "analytics"), "country": "FR"}),
        (2, {"action": "withdraw", "granted": (), "country": "IT"}),
        (4, {"action": "accept_all", "granted": ALL, "country": "US", "regulated": False}),
        (2, {"action": "save", "granted": ("necessary", "functional"), "country": None}),
    ]
    records = []
    for index, (count, fields) in enumerate(plan):
        day = DAY1 if index < 4 else DAY2
        records += [make_record(f"v{index}-{n}", created_at=day, **fields) for n in range(count)]
    return records


async def stats_ledger(backend: Backend) -> SqlLedger:
    ledger = backend.ledger(clock=Clock(DAY2))
    for record in known_records():
        ledger.record(record)
    assert await ledger.flush()
    await ledger.erase("nobody")  # one erase marker on day 2
    return ledger


async def test_stats_count_a_known_data_set(backend: Backend) -> None:
    ledger = await stats_ledger(backend)

    stats = await ledger.stats(None)

    assert stats["decisions"] == 30
    assert stats["erasures"] == 1
    assert stats["actions"] == {
        "accept_all": {"count": 16, "rate": 0.5333},
        "reject_all": {"count": 6, "rate": 0.2},
        "save": {"count": 6, "rate": 0.2},
        "withdraw": {"count": 2, "rate": 0.0667},
    }
    assert stats["categories"] == {
        "advertising": {"granted": 16, "rate": 0.5714},
        "analytics": {"granted": 20, "rate": 0.7143},
        "functional": {"granted": 18, "rate": 0.6429},
        "necessary": {"granted": 28, "rate": 1.0},
    }
    assert stats["countries"] == {"DE": 12, "FR": 10, "other": 8}
    assert stats["regulated"] == {"regulated": 26, "unregulated": 4}
    assert stats["per_day"] == [
        {
            "day": "2024-03-01",
            **{"accept_all": 12, "reject_all": 6, "save": 4, "withdraw": 2, "erase": 0},
            **{"decisions": 24, "accept_rate": 0.5},
        },
        {
            "day": "2024-03-02",
            **{"accept_all": 4, "reject_all": 0, "save": 2, "withdraw": 0, "erase": 1},
            **{"decisions": 6, "accept_rate": 0.6667},
        },
    ]


async def test_stats_of_the_last_days_leave_older_records_out(backend: Backend) -> None:
    ledger = await stats_ledger(backend)

    stats = await ledger.stats(1, now=DAY2 + timedelta(hours=3))

    assert stats["since"] == "2024-03-02T00:00:00+00:00"
    assert (stats["decisions"], stats["erasures"]) == (6, 1)
    assert stats["countries"] == {"other": 6}
    assert [day["day"] for day in stats["per_day"]] == ["2024-03-02"]
    with pytest.raises(LedgerError, match="at least 1"):
        await ledger.stats(0)


async def test_export_leaves_full_ips_out_unless_asked(backend: Backend) -> None:
    ledger = backend.ledger()
    ledger.record(make_record("a"))
    ledger.record(make_record("b", created_at=T0 + timedelta(days=3)))
    assert await ledger.flush()

    without = await exported(ledger)
    with_ip = await exported(ledger, include_ip=True)
    since = await exported(ledger, since=T0 + timedelta(days=1))

    assert all("ip" not in row and row["ip_prefix"] == "203.0.113.0/24" for row in without)
    assert [row["ip"] for row in with_ip] == [IP, IP]
    assert [row["consent_id"] for row in since] == ["b"]
    assert json.loads(json.dumps(with_ip)) == with_ip


# -- URLs and options ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///data/ledger.db", "sqlite+aiosqlite:///data/ledger.db"),
        ("postgresql://u:p@db/x", "postgresql+asyncpg://u:p@db/x"),
        ("postgres://u@db:5433/x", "postgresql+asyncpg://u@db:5433/x"),
        ("postgresql+psycopg://u@db/x", "postgresql+psycopg://u@db/x"),
        ("sqlite+pysqlite:///x.db", "sqlite+pysqlite:///x.db"),
    ],
)
def test_database_url_maps_to_async_drivers(url: str, expected: str) -> None:
    assert database_url(url).render_as_string(hide_password=False) == expected


@pytest.mark.parametrize("url", ["mysql://db/x", "not a url"])
def test_database_url_refuses_other_databases(url: str) -> None:
    with pytest.raises(LedgerError, match="ledger_url"):
        database_url(url)


def test_postgres_without_asyncpg_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "asyncpg", None)

    with pytest.raises(LedgerError, match=r"pip install 'consentgate\[postgres\]'"):
        SqlLedger("postgresql://db/x")


@pytest.mark.parametrize(
    ("url", "options", "message"),
    [
        ("sqlite:///x.db", {"pg_schema": "s"}, "pg_schema"),
        ("sqlite:///x.db", {"batch_size": 0}, "batch_size must be at least 1"),
        ("sqlite:///x.db", {"flush_interval": 0}, "flush_interval"),
        ("sqlite+pysqlite:///x.db", {}, "cannot use sqlite\\+pysqlite"),
    ],
)
def test_bad_options_are_ledger_errors(url: str, options: dict[str, Any], message: str) -> None:
    with pytest.raises(LedgerError, match=message):
        SqlLedger(url, **options)


async def test_open_ledger_picks_the_backend_from_the_url(tmp_path: Path) -> None:
    assert isinstance(open_ledger(None, ip_retention_days=3), NullLedger)
    assert isinstance(open_ledger(""), NullLedger)
    assert isinstance(open_ledger("memory://"), MemoryLedger)
    ledger = open_ledger(f"sqlite:///{tmp_path / 'x.db'}", ip_retention_days=3)
    assert isinstance(ledger, SqlLedger)
    assert isinstance(ledger, Ledger)
    await ledger.close()


# -- spool format -------------------------------------------------------------------------

printable = st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")), max_size=12)
records = st.builds(
    make_record,
    consent_id=printable,
    granted=st.lists(printable, max_size=4).map(tuple),
    country=st.none() | printable,
    ip=st.none() | st.ip_addresses().map(str),
    gpc=st.booleans(),
    created_at=st.datetimes(timezones=st.just(UTC)),
)


bundles = st.builds(TextBundle, hash=printable, texts=st.dictionaries(printable, printable))


@given(items=st.lists(records | bundles, max_size=6), cut=st.data())
def test_a_spool_cut_anywhere_gives_back_whole_items_only(
    tmp_path_factory: pytest.TempPathFactory, items: list[Any], cut: st.DataObject
) -> None:
    data = b"".join(encode_item(item) for item in items)
    size = cut.draw(st.integers(0, len(data)))
    path = tmp_path_factory.mktemp("spool") / "s"
    path.write_bytes(data[:size])

    with path.open("rb") as file:
        reader = SpoolReader(path, file)
        read = reader.read(len(items) + 1)
        reader.commit()

    assert read == items[: len(read)]
    assert reader.skipped == (0 if size in (0, len(data)) or data[size - 1] == 10 else 1)


def test_an_append_after_a_torn_line_starts_a_new_line(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s")
    (tmp_path / "s").write_bytes(encode_item(make_record("a"))[:-9])

    spool.append([make_record("b")])

    with (tmp_path / "s").open("rb") as file:
        reader = SpoolReader(tmp_path / "s", file)
        assert reader.read(5) == [make_record("b")]
        reader.commit()
        assert reader.skipped == 1


def test_a_replay_cut_short_keeps_only_what_is_not_written(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s")
    spool.append([make_record(name) for name in ("a", "b", "c")])
    [claimed] = spool.claim()

    with spool.reader(claimed) as reader:
        assert reader is not None
        assert reader.read(1) == [make_record("a")]
        reader.commit()  # "a" is in the database; then the database fails
        reader.read(1)
        reader.keep_rest()

    [rest] = spool.claim()
    assert rest != claimed
    assert not claimed.exists()
    with spool.reader(rest) as reader:
        assert reader is not None
        assert reader.read(5) == [make_record("b"), make_record("c")]


# -- reports ------------------------------------------------------------------------------


def sample_stats(categories: tuple[str, ...] = ("analytics", "advertising")) -> LedgerStats:
    return build_stats(
        day_actions=[("2024-03-01", "accept_all", 3), ("2024-03-01", "reject_all", 1)],
        granted=[(("necessary", *categories), 3), (("necessary",), 1)],
        countries=[("DE", 4)],
        regulated=[(True, 4)],
        generated_at=T0,
        since=None,
        days=None,
    )


def test_html_report_draws_svg_charts_with_category_names() -> None:
    page = render_html(sample_stats())

    assert page.startswith("<!doctype html>")
    assert "<title>" in page
    assert page.count('<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label=') == 2
    assert "<title>Grant rate per category</title>" in page
    assert ">analytics<" in page
    assert ">advertising<" in page
    assert "75.0%" in page
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_html_report_escapes_every_name() -> None:
    page = render_html(sample_stats(("<script>alert(1)</script>",)))

    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_html_report_of_an_empty_ledger_says_so() -> None:
    empty = build_stats(
        day_actions=[],
        granted=[],
        countries=[],
        regulated=[],
        generated_at=T0,
        since=None,
        days=None,
    )

    page = render_html(empty)

    assert "no decisions" in page
    assert "no choices" in page


def test_table_report_aligns_one_section_per_table() -> None:
    table = render_table(sample_stats())

    assert "\naccept_all      3               75.0%\n" in table
    assert (
        "\n2024-03-01           3           1     0         0      0          4        75.0%\n"
        in table
    )
    assert "2024-03-01" in table
    assert "analytics" in table
    assert "(none)" not in table


def test_json_report_is_the_stats_themselves() -> None:
    stats = sample_stats()

    assert json.loads(render_json(stats)) == stats


def test_window_starts_at_midnight_utc_of_the_first_day() -> None:
    now = datetime(2024, 3, 10, 5, 0, tzinfo=UTC)

    assert window_start(now, 7) == datetime(2024, 3, 4, tzinfo=UTC)
    assert window_start(now, None) is None


# -- commands -----------------------------------------------------------------------------


@pytest.fixture
async def command_db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    ledger = SqlLedger(url, purge_interval=None, clock=Clock(DAY2))
    for record in known_records():
        ledger.record(record)
    await ledger.close()
    return url


async def run(command: Any, *args: Any, **options: Any) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = await command(*args, out=out, err=err, **options)
    return code, out.getvalue(), err.getvalue()


async def test_command_stats_prints_each_format(command_db: str, tmp_path: Path) -> None:
    table = await run(commands.stats, command_db, days=None, fmt="table", output_path=None)
    as_json = await run(commands.stats, command_db, days=None, fmt="json", output_path=None)
    html = tmp_path / "report.html"
    to_file = await run(commands.stats, command_db, days=None, fmt="html", output_path=html)

    assert table[0] == as_json[0] == to_file[0] == 0
    assert "accept_all" in table[1]
    assert json.loads(as_json[1])["decisions"] == 30
    assert to_file[1] == f"wrote {html}\n"
    assert "<svg" in html.read_text()


async def test_command_stats_refuses_a_bad_format_or_window(command_db: str) -> None:
    code, _, err = await run(commands.stats, command_db, days=None, fmt="xml", output_path=None)
    assert code == 2
    assert "--format" in err
    code, _, err = await run(commands.stats, command_db, days=0, fmt="json", output_path=None)
    assert code == 2
    assert "--days" in err


async def test_command_export_writes_json_lines(command_db: str) -> None:
    code, out, _ = await run(commands.export, command_db, since=date(2024, 3, 2), include_ip=False)
    code_ip, out_ip, _ = await run(commands.export, command_db, since=None, include_ip=True)

    assert code == code_ip == 0
    lines = [json.loads(line) for line in out.splitlines()]
    assert len(lines) == 6
    assert all("ip" not in line for line in lines)
    assert len(out_ip.splitlines()) == 30
    assert json.loads(out_ip.splitlines()[0])["ip"] == IP
    bad = await run(commands.export, command_db, since="yesterday", include_ip=False)
    assert bad[0] == 2
    assert "--since" in bad[2]


async def test_command_show_then_erase_one_consent_id(command_db: str) -> None:
    code, out, _ = await run(commands.show, command_db, "v0-1")
    assert code == 0
    assert [r["consent_id"] for r in json.loads(out)["records"]] == ["v0-1"]

    code, out, _ = await run(commands.erase, command_db, "v0-1")
    assert code == 0
    assert out.startswith("erased 1 records")

    code, out, _ = await run(commands.show, command_db, "v0-1")
    assert json.loads(out) == {"consent_id": "v0-1", "records": []}


async def test_command_purge_applies_retention(command_db: str) -> None:
    code, out, _ = await run(
        commands.purge, command_db, ip_retention_days=1, record_retention_days=36500
    )

    assert code == 0
    assert out == "cleared 30 IP addresses, deleted 0 records\n"


async def test_commands_fail_with_one_line_when_the_database_fails(tmp_path: Path) -> None:
    missing = f"sqlite:///{tmp_path / 'missing' / 'x.db'}"

    code, out, err = await run(commands.show, missing, "x")
    bad_url = await run(commands.erase, "mysql://db/x", "x")

    assert (code, out) == (1, "")
    assert err.count("\n") == 1
    assert "cannot prepare" in err
    assert bad_url[0] == 2
    assert "ledger_url" in bad_url[2]
