"""Ledger statistics as a plain-text table, as JSON, and as a self-contained HTML page.

Pure functions of a :class:`~consentgate.ledger.stats.LedgerStats`; no I/O. The HTML page
makes no request of its own (inline CSS, inline SVG charts) and escapes every text it shows.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from html import escape
from typing import NamedTuple

from .stats import DECISIONS, LedgerStats

__all__ = ["render_html", "render_json", "render_table"]

_TITLE = "Consent ledger statistics"


class _Section(NamedTuple):
    title: str
    headers: tuple[str, ...]
    rows: Sequence[tuple[str, ...]]


def _percent(rate: float) -> str:
    return f"{rate * 100:.1f}%"


def _window(stats: LedgerStats) -> str:
    if stats["since"] is None:
        scope = "all records"
    else:
        scope = f"the last {stats['days']} days, since {stats['since']}"
    return f"{scope} (generated {stats['generated_at']})"


def _sections(stats: LedgerStats) -> list[_Section]:
    """The tables every format shows, as text cells."""
    actions = [
        (action, str(numbers["count"]), _percent(numbers["rate"]))
        for action, numbers in stats["actions"].items()
    ]
    actions += [
        ("decisions", str(stats["decisions"]), _percent(1.0 if stats["decisions"] else 0.0)),
        ("erasures", str(stats["erasures"]), ""),
    ]
    per_day = [
        (
            day["day"],
            str(day["accept_all"]),
            str(day["reject_all"]),
            str(day["save"]),
            str(day["withdraw"]),
            str(day["erase"]),
            str(day["decisions"]),
            _percent(day["accept_rate"]),
        )
        for day in stats["per_day"]
    ]
    return [
        _Section("Decisions", ("action", "count", "share of decisions"), actions),
        _Section(
            "Per day (UTC)",
            ("day", *DECISIONS, "erase", "decisions", "accept rate"),
            per_day,
        ),
        _Section(
            "Categories (share of accept_all, reject_all and save choices that grant each)",
            ("category", "granted", "grant rate"),
            [
                (name, str(numbers["granted"]), _percent(numbers["rate"]))
                for name, numbers in stats["categories"].items()
            ],
        ),
        _Section(
            "Countries (fewer than 10 decisions: other)",
            ("country", "decisions"),
            [(country, str(count)) for country, count in stats["countries"].items()],
        ),
        _Section(
            "Regulated visitors",
            ("visitors", "decisions"),
            [(kind, str(count)) for kind, count in stats["regulated"].items()],
        ),
    ]


def _text_table(section: _Section) -> str:
    rows = [section.headers, *section.rows]
    widths = [max(len(row[i]) for row in rows) for i in range(len(section.headers))]

    def line(cells: tuple[str, ...]) -> str:
        first, *rest = cells
        parts = [first.ljust(widths[0])]
        parts += [cell.rjust(width) for cell, width in zip(rest, widths[1:], strict=True)]
        return "  ".join(parts).rstrip()

    ruler = "  ".join("-" * width for width in widths)
    body = [line(row) for row in section.rows] or ["(none)"]
    return "\n".join([section.title, line(section.headers), ruler, *body])


def render_table(stats: LedgerStats) -> str:
    """A wide plain-text report: one aligned table per section."""
    parts = [f"{_TITLE}: {_window(stats)}"]
    parts += [_text_table(section) for section in _sections(stats)]
    return "\n\n".join(parts) + "\n"


def render_json(stats: LedgerStats) -> str:
    """The statistics as indented JSON (the same keys as :class:`LedgerStats`)."""
    return json.dumps(stats, indent=2, ensure_ascii=False) + "\n"


# -- HTML ---------------------------------------------------------------------------------

_STYLE = """
body{font:15px/1.5 system-ui,sans-serif;color:#1b1b1b;margin:2rem auto;max-width:60rem;
padding:0 1rem}h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem}
table{border-collapse:collapse;margin:.5rem 0}th,td{padding:.2rem .7rem;text-align:right;
border-bottom:1px solid #ddd}th:first-child,td:first-child{text-align:left}
svg{max-width:100%;height:auto}.bar{fill:#2f6fb0}.grid{stroke:#ccc}.axis{font-size:11px;
fill:#444}.label{font-size:13px;fill:#1b1b1b}
"""
_CHART_WIDTH = 720
_PLOT_LEFT = 48
_PLOT_TOP = 12
_PLOT_HEIGHT = 200
_LABEL_WIDTH = 200
_BAR_ROW = 28
_MAX_X_LABELS = 8


def _svg(label: str, width: int, height: int, body: list[str]) -> str:
    text = escape(label)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{text}" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}">'
        f"<title>{text}</title>{''.join(body)}</svg>"
    )


def _bar(x: float, y: float, width: float, height: float, tip: str) -> str:
    return (
        f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" height="{height:.1f}">'
        f"<title>{escape(tip)}</title></rect>"
    )


def _text(x: float, y: float, content: str, *, css: str, anchor: str = "start") -> str:
    return (
        f'<text class="{css}" x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}">'
        f"{escape(content)}</text>"
    )


def _day_chart(stats: LedgerStats) -> str:
    """Vertical bars: the share of each day's decisions that accepted all."""
    days = stats["per_day"]
    label = "Accept-all rate per day (UTC)"
    height = _PLOT_TOP + _PLOT_HEIGHT + 40
    body: list[str] = []
    plot_width = _CHART_WIDTH - _PLOT_LEFT - 10
    bottom = _PLOT_TOP + _PLOT_HEIGHT
    for tick in range(0, 101, 25):
        y = bottom - _PLOT_HEIGHT * tick / 100
        body.append(
            f'<line class="grid" x1="{_PLOT_LEFT}" x2="{_CHART_WIDTH - 10}" '
            f'y1="{y:.1f}" y2="{y:.1f}"/>'
        )
        body.append(_text(_PLOT_LEFT - 6, y + 4, f"{tick}%", css="axis", anchor="end"))
    if not days:
        body.append(
            _text(_CHART_WIDTH / 2, bottom / 2, "no decisions", css="label", anchor="middle")
        )
    slot = plot_width / max(1, len(days))
    every = math.ceil(len(days) / _MAX_X_LABELS) or 1
    for index, day in enumerate(days):
        bar_height = _PLOT_HEIGHT * day["accept_rate"]
        x = _PLOT_LEFT + index * slot
        tip = (
            f"{day['day']}: {_percent(day['accept_rate'])} "
            f"({day['accept_all']} of {day['decisions']} decisions)"
        )
        body.append(_bar(x + slot * 0.1, bottom - bar_height, slot * 0.8, bar_height, tip))
        if index % every == 0:
            body.append(_text(x + slot / 2, bottom + 16, day["day"], css="axis", anchor="middle"))
    return _svg(label, _CHART_WIDTH, height, body)


def _category_chart(stats: LedgerStats) -> str:
    """Horizontal bars: the share of choices that granted each category."""
    categories = stats["categories"]
    label = "Grant rate per category"
    height = _BAR_ROW * max(1, len(categories)) + 8
    bar_space = _CHART_WIDTH - _LABEL_WIDTH - 70
    body: list[str] = []
    if not categories:
        body.append(_text(_CHART_WIDTH / 2, 20, "no choices", css="label", anchor="middle"))
    for index, (name, numbers) in enumerate(categories.items()):
        y = 4 + index * _BAR_ROW
        width = bar_space * numbers["rate"]
        tip = f"{name}: {_percent(numbers['rate'])} ({numbers['granted']} choices)"
        body.append(_text(_LABEL_WIDTH - 8, y + 17, name, css="label", anchor="end"))
        body.append(_bar(_LABEL_WIDTH, y + 4, width, _BAR_ROW - 8, tip))
        body.append(_text(_LABEL_WIDTH + width + 6, y + 17, _percent(numbers["rate"]), css="label"))
    return _svg(label, _CHART_WIDTH, height, body)


def _html_table(section: _Section) -> str:
    head = "".join(f'<th scope="col">{escape(cell)}</th>' for cell in section.headers)
    rows = "".join(
        "<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>"
        for row in section.rows
    )
    return (
        f"<section><h2>{escape(section.title)}</h2><table>"
        f"<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></section>"
    )


def render_html(stats: LedgerStats) -> str:
    """A self-contained HTML page: the charts (inline SVG) and every table, all escaped."""
    tables = "".join(_html_table(section) for section in _sections(stats))
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_TITLE}</title><style>{_STYLE}</style></head><body><main>"
        f"<h1>{_TITLE}</h1><p>{escape(_window(stats))}</p>"
        f"<section><h2>Accept-all rate per day</h2>{_day_chart(stats)}</section>"
        f"<section><h2>Grant rate per category</h2>{_category_chart(stats)}</section>"
        f"{tables}</main></body></html>\n"
    )
