"""Real ASGI servers on 127.0.0.1 for the framework tests: uvicorn, hypercorn, granian."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .live import free_port, serve

ROOT = Path(__file__).resolve().parent.parent


def wait_for_port(port: int, alive: Any, what: str, timeout: float = 20.0) -> None:
    """Block until something accepts connections on ``port``."""
    deadline = time.monotonic() + timeout
    while True:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        if time.monotonic() > deadline or not alive():
            raise RuntimeError(f"{what} did not start on port {port}")
        time.sleep(0.05)


@contextlib.contextmanager
def uvicorn_server(app: Any, *, lifespan: str = "on") -> Iterator[str]:
    """uvicorn in a thread (``lifespan="auto"`` for apps without lifespan, such as Django)."""
    with serve(app, lifespan=lifespan) as url:
        yield url


@contextlib.contextmanager
def hypercorn_server(app: Any) -> Iterator[str]:
    """hypercorn's asyncio server in a thread."""
    from hypercorn.asyncio import serve as hypercorn_serve
    from hypercorn.config import Config

    port = free_port()
    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.loglevel = "WARNING"
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(hypercorn_serve(app, config, shutdown_trigger=stop.wait))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        wait_for_port(port, thread.is_alive, "hypercorn")
        yield f"http://127.0.0.1:{port}"
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=10)
        loop.close()


@contextlib.contextmanager
def granian_server(target: str) -> Iterator[str]:
    """granian (Rust; offers ``http.response.pathsend``) in a child process.

    ``target`` is ``module:factory``; granian imports it itself.
    """
    port = free_port()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT / "src"), str(ROOT), *filter(None, [env.get("PYTHONPATH")])]
    )
    command = [
        sys.executable,
        "-m",
        "granian",
        "--interface",
        "asgi",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--log-level",
        "warning",
        "--factory",
        target,
    ]
    process = subprocess.Popen(command, cwd=ROOT, env=env)
    try:
        wait_for_port(port, lambda: process.poll() is None, "granian")
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
