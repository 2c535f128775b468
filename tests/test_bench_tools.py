"""The benchmark's reference injector and the profile summary do what the figures assume."""

from __future__ import annotations

from typing import Any

import pytest

from bench.apps import NAIVE_BODY, NAIVE_HEAD, NaiveInjector
from bench.profile import group_of, parse_collapsed, summarise

PAGE = b"<!doctype html><html><head><title>t</title></head><body><p>hi</p></body></html>"


async def _serve(chunks: list[bytes], content_type: bytes = b"text/html; charset=utf-8") -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        headers = [(b"content-type", content_type), (b"content-length", b"%d" % len(PAGE))]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        for i, chunk in enumerate(chunks):
            more = i < len(chunks) - 1
            await send({"type": "http.response.body", "body": chunk, "more_body": more})

    sent: list[dict[str, Any]] = []

    async def send(message: Any) -> None:
        sent.append(message)

    async def receive() -> Any:
        return {"type": "http.request", "body": b"", "more_body": False}

    await NaiveInjector(app)({"type": "http", "path": "/"}, receive, send)
    return sent


@pytest.mark.parametrize("size", [len(PAGE), 1, 3, 5, 7, 16])
async def test_naive_injector_inserts_once_whatever_the_chunking(size: int) -> None:
    chunks = [PAGE[i : i + size] for i in range(0, len(PAGE), size)]
    sent = await _serve(chunks)
    body = b"".join(m.get("body", b"") for m in sent[1:])
    assert body == PAGE.replace(b"<head>", b"<head>" + NAIVE_HEAD).replace(
        b"</body>", NAIVE_BODY + b"</body>"
    )
    assert len(NAIVE_HEAD) + len(NAIVE_BODY) == 2048
    assert all(k != b"content-length" for k, _ in sent[0]["headers"])
    assert sent[-1]["more_body"] is False


async def test_naive_injector_leaves_other_responses_alone() -> None:
    sent = await _serve([PAGE], content_type=b"application/json")
    assert sent[1]["body"] == PAGE
    assert (b"content-length", b"%d" % len(PAGE)) in sent[0]["headers"]


def test_profile_summary_groups_own_time_by_layer() -> None:
    text = (
        'process 1:"python";run (asyncio/runners.py:118);'
        "__call__ (consentgate/middleware.py:189) 3\n"
        'process 1:"python";run (asyncio/runners.py:118);'
        "send (uvicorn/protocols/http/httptools_impl.py:522) 5\n"
        'process 1:"python";run (asyncio/runners.py:118);'
        "__call__ (consentgate/middleware.py:217);app (starlette/routing.py:65) 2\n"
    )
    stacks = parse_collapsed(text)
    assert [count for _, count in stacks] == [3, 5, 2]
    summary = summarise(stacks)
    assert "samples: 10" in summary
    assert " 30.0%  consentgate's code" in summary
    assert " 50.0%  uvicorn" in summary
    assert " 20.0%  Starlette" in summary
    assert "50.0% of samples have a consentgate frame" in summary
    assert "30.0%  __call__ (consentgate/middleware.py)" in summary  # lines merged per function
    assert group_of("_PyEval_EvalFrameDefault (libpython3.11.so.1.0)") == "cpython"
    assert group_of("write (libc.so.6)") == "syscalls"
    assert group_of("dumps (itsdangerous/serializer.py:10)") == "other"
