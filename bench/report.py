"""The one table (figures, ratios, targets, PASS/FAIL), the run's metadata and the JSON file."""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import subprocess
import sys
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from consentgate import scanner

from . import inprocess, micro

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
#: Every top-level key of a full run's JSON.
TOP_LEVEL_KEYS = ("meta", "inprocess", "e2e", "streaming", "sizes", "micro", "targets", "table")
PACKAGES = (
    "consentgate",
    "starlette",
    "uvicorn",
    "h11",
    "httptools",
    "uvloop",
    "anyio",
    "httpx",
    "itsdangerous",
    "geoip2",
    "maxminddb",
    "iptocc",
    "mmdb-writer",
    "netaddr",
    "pydantic",
    "pydantic-settings",
)

JSON_LIMIT = 1.10
E2E_LIMIT = 0.85
#: The end-to-end stack whose figures are the targets (the other one is reported as info).
E2E_HEADLINE = "uvloop"
E2E_STACKS = ("uvloop", "h11")
STREAM_LIMIT = 2 * 1024 * 1024
BANNER_LIMIT = 12_000
COOKIE_LIMIT = 200
VISITORS = inprocess.VISITORS


@dataclass
class Row:
    """One line of the table: a figure, its spread, a ratio and, if it has one, its target."""

    id: str
    section: str
    figure: str
    unit: str
    value: dict[str, Any]
    ratio: dict[str, Any] | None = None
    ratio_of: str = ""
    added: float | None = None
    target: str = ""
    status: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def _one(value: float) -> dict[str, Any]:
    return {"min": value, "median": value, "max": value, "n": 1}


def _judge(ok: bool | None, *, info: bool = False) -> str:
    status = "n/a" if ok is None else "PASS" if ok else "FAIL"
    return f"({status})" if info else status


def _at_most(value: float | None, limit: float) -> bool | None:
    """``value <= limit``, or ``None`` when no figure was measured (a run too short to count)."""
    return None if value is None else value <= limit


def _inprocess_rows(data: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    section = "in-process, 5 KB HTML page (CPU µs per request)"
    html = data["html"]
    for key, case in html.items():
        rows.append(
            Row(
                f"inprocess.html.{key}",
                section,
                case["label"],
                "µs",
                case["us"],
                case["ratio_to_bare"],
                "bare",
                case["added_us"]["median"],
            )
        )
    for geo in inprocess.GEO_MODES:
        case = html[f"cg_decided_{geo}"]
        ratio = case["added_ratio_to_session"]
        info = geo != "embedded" and geo != "mmdb"
        rows.append(
            Row(
                f"target.html_decided_vs_session.{geo}",
                section,
                f"decided ({inprocess.GEO_MODES[geo]}): added ÷ Session's added",
                "µs",
                case["added_us"],
                ratio,
                "Session added",
                case["added_us"]["median"],
                "≤ 1.00× (info)" if info else "≤ 1.00×",
                _judge(ratio["median"] <= 1.0, info=info),
            )
        )
    section = "in-process, small JSON response (CPU µs per request)"
    for key, case in data["json"].items():
        target = status = ""
        if key.startswith("cg_") and key not in inprocess.EXTRAS:
            info = not key.endswith("_embedded")
            target = f"≤ {JSON_LIMIT:.2f}×" + (" (info)" if info else "")
            status = _judge(case["ratio_to_noop"]["median"] <= JSON_LIMIT, info=info)
        rows.append(
            Row(
                f"inprocess.json.{key}",
                section,
                case["label"],
                "µs",
                case["us"],
                case["ratio_to_noop"],
                "no-op",
                case["added_us"]["median"],
                target,
                status,
            )
        )
    return rows


def _e2e_rows(data: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    for stack, run in data["stacks"].items():
        rows += _e2e_stack_rows(data, stack, run, headline=stack == E2E_HEADLINE)
    return rows


def _e2e_stack_rows(
    data: dict[str, Any], stack: str, run: dict[str, Any], *, headline: bool
) -> list[Row]:
    impl = run["uvicorn"]
    section = (
        f"uvicorn end to end, {impl['loop']} + {impl['http']}"
        f"{' (headline)' if headline else ''} ({data['load_generator']}, "
        f"{data['connections']} conn, {data['rounds']}×{data['seconds_per_run']:g} s)"
    )
    configs = run["configs"]
    rows: list[Row] = []
    for key, config in configs.items():
        target = status = ""
        if key in VISITORS:
            target = f"≥ {E2E_LIMIT:.2f}×" + ("" if headline else " (info)")
            status = _judge(config["rps_ratio"]["median"] >= E2E_LIMIT, info=not headline)
        rows.append(
            Row(
                f"e2e.{stack}.rps.{key}",
                section,
                f"{config['label']} ({config['page_bytes']} B)",
                "req/s",
                config["rps"],
                config["rps_ratio"],
                config["baseline"],
                target=target,
                status=status,
            )
        )
    for key, config in configs.items():
        target = status = ""
        cpu = config["cpu_ratio"]
        if key in VISITORS:
            # The capacity target read from CPU time: bare's CPU/request ÷ this one's ≥ 0.85.
            limit = 1 / E2E_LIMIT
            target = f"≤ {limit:.2f}× (info)"
            status = _judge(_at_most(cpu["median"], limit), info=True)
        elif key.startswith("json_") and key[5:] in VISITORS:
            target = f"≤ {JSON_LIMIT:.2f}×" + ("" if headline else " (info)")
            status = _judge(_at_most(cpu["median"], JSON_LIMIT), info=not headline)
        rows.append(
            Row(
                f"e2e.{stack}.cpu.{key}",
                section,
                f"server CPU per request: {config['label']}",
                "µs",
                config["cpu_us_per_request"],
                cpu,
                config["baseline"],
                config["added_cpu_us"]["median"],
                target=target,
                status=status,
            )
        )
    regulated = configs["regulated"]
    rows.append(
        Row(
            f"e2e.{stack}.rps.regulated_vs_pasted",
            section,
            "banner visitor vs bare app with the banner pasted in: req/s",
            "req/s",
            regulated["rps"],
            regulated["rps_ratio_to_pasted"],
            "pasted",
        )
    )
    rows.append(
        Row(
            f"e2e.{stack}.cpu.regulated_vs_pasted",
            section,
            "banner visitor vs bare app with the banner pasted in: CPU/req",
            "µs",
            regulated["cpu_us_per_request"],
            regulated["cpu_ratio_to_pasted"],
            "pasted",
        )
    )
    return rows


def _streaming_rows(data: dict[str, Any]) -> list[Row]:
    mib = data["page_bytes"] / 1024 / 1024
    section = f"streaming {mib:.0f} MiB HTML in {data['chunk_bytes'] // 1024} KiB chunks"
    rows: list[Row] = []
    for key, case in data["cases"].items():
        over = case.get("over_bare_bytes")
        rows.append(
            Row(
                f"streaming.{key}",
                section,
                f"peak traced memory: {case['label']}",
                "B",
                _one(case["peak_bytes"]),
                added=over,
                target="" if over is None else "added < 2 MiB",
                status="" if over is None else _judge(over < STREAM_LIMIT),
            )
        )
    return rows


def _size_rows(data: dict[str, Any]) -> list[Row]:
    section = f"sizes (gzip -{data['gzip_level']})"
    rows: list[Row] = []
    banner = data["banner"]
    names = {
        "dialog_html": "banner dialog HTML (en, as injected)",
        "js": "banner script",
        "css": "banner style",
        "total": "banner HTML + JS + CSS",
    }
    for key, label in names.items():
        for kind in ("raw", "gzip"):
            is_target = key == "total" and kind == "gzip"
            rows.append(
                Row(
                    f"sizes.banner.{key}.{kind}",
                    section,
                    f"{label}, {kind}",
                    "B",
                    _one(banner[key][kind]),
                    target=f"≤ {BANNER_LIMIT} B" if is_target else "",
                    status=_judge(banner[key][kind] <= BANNER_LIMIT) if is_target else "",
                )
            )
    page = data["page"]
    for kind in ("raw", "gzip"):
        rows.append(
            Row(
                f"sizes.page_added.{kind}",
                section,
                f"bytes consentgate adds to the page (banner visitor), {kind}",
                "B",
                _one(page["added"][kind]),
            )
        )
    for kind in ("raw", "gzip"):
        rows.append(
            Row(
                f"sizes.page_added_decided.{kind}",
                section,
                f"bytes consentgate adds to the page (decided visitor), {kind}",
                "B",
                _one(page["added_decided"][kind]),
            )
        )
    cookie = data["cookie"]["max_cookie_bytes"]
    rows.append(
        Row(
            "sizes.cookie",
            section,
            "consent cookie (name=value, largest)",
            "B",
            _one(cookie),
            target=f"< {COOKIE_LIMIT} B",
            status=_judge(cookie < COOKIE_LIMIT),
        )
    )
    return rows


def _micro_rows(data: dict[str, Any]) -> list[Row]:
    section = "micro-costs (CPU ns per call)"
    return [
        Row(f"micro.{key}", section, item["label"], "ns", item["ns"]) for key, item in data.items()
    ]


BUILDERS: dict[str, Callable[[dict[str, Any]], list[Row]]] = {
    "inprocess": _inprocess_rows,
    "e2e": _e2e_rows,
    "streaming": _streaming_rows,
    "sizes": _size_rows,
    "micro": _micro_rows,
}


def rows_for(results: dict[str, Any]) -> list[Row]:
    """The table's rows for whichever sections ``results`` has."""
    rows: list[Row] = []
    for name, build in BUILDERS.items():
        if name in results:
            rows += build(results[name])
    return rows


def target_ids() -> list[str]:
    """The ids of every row with a PASS/FAIL target (info rows included) in a full run."""
    ids = [f"target.html_decided_vs_session.{geo}" for geo in inprocess.GEO_MODES]
    ids += [f"inprocess.json.cg_{v}_{g}" for g in inprocess.GEO_MODES for v in VISITORS]
    for stack in E2E_STACKS:
        ids += [f"e2e.{stack}.rps.{v}" for v in VISITORS]
        ids += [f"e2e.{stack}.cpu.{v}" for v in VISITORS]
        ids += [f"e2e.{stack}.cpu.json_{v}" for v in VISITORS]
    ids += [f"streaming.{v}" for v in VISITORS]
    ids += ["sizes.banner.total.gzip", "sizes.cookie"]
    return ids


def micro_keys() -> list[str]:
    """Every micro-cost figure."""
    return list(micro.LABELS)


# -- printing --------------------------------------------------------------------------------


def _num(value: float | None, unit: str) -> str:
    if value is None:
        return "–"
    if unit in ("µs",):
        return f"{value:,.2f}"
    return f"{value:,.0f}"


def _ratio(ratio: dict[str, Any] | None, of: str) -> str:
    if not ratio or ratio.get("median") is None:
        return ""
    return f"{ratio['median']:.2f}× [{ratio['min']:.2f}–{ratio['max']:.2f}] {of}"


def format_table(rows: Iterable[Row]) -> str:
    """The one table, one block per section."""
    header = (
        "figure",
        "median",
        "min",
        "max",
        "unit",
        "added",
        "ratio med [min–max]",
        "target",
        "result",
    )
    lines: list[tuple[str, ...]] = []
    section = None
    for row in rows:
        if row.section != section:
            section = row.section
            lines.append(("## " + section,))
        lines.append(
            (
                row.figure,
                _num(row.value["median"], row.unit),
                _num(row.value["min"], row.unit) if row.value.get("n", 1) > 1 else "",
                _num(row.value["max"], row.unit) if row.value.get("n", 1) > 1 else "",
                row.unit,
                ""
                if row.added is None
                else f"{row.added:+,.2f}"
                if row.unit == "µs"
                else f"{row.added:+,.0f}",
                _ratio(row.ratio, row.ratio_of),
                row.target,
                row.status,
            )
        )
    widths = [len(h) for h in header]
    for line in lines:
        if len(line) > 1:
            widths = [max(w, len(c)) for w, c in zip(widths, line, strict=True)]
    right = {1, 2, 3, 5}

    def fmt(cells: tuple[str, ...]) -> str:
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    out = [fmt(header), "  ".join("-" * w for w in widths)]
    for line in lines:
        out.append(line[0] if len(line) == 1 else fmt(line))
    return "\n".join(out)


def verdict(rows: Iterable[Row]) -> str:
    """One line: how many targets pass and which fail (info rows not counted)."""
    judged = [r for r in rows if r.status in ("PASS", "FAIL")]
    failed = [r.id for r in judged if r.status == "FAIL"]
    text = f"targets: {len(judged) - len(failed)} PASS, {len(failed)} FAIL"
    return text + (f" ({', '.join(failed)})" if failed else "")


# -- metadata and files ---------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _git() -> dict[str, Any]:
    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=False, timeout=10
        )
        return done.stdout.strip()

    return {
        "commit": git("rev-parse", "HEAD"),
        "src_dirty": bool(git("status", "--porcelain", "src")),
    }


def meta(mode: str, parameters: dict[str, Any]) -> dict[str, Any]:
    """Where and how this run was made."""
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "mode": mode,
        "parameters": parameters,
        "cpu_model": _cpu_model(),
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)),
        "load_average_start": os.getloadavg(),
        "python": sys.version,
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "packages": {name: _version(name) for name in PACKAGES},
        # False: the scanner's C module is not built (or CONSENTGATE_PURE_PYTHON=1)
        "scanner_accelerated": scanner.ACCELERATED,
        "git": _git(),
        "clock": "CPU time of the benchmark thread (in-process, micro); /proc utime+stime (e2e)",
    }


def write(results: dict[str, Any], rows: list[Row], directory: Path, *, reference: bool) -> Path:
    """Write ``<UTC timestamp>.json`` (and ``reference.json`` if asked); return the first."""
    results = {
        **results,
        "targets": [asdict(r) for r in rows if r.status],
        "table": [asdict(r) for r in rows],
    }
    directory.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = directory / f"{stamp}.json"
    text = json.dumps(results, indent=1, ensure_ascii=False) + "\n"
    path.write_text(text, encoding="utf-8")
    if reference:
        (RESULTS / "reference.json").write_text(text, encoding="utf-8")
    return path
