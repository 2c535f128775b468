"""End to end over loopback: uvicorn (one worker) serving the bare site or consentgate.

Two server stacks in the same run: uvloop + httptools (the headline, as ``uvicorn[standard]``
deploys) and asyncio + h11, both named explicitly on uvicorn's command line.

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

from .apps import NAIVE_BODY, NAIVE_HEAD
from .checks import expect_page
from .fixtures import (
    EXCLUDED_PATH,
    JSON_ITEM,
    JSON_PATH,
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
    path: str = PAGE_PATH
    #: The configuration this one's ratios are taken against (same stack, same round).
    baseline: str = "bare"


#: The uvicorn stacks, headline first: ``(event loop, HTTP implementation)``.
STACKS = {"uvloop": ("uvloop", "httptools"), "h11": ("asyncio", "h11")}
#: The server processes each round starts on each stack.
VARIANTS = ("bare", "consentgate", "pasted", "noop", "naive")


@dataclass
class Server:
    """A uvicorn process serving ``bench.apps:app_<variant>``."""

    variant: str
    stack: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path
    env: dict[str, str] = field(default_factory=dict)

    def url(self, path: str = PAGE_PATH) -> str:
        """The URL of ``path`` on this server."""
        return f"http://127.0.0.1:{self.port}{path}"

    def cpu_seconds(self) -> float:
        """CPU time of the server process so far (all its threads).

        Read from ``/proc/<pid>/task/*/schedstat`` (nanoseconds) where the kernel keeps it:
        ``/proc/<pid>/stat`` counts clock ticks (10 ms), too coarse for a short smoke run,
        whose bare figure can round to zero.
        """
        return _schedstat_seconds(self.process.pid) or _stat_seconds(self.process.pid)


def _schedstat_seconds(pid: int) -> float:
    total = 0
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            try:
                total += int((task / "schedstat").read_text().split()[0])
            except (OSError, ValueError, IndexError):
                continue
    except OSError:
        return 0.0
    return total / 1e9


def _stat_seconds(pid: int) -> float:
    stat = Path(f"/proc/{pid}/stat").read_text()
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


def start_server(
    variant: str, prefix: list[str], workdir: Path, env: dict[str, str], stack: str = "uvloop"
) -> Server:
    """Start uvicorn for ``bench.apps:app_<variant>`` on ``stack`` (does not wait for it)."""
    port = free_port()
    loop, http = STACKS[stack]
    log = workdir / f"uvicorn-{variant}-{stack}.log"
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
        "--loop",
        loop,
        "--http",
        http,
        "--log-level",
        "warning",
    ]
    # This tree's bench and src, whatever checkout the environment's editable install points at.
    full_env = {**os.environ, **env, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "src")])}
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=ROOT, env=full_env, stdout=out, stderr=subprocess.STDOUT
        )
    return Server(variant, stack, port, process, log, env)


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
    raise SystemExit(
        f"bench: uvicorn {server.variant} ({server.stack}) did not start:\n{server.log.read_text()}"
    )


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
    """Every load of one stack: pages, the excluded path, JSON, pasted banner, naive injector."""
    base = (
        ("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0.0.0 Safari/537.36"),
        ("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
        ("Accept-Language", "en-US,en;q=0.9,de;q=0.8"),
    )
    api = (base[0], ("Accept", "application/json"), base[2])
    others = cookie_header().decode()
    plain = (*base, ("x-country", "DE"), ("Cookie", others))
    out = [Config("bare", "bare Starlette app", "bare", plain, None)]
    kinds = visitors(cookie)
    for visitor in kinds:
        headers = (
            *base,
            ("x-country", visitor.country),
            ("Cookie", cookie_header(visitor.consent_cookie).decode()),
        )
        out.append(
            Config(visitor.key, f"consentgate {visitor.label}", "consentgate", headers, visitor.key)
        )
    out += [
        Config(
            "excluded",
            f"consentgate, excluded path ({EXCLUDED_PATH})",
            "consentgate",
            plain,
            None,
            EXCLUDED_PATH,
        ),
        Config(
            "pasted",
            "bare app serving the page with the banner pasted in",
            "pasted",
            plain,
            "pasted",
        ),
        Config(
            "naive", "naive streaming injector (2 KiB, no cookie, no geo)", "naive", plain, "naive"
        ),
        Config(
            "json_bare", "JSON: bare Starlette app", "bare", (*api, *plain[3:]), "json", JSON_PATH
        ),
        Config(
            "json_noop",
            "JSON: no-op middleware",
            "noop",
            (*api, *plain[3:]),
            "json",
            JSON_PATH,
            "json_bare",
        ),
    ]
    for visitor in kinds:
        headers = (
            *api,
            ("x-country", visitor.country),
            ("Cookie", cookie_header(visitor.consent_cookie).decode()),
        )
        out.append(
            Config(
                f"json_{visitor.key}",
                f"JSON: consentgate {visitor.label}",
                "consentgate",
                headers,
                "json",
                JSON_PATH,
                "json_noop",
            )
        )
    return out


def check_config(config: Config, server: Server) -> bytes:
    """One request as the load will send it; fail loudly unless the answer is as expected."""
    response = httpx.get(server.url(config.path), headers=list(config.headers), timeout=10)
    what = f"e2e {config.key} ({server.stack})"
    if response.status_code != 200:
        raise SystemExit(f"bench: {what}: status {response.status_code}")
    if config.visitor == "json":
        if response.json() != JSON_ITEM:
            raise SystemExit(f"bench: {what}: unexpected JSON {response.text[:200]!r}")
    elif config.visitor == "naive":
        if NAIVE_HEAD not in response.content or NAIVE_BODY not in response.content:
            raise SystemExit(f"bench: {what}: the naive injector did not inject")
    else:
        expect_page(what, response.content, config.visitor)
    return response.content


def run(
    *, seconds: float, rounds: int, install: bool, warmup: float, client: bool = False
) -> dict[str, Any]:
    """Section 2 of the report (``client``: use the fallback client even if wrk is there).

    Every round starts new server processes for every variant on every stack, then runs each
    (stack, configuration) pair once, in a shuffled order, so that both stacks and all
    configurations share the machine's moods alike.
    """
    wrk, generator = (None, "chosen with --client") if client else find_wrk(install=install)
    server_prefix, client_prefix = pinning()
    client_cores = {int(client_prefix[-1])} if client_prefix else None
    cookie = asyncio.run(_cookie())
    load = configs(cookie)
    rng = random.Random(f"e2e-{rounds}-{seconds}")
    per_round: dict[str, list[dict[str, dict[str, float]]]] = {stack: [] for stack in STACKS}
    sizes: dict[str, dict[str, int]] = {}

    def one(config: Config, server: Server, duration: float) -> dict[str, float]:
        cpu_before = server.cpu_seconds()
        url = server.url(config.path)
        if wrk is not None:
            count, took, bad, lost = run_wrk(wrk, client_prefix, url, config.headers, duration)
        else:
            count, took, bad, lost = run_client(client_cores, url, config.headers, duration)
        cpu = server.cpu_seconds() - cpu_before
        if bad:  # a wrong answer voids the figure; a timeout on a busy machine does not
            raise SystemExit(f"bench: e2e {config.key} ({server.stack}): {bad} answers not 200")
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
            with servers_running([]) as running:
                for stack in STACKS:
                    for variant in ("bare", "consentgate", "noop", "naive"):
                        running.append(start_server(variant, server_prefix, workdir, env, stack))
                for server in running:
                    wait_ready(server)
                gate = next(s for s in running if s.variant == "consentgate")
                if not page_file.exists():
                    banner = next(c for c in load if c.key == "regulated")
                    page_file.write_bytes(check_config(banner, gate))
                pasted_env = {**env, "BENCH_PAGE_FILE": str(page_file)}
                for stack in STACKS:
                    pasted = start_server("pasted", server_prefix, workdir, pasted_env, stack)
                    running.append(pasted)
                    wait_ready(pasted)
                servers = {(s.stack, s.variant): s for s in running}
                pairs = [(stack, c) for stack in STACKS for c in load]
                for stack, c in pairs:
                    body = check_config(c, servers[stack, c.server])
                    sizes.setdefault(stack, {})[c.key] = len(body)
                if warmup > 0:
                    for stack, c in pairs:
                        one(c, servers[stack, c.server], warmup)
                rng.shuffle(pairs)
                measured: dict[str, dict[str, dict[str, float]]] = {s: {} for s in STACKS}
                for stack, c in pairs:
                    measured[stack][c.key] = one(c, servers[stack, c.server], seconds)
                for stack in STACKS:
                    per_round[stack].append(measured[stack])
    return {
        "load_generator": generator if wrk is not None else f"asyncio/httpx client ({generator})",
        "wrk": wrk is not None,
        "pinned": bool(server_prefix),
        "connections": CONNECTIONS,
        "seconds_per_run": seconds,
        "rounds": rounds,
        "stacks": {
            stack: {
                "uvicorn": {"loop": loop, "http": http},
                "configs": _summarise(load, per_round[stack], sizes[stack]),
            }
            for stack, (loop, http) in STACKS.items()
        },
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
        key, base = config.key, config.baseline
        entry: dict[str, Any] = {
            "label": config.label,
            "path": config.path,
            "page_bytes": sizes[key],
            "baseline": base,
            "socket_errors": sum(int(r[key]["socket_errors"]) for r in per_round),
            "rps": summary([r[key] for r in rps]),
            "cpu_us_per_request": summary([r[key] for r in cpu]),
            "added_cpu_us": paired(cpu, lambda r, key=key, base=base: r[key] - r[base]),
            "rps_ratio": paired(rps, lambda r, key=key, base=base: safe_div(r[key], r[base])),
            "cpu_ratio": paired(cpu, lambda r, key=key, base=base: safe_div(r[key], r[base])),
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
