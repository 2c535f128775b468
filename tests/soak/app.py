"""The site the soak runs under uvicorn: a Starlette app behind consentgate, trusting loopback
as its proxy so that every request can come from another visitor (``X-Forwarded-For``)."""

from __future__ import annotations

import os

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, StreamingResponse
from starlette.routing import Route

from consentgate import ConsentMiddleware, ConsentSettings

ARTICLE = (
    "<!doctype html><html><head><meta charset=utf-8><title>Article</title></head><body>"
    "<main><h1>Article</h1>" + "<p>Some words about healthy food.</p>" * 40 + "</main>"
    '<script src="https://www.googletagmanager.com/gtag/js?id=G-TEST12345"></script>'
    "</body></html>"
)


async def article(request: Request) -> HTMLResponse:
    return HTMLResponse(ARTICLE)


async def api(request: Request) -> JSONResponse:
    return JSONResponse({"ads": request.state.consent.ads.value})


async def stream(request: Request) -> StreamingResponse:
    async def parts():  # type: ignore[no-untyped-def]
        yield "<!doctype html><html><head><title>s</title></head><body>"
        for number in range(20):
            yield f"<p>part {number}</p>"
        yield "</body></html>"

    return StreamingResponse(parts(), media_type="text/html")


site = Starlette(
    routes=[Route("/api", api), Route("/stream", stream), Route("/{path:path}", article)]
)
app = ConsentMiddleware(
    site,
    settings=ConsentSettings(
        secret_keys=["soak-key-0123456789-0123456789-0123456789"],
        trusted_proxies=["127.0.0.1"],
        ledger_url=os.environ["SOAK_LEDGER_URL"],
        analytics={"provider": "ga4", "measurement_id": "G-TEST12345"},
        ads={"provider": "adsense", "client": "ca-pub-1234567890123456"},
    ),
)
