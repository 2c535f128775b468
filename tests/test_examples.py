"""Every framework example builds and answers a page with the banner."""

from __future__ import annotations

import importlib
import sys

import httpx
import pytest

from .conftest import KEY

EXAMPLES = [
    "examples.asgi_app",
    "examples.starlette_app",
    "examples.fastapi_app",
    "examples.quart_app",
    "examples.litestar_app",
]


@pytest.mark.parametrize("module", EXAMPLES)
async def test_example_serves_a_page_with_the_banner(
    module: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONSENTGATE_SECRET_KEYS", KEY)
    monkeypatch.setenv("CONSENTGATE_LEDGER_URL", "memory://")
    monkeypatch.setenv("CONSENTGATE_FORCE_COUNTRY", "DE")
    sys.modules.pop(module, None)
    app = importlib.import_module(module).app
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 1234))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        page = await client.get("/", headers={"accept": "text/html"})
    sys.modules.pop(module, None)
    assert page.status_code == 200
    assert 'id="consentgate-accept"' in page.text
