"""How long ``consentgate scan`` takes for 10 pages: ``python bench/scan_bench.py [--runs 3]``.

Serves a 12-page consentgate site (one declared analytics script, released on accept) with
uvicorn in a separate process on 127.0.0.1, then scans it with ``--pages 10 --offline``
(three visits, 30 page loads) in Debian's or Playwright's Chromium and prints the wall time
of each run and the median. Not part of ``make test`` or ``python -m bench``.
"""

from __future__ import annotations

import argparse
import io
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from consentgate import ConsentMiddleware, ConsentSettings

PAGES = [f"/p{i}" for i in range(12)]
SCRIPT = 'document.cookie = "stats_id=1; path=/; max-age=31536000";'


def _page(request: Request) -> Response:
    links = "".join(f'<li><a href="{p}">{p}</a></li>' for p in ["/", *PAGES])
    text = "<p>" + "Lorem ipsum dolor sit amet. " * 40 + "</p>"
    return HTMLResponse(
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>bench</title></head>"
        f"<body><h1>{request.url.path}</h1><ul>{links}</ul>{text}</body></html>"
    )


def _script(request: Request) -> Response:
    return Response(SCRIPT, media_type="text/javascript")


CONFIG = """
secret_keys = ["bench-key-0123456789-0123456789-0123456789"]

[[services]]
name = "Stats"
category = "analytics"
cookies = ["stats_id"]
scripts = ['<script src="/stats.js"></script>']
"""


def make_app() -> ConsentMiddleware:
    """The site behind consentgate, with the settings of ``CONSENTGATE_CONFIG``."""
    routes = [Route("/", _page), *(Route(p, _page) for p in PAGES), Route("/stats.js", _script)]
    return ConsentMiddleware(Starlette(routes=routes), settings=ConsentSettings(ledger_url=None))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    port = _free_port()
    root = Path(__file__).resolve().parent.parent
    config = Path(tempfile.mkdtemp()) / "site.toml"
    config.write_text(CONFIG, encoding="utf-8")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "bench.scan_bench:make_app",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=root,
        env={**os.environ, "CONSENTGATE_CONFIG": str(config)},
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(url, timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        from consentgate.cli import main as cli

        times = []
        for run in range(args.runs):
            start = time.monotonic()
            code = cli(
                ["scan", url, "--pages", "10", "--offline", "--config", str(config)],
                out=io.StringIO(),
            )
            times.append(time.monotonic() - start)
            print(f"run {run + 1}: {times[-1]:.1f} s (exit {code})", flush=True)
        print(f"scan of 10 pages, 3 visits: median {statistics.median(times):.1f} s")
    finally:
        server.terminate()
        server.wait(timeout=10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
