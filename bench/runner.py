"""``python -m bench``: run every section, print the one table, write the JSON."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import e2e, inprocess, memory, micro, report, sizes
from .fixtures import check_countries

SECTIONS = ("sizes", "streaming", "micro", "inprocess", "e2e")
FULL = {
    "inprocess_rounds": 9,
    "inprocess_calls": 2000,
    "e2e_seconds": 4.0,
    "e2e_rounds": 5,
    "e2e_warmup": 1.0,
    "stream_mib": 10,
    "micro_repeat": 7,
    "micro_seconds": 0.1,
}
SMOKE = {
    "inprocess_rounds": 2,
    "inprocess_calls": 20,
    "e2e_seconds": 0.2,
    "e2e_rounds": 1,
    "e2e_warmup": 0.0,
    "stream_mib": 10,
    "micro_repeat": 2,
    "micro_seconds": 0.002,
}


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(
        prog="python -m bench", description="consentgate against the middleware people accept"
    )
    parser.add_argument(
        "--smoke", action="store_true", help="tiny iteration counts: checks the benchmarks run"
    )
    parser.add_argument(
        "--only",
        default=",".join(SECTIONS),
        help=f"comma-separated sections to run (default: all of {', '.join(SECTIONS)})",
    )
    parser.add_argument(
        "--results-dir", type=Path, default=report.RESULTS, help="where the JSON goes"
    )
    parser.add_argument(
        "--reference",
        action="store_true",
        help="also write bench/results/reference.json (use with a full run)",
    )
    parser.add_argument(
        "--no-install", action="store_true", help="never apt-get install wrk (smoke implies it)"
    )
    parser.add_argument(
        "--client",
        action="store_true",
        help="end to end: use the asyncio/httpx load client even when wrk is installed",
    )
    parser.add_argument(
        "--strict", action="store_true", help="exit 1 when a target fails (default: report only)"
    )
    parser.add_argument(
        "--rounds", type=int, help="end to end: rounds (new servers each); default 5, smoke 1"
    )
    parser.add_argument(
        "--seconds", type=float, help="end to end: seconds of load per run; default 4, smoke 0.2"
    )
    args = parser.parse_args(argv)
    unknown = set(args.only.split(",")) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")
    if args.rounds is not None and args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if args.seconds is not None and args.seconds <= 0:
        parser.error("--seconds must be positive")
    if args.reference and (args.rounds is not None or args.seconds is not None):
        parser.error("--reference keeps the full run's rounds and seconds")
    return args


def _progress(text: str) -> None:
    print(f"bench: {text}", file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmarks; 0 unless ``--strict`` and a target failed."""
    args = parse(argv)
    params = dict(SMOKE if args.smoke else FULL)
    if args.rounds is not None:
        params["e2e_rounds"] = args.rounds
    if args.seconds is not None:
        params["e2e_seconds"] = args.seconds
    wanted = [s for s in SECTIONS if s in args.only.split(",")]
    check_countries()
    os.environ.pop("CONSENTGATE_CONFIG", None)  # the benchmark's settings are all explicit
    results: dict[str, Any] = {"meta": report.meta("smoke" if args.smoke else "full", params)}
    started = time.monotonic()
    for section in wanted:
        _progress(f"{section} …")
        if section == "sizes":
            results["sizes"] = sizes.run()
        elif section == "streaming":
            results["streaming"] = memory.run(mebibytes=params["stream_mib"])
        elif section == "micro":
            results["micro"] = micro.run(
                repeat=params["micro_repeat"], seconds=params["micro_seconds"]
            )
        elif section == "inprocess":
            results["inprocess"] = asyncio.run(
                inprocess.run(rounds=params["inprocess_rounds"], calls=params["inprocess_calls"])
            )
        else:
            results["e2e"] = e2e.run(
                seconds=params["e2e_seconds"],
                rounds=params["e2e_rounds"],
                install=not (args.no_install or args.smoke),
                warmup=params["e2e_warmup"],
                # The smoke run proves the section works in a fraction of a second per load:
                # wrk cannot run for less than a second, the in-process client can.
                client=args.client or args.smoke,
            )
    results["meta"]["seconds"] = round(time.monotonic() - started, 1)
    results["meta"]["load_average_end"] = os.getloadavg()
    rows = report.rows_for(results)
    print(report.format_table(rows))
    print(report.verdict(rows))
    path = report.write(results, rows, args.results_dir, reference=args.reference)
    print(f"bench: wrote {path}" + (" and bench/results/reference.json" if args.reference else ""))
    failed = any(r.status == "FAIL" for r in rows)
    return 1 if args.strict and failed else 0
