"""End to end over loopback: uvicorn (one worker) serving the bare site or consentgate.

The servers run on core 0 and the load generator on core 1 (``taskset``), only on 127.0.0.1.
Each run is bounded in time; every round runs each configuration once, in a shuffled order.
Besides wall-clock requests/second, the server's CPU time per request is read from
``/proc/PID/stat`` (utime + stime), which the neighbours' load on a shared machine disturbs
far less.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from .checks import expect_page
from .fixtures import (
    PAGE_PATH,
    SECRET_KEY,
    consent_settings,
    cookie_header,
    decided_cookie,
    visitors,
)
from .stats import paired, safe_div, summary

ROOT = Path(__file__).resolve().parent.parent
CONNECTIONS = 32
_CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Config:
    """One load: which server, which request headers, and what the page must look like."""

    key: str
    label: str
    server: str
    headers: tuple[tuple[str, str], ...]
    visitor: str | None


@dataclass
class Server:
    """A uvicorn process serving ``bench.apps:app_<variant>``."""

    variant: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        """The page's URL."""
        return f"http://127.0.0.1:{self.port}{PAGE_PATH}"

    def cpu_seconds(self) -> float:
        """utime + stime of the server process so far."""
        stat = Path(f"/proc/{self.process.pid}/stat").read_text()
        fields = stat.rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _CLK_TCK


def implementations() -> dict[str, str]:
    """What uvicorn's ``auto`` picks here for the HTTP parser and the event loop."""
    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    return {"http": http, "loop": loop}


def pinning() -> tuple[list[str], list[str]]:
    """``taskset`` prefixes for the server (core 0) and the load generator (core 1)."""
    if shutil.which("taskset") and len(os.sched_getaffinity(0)) >= 2:
        cores = sorted(os.sched_getaffinity(0))
        return ["taskset", "-c", str(cores[0])], ["taskset", "-c", str(cores[1])]
    return [], []


def find_wrk(*, install: bool) -> tuple[str | None, str]:
    """The ``wrk`` binary (installed with apt as root when ``install``), and how it was found."""
    found = shutil.which("wrk")
    if found:
        return found, "wrk"
    if not install:
        return None, "wrk not installed (not installing in this mode)"
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return None, "wrk not installed and not root: cannot apt-get install it"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    print("bench: installing wrk with apt-get …", file=sys.stderr, flush=True)
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "wrk"]):
        done = subprocess.run(command, env=env, capture_output=True, check=False, timeout=600)
        if done.returncode != 0:
            return None, f"apt-get install wrk failed: {done.stderr.decode()[-200:]}"
    found = shutil.which("wrk")
    return found, "wrk (installed now with apt-get)" if found else "wrk missing after apt-get"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(variant: str, prefix: list[str], workdir: Path, env: dict[str, str]) -> Server:
    """Start uvicorn for ``bench.apps:app_<variant>`` (does not wait for it)."""
    port = free_port()
    log = workdir / f"uvicorn-{variant}.log"
    command = [
        *prefix,
        sys.executable,
        "-m",
        "uvicorn",
        f"bench.apps:app_{variant}",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--no-access-log",
        "--lifespan",
        "on",
        "--log-level",
        "warning",
    ]
    full_env = {**os.environ, **env, "PYTHONPATH": str(ROOT)}
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=ROOT, env=full_env, stdout=out, stderr=subprocess.STDOUT
        )
    return Server(variant, port, process, log, env)


def wait_ready(server: Server, timeout: float = 30.0) -> None:
    """Block until the server answers, or fail loudly with its log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            break
        try:
            with socket.create_connection(("127.0.0.1", server.port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    stop_server(server)
    raise SystemExit(f"bench: uvicorn {server.variant} did not start:\n{server.log.read_text()}")


def stop_server(server: Server) -> None:
    """Stop one server started here (by its own process id only)."""
    if server.process.poll() is None:
        server.process.terminate()
        try:
            server.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(timeout=10)


@contextlib.contextmanager
def servers_running(servers: list[Server]) -> Iterator[list[Server]]:
    """Stop every server on the way out, whatever happened."""
    try:
        yield servers
    finally:
        for server in servers:
            stop_server(server)


_REQUESTS = re.compile(r"(\d+) requests in ([\d.]+)(us|ms|s|m)")
_NON_2XX = re.compile(r"Non-2xx or 3xx responses: (\d+)")
_SOCKET_ERRORS = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}


def run_wrk(
    wrk: str, prefix: list[str], url: str, headers: Sequence[tuple[str, str]], seconds: float
) -> tuple[int, float, int, int]:
    """``(requests, seconds, non-2xx answers, socket errors)`` of one bounded wrk run."""
    command = [*prefix, wrk, "-t1", f"-c{CONNECTIONS}", f"-d{max(1, round(seconds))}s"]
    for name, value in headers:
        command += ["-H", f"{name}: {value}"]
    command.append(url)
    done = subprocess.run(
        command, capture_output=True, text=True, check=False, timeout=seconds + 30
    )
    match = _REQUESTS.search(done.stdout)
    if done.returncode != 0 or match is None:
        raise SystemExit(f"bench: wrk failed ({done.returncode}): {done.stdout}{done.stderr}")
    bad = sum(int(n) for n in _NON_2XX.findall(done.stdout))
    errors = _SOCKET_ERRORS.search(done.stdout)
    lost = sum(int(n) for n in errors.groups()) if errors is not None else 0
    return int(match.group(1)), float(match.group(2)) * _UNITS[match.group(3)], bad, lost


async def _client_load(
    url: str, headers: Sequence[tuple[str, str]], seconds: float
) -> tuple[int, float, int, int]:
    # The fallback: a bounded pool of keep-alive connections, each worker one request at a time.
    limits = httpx.Limits(max_connections=CONNECTIONS, max_keepalive_connections=CONNECTIONS)
    count = bad = lost = 0
    async with httpx.AsyncClient(limits=limits, headers=list(headers), timeout=10) as client:
        start = time.perf_counter()
        deadline = start + seconds

        async def worker() -> None:
            nonlocal count, bad, lost
            while time.perf_counter() < deadline:
                try:
                    response = await client.get(url)
                except httpx.TransportError:
                    lost += 1
                    continue
                count += 1
                bad += response.status_code != 200

        await asyncio.gather(*(worker() for _ in range(CONNECTIONS)))
        return count, time.perf_counter() - start, bad, lost


def run_client(
    cores: set[int] | None, url: str, headers: Sequence[tuple[str, str]], seconds: float
) -> tuple[int, float, int, int]:
    """Like :func:`run_wrk`, with the asyncio/httpx fallback client in this process."""
    before = os.sched_getaffinity(0)
    if cores:
        os.sched_setaffinity(0, cores)
    try:
        return asyncio.run(_client_load(url, headers, seconds))
    finally:
        os.sched_setaffinity(0, before)


def configs(cookie: str) -> list[Config]:
    """Bare site, consentgate for each visitor, and the bare site with the banner pasted in."""
    base = (
        ("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0.0.0 Safari/537.36"),
        ("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
        ("Accept-Language", "en-US,en;q=0.9,de;q=0.8"),
    )
    others = cookie_header().decode()
    out = [
        Config(
            "bare",
            "bare Starlette app",
            "bare",
            (*base, ("x-country", "DE"), ("Cookie", others)),
            None,
        )
    ]
    for visitor in visitors(cookie):
        headers = (
            *base,
            ("x-country", visitor.country),
            ("Cookie", cookie_header(visitor.consent_cookie).decode()),
        )
        out.append(
            Config(visitor.key, f"consentgate {visitor.label}", "consentgate", headers, visitor.key)
        )
    out.append(
        Config(
            "pasted",
            "bare app serving the page with the banner pasted in",
            "pasted",
            (*base, ("x-country", "DE"), ("Cookie", others)),
            "pasted",
        )
    )
    return out


def check_config(config: Config, server: Server) -> bytes:
    """One request as the load will send it; fail loudly unless the page is as expected."""
    response = httpx.get(server.url, headers=list(config.headers), timeout=10)
    if response.status_code != 200:
        raise SystemExit(f"bench: e2e {config.key}: status {response.status_code}")
    expect_page(f"e2e {config.key}", response.content, config.visitor)
    return response.content


def run(
    *, seconds: float, rounds: int, install: bool, warmup: float, client: bool = False
) -> dict[str, Any]:
    """Section 2 of the report (``client``: use the fallback client even if wrk is there)."""
    wrk, generator = (None, "chosen with --client") if client else find_wrk(install=install)
    server_prefix, client_prefix = pinning()
    client_cores = {int(client_prefix[-1])} if client_prefix else None
    cookie = asyncio.run(_cookie())
    load = configs(cookie)
    by_key = {c.key: c for c in load}
    rng = random.Random(f"e2e-{rounds}-{seconds}")
    per_round: list[dict[str, dict[str, float]]] = []
    sizes: dict[str, int] = {}

    def one(config: Config, server: Server, duration: float) -> dict[str, float]:
        cpu_before = server.cpu_seconds()
        if wrk is not None:
            count, took, bad, lost = run_wrk(
                wrk, client_prefix, server.url, config.headers, duration
            )
        else:
            count, took, bad, lost = run_client(client_cores, server.url, config.headers, duration)
        cpu = server.cpu_seconds() - cpu_before
        if bad:  # a wrong answer voids the figure; a timeout on a busy machine does not
            raise SystemExit(f"bench: e2e {config.key}: {bad} answers were not 200")
        return {
            "requests": count,
            "socket_errors": lost,
            "rps": count / took if took else 0.0,
            "cpu_us_per_request": cpu / count * 1e6 if count else 0.0,
        }

    with tempfile.TemporaryDirectory(prefix="consentgate-e2e-") as tmp:
        workdir = Path(tmp)
        env = {"BENCH_SECRET_KEY": SECRET_KEY}
        page_file = workdir / "pasted.html"
        for _ in range(rounds):
            # New server processes every round: how fast a process runs also depends on its
            # memory layout (two identical bare servers measured apart by up to 20 % here), so
            # each figure is a median over several processes, not one process's luck.
            bare = start_server("bare", server_prefix, workdir, env)
            gate = start_server("consentgate", server_prefix, workdir, env)
            with servers_running([bare, gate]) as running:
                for server in running:
                    wait_ready(server)
                if not page_file.exists():
                    page_file.write_bytes(check_config(by_key["regulated"], gate))
                pasted = start_server(
                    "pasted", server_prefix, workdir, {**env, "BENCH_PAGE_FILE": str(page_file)}
                )
                running.append(pasted)
                wait_ready(pasted)
                servers = {s.variant: s for s in running}
                sizes = {c.key: len(check_config(c, servers[c.server])) for c in load}
                if warmup > 0:
                    for config in load:
                        one(config, servers[config.server], warmup)
                order = load[:]
                rng.shuffle(order)
                per_round.append({c.key: one(c, servers[c.server], seconds) for c in order})
    return {
        "load_generator": generator if wrk is not None else f"asyncio/httpx client ({generator})",
        "wrk": wrk is not None,
        "pinned": bool(server_prefix),
        "connections": CONNECTIONS,
        "seconds_per_run": seconds,
        "rounds": rounds,
        "uvicorn": implementations(),
        "configs": _summarise(load, per_round, sizes),
    }


def _summarise(
    load: list[Config], per_round: list[dict[str, dict[str, float]]], sizes: dict[str, int]
) -> dict[str, Any]:
    def flat(figure: str) -> list[dict[str, float]]:
        return [{k: r[k][figure] for k in r} for r in per_round]

    rps = flat("rps")
    cpu = flat("cpu_us_per_request")
    out: dict[str, Any] = {}
    for config in load:
        key = config.key
        entry: dict[str, Any] = {
            "label": config.label,
            "page_bytes": sizes[key],
            "socket_errors": sum(int(r[key]["socket_errors"]) for r in per_round),
            "rps": summary([r[key] for r in rps]),
            "cpu_us_per_request": summary([r[key] for r in cpu]),
            "rps_ratio_to_bare": paired(rps, lambda r, key=key: safe_div(r[key], r["bare"])),
            "cpu_ratio_to_bare": paired(cpu, lambda r, key=key: safe_div(r[key], r["bare"])),
        }
        if key == "regulated":
            entry["rps_ratio_to_pasted"] = paired(
                rps, lambda r: safe_div(r["regulated"], r["pasted"])
            )
            entry["cpu_ratio_to_pasted"] = paired(
                cpu, lambda r: safe_div(r["regulated"], r["pasted"])
            )
        out[key] = entry
    return out


async def _cookie() -> str:
    from consentgate import ConsentMiddleware

    from .apps import site

    return await decided_cookie(ConsentMiddleware(site(), settings=consent_settings()))
