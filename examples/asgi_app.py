"""consentgate around a bare ASGI app (no framework).

    export CONSENTGATE_SECRET_KEYS=$(consentgate keygen)
    uvicorn examples.asgi_app:app

The consent is in ``scope["state"]["consent"]``. Compression, if any, goes outside:
``GZipMiddleware(ConsentMiddleware(app, ...))``.
"""

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from consentgate import ConsentMiddleware, ConsentSettings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]


async def site(
    scope: Scope,
    receive: Callable[[], Awaitable[Message]],
    send: Callable[[Message], Awaitable[None]],
) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    consent = scope["state"]["consent"]  # a consentgate.Consent
    body = (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Hello</title></head>"
        f"<body><h1>Hello from {consent.country or 'somewhere'}</h1>"
        f"<p>Ads: {consent.ads.value}; analytics: {'on' if consent.analytics else 'off'}</p>"
        "</body></html>"
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/html; charset=utf-8")],
        }
    )
    await send({"type": "http.response.body", "body": body})


app = ConsentMiddleware(site, settings=ConsentSettings())
