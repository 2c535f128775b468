"""Soak: 50,000 requests over loopback against a real uvicorn (uvloop + httptools).

Visitors of every kind, hostile cookies, paths, languages and forwarded headers, consent
POSTs: no answer may be a 5xx, and the server's memory after the soak stays within a few MiB
of its memory after the warm-up (every cache is bounded by bytes). The run is bounded in
count and time and stops by itself.
"""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from .live import free_port

pytestmark = pytest.mark.soak

WARM_UP = 10_000
SOAK = 40_000
CONNECTIONS = 8
#: How much more the server may hold after the soak than after the warm-up.
RSS_SLACK = 6 << 20
ROOT = Path(__file__).resolve().parent.parent


def rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, int]]:
    port = free_port()
    ledger = tmp_path_factory.mktemp("soak") / "ledger.db"
    env = {**os.environ, "SOAK_LEDGER_URL": f"sqlite:///{ledger}", "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "tests.soak.app:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--no-proxy-headers",
            "--no-access-log",
            "--log-level",
            "error",
        ],
        env=env,
        cwd=ROOT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                asyncio.run(request_once(port, b"GET /api HTTP/1.1\r\nHost: soak.test\r\n\r\n"))
                break
            except OSError:
                assert time.monotonic() < deadline, "uvicorn did not start"
                assert process.poll() is None, "uvicorn exited"
                time.sleep(0.2)
        yield port, process.pid
    finally:
        process.terminate()
        process.wait(10)


async def request_once(port: int, raw: bytes) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(raw)
        status, _ = await read_response(reader)
        return status
    finally:
        writer.close()


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        if b":" in line:
            name, value = line.split(b":", 1)
            headers[name.strip().lower()] = value.strip()
    if b"content-length" in headers:
        return status, await reader.readexactly(int(headers[b"content-length"]))
    body = bytearray()
    if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            body += await reader.readexactly(size + 2)
            if size == 0:
                return status, bytes(body)
    return status, bytes(body)


def requests(count: int, seed: int) -> list[bytes]:
    """A reproducible mix of visitors and request kinds, a third of them hostile."""
    rng = random.Random(seed)
    out = []
    for number in range(count):
        ip = ".".join(str(rng.randint(1, 223 if i == 0 else 254)) for i in range(4))
        kind = rng.random()
        headers = [b"Host: soak.test", b"X-Forwarded-For: " + ip.encode()]
        path = f"/news/{rng.randint(0, 50)}"
        method = b"GET"
        body = b""
        if kind < 0.35:  # navigations
            headers.append(b"Accept: text/html,application/xhtml+xml")
            headers.append(b"Sec-Fetch-Dest: document")
            headers.append(b"Accept-Language: " + rng.choice([b"de-DE,de;q=0.9", b"fr", b"en"]))
        elif kind < 0.45:
            path = "/api"
            headers.append(b"Accept: application/json")
        elif kind < 0.5:
            path = "/stream"
            headers.append(b"Accept: text/html")
        elif kind < 0.55:  # htmx-style fragment fetch
            headers.append(b"Accept: */*")
            headers.append(b"Sec-Fetch-Dest: empty")
        elif kind < 0.62:  # a consent choice, same-origin
            method, path = b"POST", "/_consent"
            body = rng.choice([b"action=accept_all", b"action=reject_all", b"action=withdraw"])
            headers += [
                b"Content-Type: application/x-www-form-urlencoded",
                b"Origin: http://soak.test",
            ]
        else:  # hostile: huge cookies, paths, languages, forwarded headers, forged cookies
            junk = rng.randbytes(3000).hex()
            path = f"/{junk}?q={number}"
            headers += [
                f"Cookie: consentgate={junk}; _ga={junk[:2000]}".encode(),
                f"Accept-Language: {junk[:1000]}".encode(),
                f"Forwarded: for={ip};proto=https".encode(),
                b"Accept: text/html",
            ]
        if body:
            headers.append(b"Content-Length: " + str(len(body)).encode())
        out.append(
            method
            + b" "
            + path.encode()
            + b" HTTP/1.1\r\n"
            + b"\r\n".join(headers)
            + b"\r\n\r\n"
            + body
        )
    return out


async def run(port: int, batch: list[bytes], deadline: float) -> Counter[int]:
    statuses: Counter[int] = Counter()
    queue = iter(batch)

    async def worker() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for raw in queue:
                assert time.monotonic() < deadline, "the soak ran out of time"
                writer.write(raw)
                status, _ = await read_response(reader)
                statuses[status] += 1
        finally:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(CONNECTIONS)))
    return statuses


def test_no_5xx_and_flat_memory_over_50000_requests(server: tuple[int, int]) -> None:
    port, pid = server
    deadline = time.monotonic() + 600
    warm = asyncio.run(run(port, requests(WARM_UP, seed=1), deadline))
    after_warm_up = rss(pid)
    soak = asyncio.run(run(port, requests(SOAK, seed=2), deadline))
    after_soak = rss(pid)
    total = warm + soak
    assert sum(total.values()) == WARM_UP + SOAK
    assert not [status for status in total if status >= 500], total
    assert total[200] > (WARM_UP + SOAK) // 2
    print(
        f"\nsoak: {sum(total.values())} requests {dict(total)}; RSS after warm-up "
        f"{after_warm_up / 2**20:.1f} MiB, after soak {after_soak / 2**20:.1f} MiB"
    )
    assert after_soak - after_warm_up < RSS_SLACK
