"""Aggregate ledger statistics: the shape of the numbers and the pure arithmetic behind them.

The SQL backend hands :func:`build_stats` grouped counts (never single records), so the numbers
a report shows can be checked without a database. Definitions:

* a *decision* is a record whose action is one of :data:`DECISIONS`; ``erase`` markers are
  counted apart (``erasures``) and take no part in any rate;
* action rates are shares of all decisions;
* category grant rates are shares of *choices* (:data:`CHOICES`: ``accept_all``,
  ``reject_all``, ``save``); a withdrawal grants nothing by definition and would only dilute
  them, so it is left out;
* countries with fewer than :data:`MIN_COUNTRY_COUNT` decisions are folded into ``"other"``
  (decisions without a country count as ``"unknown"``, folded the same way), so that a report
  cannot point at a handful of visitors;
* ``accept_rate`` per day is ``accept_all`` over that day's decisions.

Rates are fractions between 0 and 1, rounded to four places; 0 where there is nothing to divide.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime, time, timedelta
from typing import TypedDict

__all__ = [
    "CHOICES",
    "DECISIONS",
    "MIN_COUNTRY_COUNT",
    "ActionStats",
    "CategoryStats",
    "DayStats",
    "LedgerStats",
    "build_stats",
    "window_start",
]

#: Actions that are a visitor's choice between categories.
CHOICES = ("accept_all", "reject_all", "save")
#: Every action that counts as a decision (erase markers do not).
DECISIONS = (*CHOICES, "withdraw")
#: Countries below this many decisions are reported as ``"other"``.
MIN_COUNTRY_COUNT = 10
_ERASE = "erase"
_OTHER = "other"
_UNKNOWN = "unknown"


class ActionStats(TypedDict):
    """How often one action was taken and its share of all decisions."""

    count: int
    rate: float


class CategoryStats(TypedDict):
    """How many choices granted a category and their share of all choices."""

    granted: int
    rate: float


class DayStats(TypedDict):
    """The records of one UTC day, by action."""

    day: str
    accept_all: int
    reject_all: int
    save: int
    withdraw: int
    erase: int
    decisions: int
    accept_rate: float


class LedgerStats(TypedDict):
    """Aggregate counts over a window of the ledger; no record can be told apart in them."""

    generated_at: str
    since: str | None
    days: int | None
    decisions: int
    erasures: int
    actions: dict[str, ActionStats]
    per_day: list[DayStats]
    categories: dict[str, CategoryStats]
    countries: dict[str, int]
    regulated: dict[str, int]


def window_start(now: datetime, days: int | None) -> datetime | None:
    """Midnight UTC starting the last ``days`` calendar days up to ``now`` (None: all time)."""
    if days is None:
        return None
    if days < 1:
        raise ValueError(f"days must be at least 1, not {days}")
    first = now.astimezone(UTC).date() - timedelta(days=days - 1)
    return datetime.combine(first, time(), UTC)


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def _per_day(day_actions: Iterable[tuple[str, str, int]]) -> list[DayStats]:
    counts: dict[str, Counter[str]] = {}
    for day, action, count in day_actions:
        counts.setdefault(day, Counter())[action] += count
    days: list[DayStats] = []
    for day in sorted(counts):
        by_action = counts[day]
        decisions = sum(by_action[action] for action in DECISIONS)
        days.append(
            DayStats(
                day=day,
                accept_all=by_action["accept_all"],
                reject_all=by_action["reject_all"],
                save=by_action["save"],
                withdraw=by_action["withdraw"],
                erase=by_action[_ERASE],
                decisions=decisions,
                accept_rate=_rate(by_action["accept_all"], decisions),
            )
        )
    return days


def _fold_countries(countries: Iterable[tuple[str | None, int]]) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for country, count in countries:
        counts[country or _UNKNOWN] += count
    folded = {name: n for name, n in counts.most_common() if n >= MIN_COUNTRY_COUNT}
    other = sum(counts.values()) - sum(folded.values())
    if other:
        folded[_OTHER] = other
    return folded


def build_stats(
    *,
    day_actions: Iterable[tuple[str, str, int]],
    granted: Iterable[tuple[tuple[str, ...], int]],
    countries: Iterable[tuple[str | None, int]],
    regulated: Iterable[tuple[bool, int]],
    generated_at: datetime,
    since: datetime | None,
    days: int | None,
) -> LedgerStats:
    """Turn grouped counts into :class:`LedgerStats`.

    ``day_actions`` holds ``(YYYY-MM-DD, action, count)`` for every record, ``granted``
    ``(categories, count)`` for choices, ``countries`` and ``regulated`` the counts of
    decisions by country code and by regulated flag.
    """
    rows = list(day_actions)
    totals: Counter[str] = Counter()
    for _day, action, count in rows:
        totals[action] += count
    decisions = sum(totals[action] for action in DECISIONS)

    grants: Counter[str] = Counter()
    choices = 0
    for categories, count in granted:
        choices += count
        for name in set(categories):
            grants[name] += count

    by_flag: Counter[bool] = Counter()
    for flag, count in regulated:
        by_flag[bool(flag)] += count

    return LedgerStats(
        generated_at=generated_at.astimezone(UTC).isoformat(),
        since=since.isoformat() if since is not None else None,
        days=days,
        decisions=decisions,
        erasures=totals[_ERASE],
        actions={
            action: ActionStats(count=totals[action], rate=_rate(totals[action], decisions))
            for action in DECISIONS
        },
        per_day=_per_day(rows),
        categories={
            name: CategoryStats(granted=grants[name], rate=_rate(grants[name], choices))
            for name in sorted(grants)
        },
        countries=_fold_countries(countries),
        regulated={"regulated": by_flag[True], "unregulated": by_flag[False]},
    )
