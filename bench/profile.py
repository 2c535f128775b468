"""Profile the consentgate server under wrk load: ``python -m bench.profile``.

Starts uvicorn serving ``bench.apps:app_consentgate`` (or another variant) pinned to the first
usable core, drives it with ``wrk`` pinned to the second one as one visitor kind, samples the
server with ``py-spy record`` meanwhile (and, when ``perf`` is there, counts with ``perf stat``),
then writes into ``--out``:

* ``profile.txt``: py-spy's collapsed stacks (``frame;frame;… count``; speedscope.app and
  flamegraph.pl read it);
* ``summary.txt``: the top functions by own time, grouped into consentgate's code, the server
  (uvicorn, uvloop, httptools, h11, asyncio), Starlette (with anyio), CPython (the interpreter,
  its builtins and standard library) and the rest, plus the time spent under consentgate's
  frames and the ``perf stat`` counters;
* ``perf-stat.txt`` and the server's log.

Root (or ``ptrace`` rights) is needed for py-spy to attach to the server.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from . import e2e
from .fixtures import SECRET_KEY

GROUPS = ("consentgate", "server", "starlette", "cpython", "syscalls", "other")
GROUP_LABELS = {
    "consentgate": "consentgate's code",
    "server": "uvicorn / uvloop / httptools / h11 / asyncio",
    "starlette": "Starlette (and anyio)",
    "cpython": "CPython: interpreter, builtins, standard library",
    "syscalls": "system calls seen from user space (libc read/write/epoll…)",
    "other": "everything else (the bench site, itsdangerous, other libraries)",
}
_FRAME = re.compile(r"^(?P<func>.*?) \((?P<where>[^()]*)\)$")
_STDLIB = re.compile(r"(^|/)python3\.\d+/(?!site-packages)")


def function_of(frame: str) -> str:
    """A frame without its line number, so that a function's lines add up."""
    func, where = split_frame(frame)
    return f"{func} ({where.rsplit(':', 1)[0]})" if where else func


def split_frame(frame: str) -> tuple[str, str]:
    """``(function, file or library)`` of one py-spy frame such as ``f (pkg/mod.py:12)``."""
    match = _FRAME.match(frame.strip())
    if match is None:
        return frame.strip(), ""
    return match.group("func"), match.group("where")


def group_of(frame: str) -> str:
    """Which of :data:`GROUPS` a frame's own time counts for."""
    func, where = split_frame(frame)
    text = f"{where} {func}"
    if "consentgate" in where:
        return "consentgate"
    if any(name in text for name in ("uvicorn", "uvloop", "httptools", "h11", "asyncio")):
        return "server"
    if "starlette" in where or "anyio" in where:
        return "starlette"
    if "libc.so" in where or "ld-linux" in where:
        return "syscalls"
    if "libpython" in where or _STDLIB.search(where) or re.search(r"\.[ch]:\d+$", where):
        return "cpython"
    if not where or where.startswith("<"):  # builtins without a file
        return "cpython"
    return "other"


def parse_collapsed(text: str) -> list[tuple[list[str], int]]:
    """py-spy's raw output as ``[(frames root first, samples)]``."""
    out: list[tuple[list[str], int]] = []
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            frames = [f for f in stack.split(";") if f]
            # The first frame is the process/thread label py-spy adds; keep real frames only.
            if frames and frames[0].startswith(("process ", "thread ")):
                frames = frames[1:]
            out.append((frames, int(count)))
    return out


def summarise(stacks: list[tuple[list[str], int]], top: int = 25) -> str:
    """The text summary: own time by group, top functions by own time, time under consentgate."""
    total = sum(count for _, count in stacks) or 1
    own: Counter[str] = Counter()
    by_group: Counter[str] = Counter()
    under_gate = 0
    for frames, count in stacks:
        if not frames:
            continue
        leaf = frames[-1]
        own[function_of(leaf)] += count
        by_group[group_of(leaf)] += count
        if any("consentgate" in split_frame(f)[1] for f in frames):
            under_gate += count
    lines = [f"samples: {total}", "", "own time by group:"]
    for group in GROUPS:
        share = by_group[group] / total
        lines.append(f"  {share:6.1%}  {GROUP_LABELS[group]}")
    lines += [
        "",
        f"inclusive: {under_gate / total:6.1%} of samples have a consentgate frame on the stack",
        "",
        f"top {top} functions by own time:",
    ]
    for frame, count in own.most_common(top):
        lines.append(f"  {count / total:6.1%}  [{group_of(frame):11}] {frame}")
    gate = [(f, c) for f, c in own.most_common() if group_of(f) == "consentgate"]
    lines += ["", "consentgate's functions by own time:"]
    lines += [f"  {c / total:6.1%}  {f}" for f, c in gate[:top]] or ["  (none sampled)"]
    return "\n".join(lines) + "\n"


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("--seconds", type=float, default=20.0, help="how long to sample")
    parser.add_argument("--rate", type=int, default=1000, help="py-spy samples per second")
    parser.add_argument("--stack", choices=list(e2e.STACKS), default="uvloop")
    parser.add_argument("--variant", choices=list(e2e.VARIANTS), default="consentgate")
    parser.add_argument(
        "--visitor",
        default="decided",
        help="the load: a key of bench.e2e.configs (decided, regulated, json_decided …)",
    )
    parser.add_argument(
        "--native",
        action="store_true",
        help="also C frames (libc, libpython, uvloop, httptools); py-spy must then stop the "
        "server for each sample, which slows it to a fraction of its speed (default: Python "
        "frames only, sampled with --nonblocking)",
    )
    parser.add_argument(
        "--out", type=Path, default=e2e.ROOT / "bench" / "results" / "profile", help="output dir"
    )
    return parser.parse_args(argv)


def _tool(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    if found is None:
        raise SystemExit(f"bench.profile: {name} not found (see bench/README.md, Profiling)")
    return found


def main(argv: Sequence[str] | None = None) -> int:
    """Run one profile; 0 when it was written."""
    args = parse(argv)
    wrk, pyspy = _tool("wrk"), _tool("py-spy")
    perf = shutil.which("perf")
    server_prefix, client_prefix = e2e.pinning()
    cookie = asyncio.run(e2e._cookie())
    by_key = {c.key: c for c in e2e.configs(cookie)}
    if args.visitor not in by_key:
        raise SystemExit(f"bench.profile: --visitor must be one of {', '.join(by_key)}")
    config = by_key[args.visitor]
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="consentgate-profile-") as tmp:
        env = {"BENCH_SECRET_KEY": SECRET_KEY}
        server = e2e.start_server(args.variant, server_prefix, Path(tmp), env, args.stack)
        with e2e.servers_running([server]):
            e2e.wait_ready(server)
            if args.variant == config.server:
                e2e.check_config(config, server)
            e2e.run_wrk(wrk, client_prefix, server.url(config.path), config.headers, 2)  # warm
            seconds = max(1, round(args.seconds))
            raw = args.out / "profile.txt"
            record = [*client_prefix, pyspy, "record", "--pid", str(server.process.pid)]
            record += ["--rate", str(args.rate), "--duration", str(seconds), "--format", "raw"]
            record += ["-o", str(raw), "--native" if args.native else "--nonblocking"]
            stat = [*client_prefix, perf] if perf else []
            stat += ["stat", "-e", "task-clock,context-switches,cycles,instructions,cache-misses"]
            stat += ["-p", str(server.process.pid), "--", "sleep", str(seconds)]
            sampler = subprocess.Popen(record, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            counter = (
                subprocess.Popen(stat, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
                if perf
                else None
            )
            cpu_before, started = server.cpu_seconds(), time.monotonic()
            count, took, _bad, _lost = e2e.run_wrk(
                wrk, client_prefix, server.url(config.path), config.headers, seconds + 1
            )
            cpu = server.cpu_seconds() - cpu_before
            sampler_out = sampler.communicate(timeout=120)[0].decode(errors="replace")
            stat_out = counter.communicate(timeout=60)[0].decode() if counter else "no perf\n"
            log = server.log.read_text(errors="replace")
        if sampler.returncode != 0 or not raw.exists():
            raise SystemExit(f"bench.profile: py-spy failed:\n{sampler_out}")
        (args.out / "perf-stat.txt").write_text(stat_out)
        (args.out / "uvicorn.log").write_text(log)
    head = (
        f"{config.label} on {args.variant} ({' + '.join(e2e.STACKS[args.stack])}), "
        f"{seconds} s at {args.rate} Hz, {'--native' if args.native else '--nonblocking'}\n"
        f"load: {count / took:,.0f} req/s, server CPU {cpu / count * 1e6:.1f} µs/request "
        f"(both lowered by the sampling), wall {time.monotonic() - started:.1f} s\n\n"
    )
    text = head + summarise(parse_collapsed(raw.read_text())) + "\nperf stat:\n" + stat_out
    (args.out / "summary.txt").write_text(text)
    print(text)
    print(f"bench.profile: wrote {args.out}/profile.txt, summary.txt, perf-stat.txt")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
