"""`consentgate demo --tcf`: the demo site in TCF mode with the bundled synthetic GVL."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from consentgate.cli import main
from consentgate.demo import create_app, tcf_demo_settings
from consentgate.tcf import decode

from .conftest import KEY

OVERRIDES: dict[str, Any] = {"secret_keys": [KEY], "ledger_url": None}


def demo_client(app: Any, country: str) -> httpx.AsyncClient:
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=("127.0.0.1", 50000)),
        base_url="http://testserver",
    )
    client.cookies.set("demo_country", country)
    return client


async def test_the_tcf_demo_serves_the_cmp_api_and_makes_tc_strings() -> None:
    app = create_app(settings_overrides=OVERRIDES | {"tcf": tcf_demo_settings()})
    async with demo_client(app, "DE") as c:
        page = (await c.get("/", headers={"accept": "text/html"})).text
        assert "__tcfapi" in page
        assert 'value="tcf_v755"' in page
        assert "synthetic entry" in page  # the vendor list says it is not the real one
        answer = await c.post(
            "/_consent",
            json={"action": "accept_all"},
            headers={"origin": "http://testserver", "accept": "application/json"},
        )
    model = decode(answer.json()["consent"]["tc_string"])
    assert model.cmp_id == 4095
    assert 755 in model.vendor_consents


async def test_visitors_outside_the_regulated_countries_get_gdpr_applies_false() -> None:
    app = create_app(settings_overrides=OVERRIDES | {"tcf": tcf_demo_settings()})
    async with demo_client(app, "US") as c:
        page = (await c.get("/", headers={"accept": "text/html"})).text
    config = re.search(r"\}\)\(window, document, (\{.*?\})\);</script>", page)
    assert config is not None
    assert json.loads(config.group(1))["gdpr"] is False


def test_demo_tcf_flag_reaches_the_server(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import uvicorn

    calls: list[Any] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append(app))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    out = io.StringIO()
    assert main(["demo", "--tcf", "--port", "8124"], out=out) == 0
    assert "SYNTHETIC vendor list" in out.getvalue()
    assert len(calls) == 1
