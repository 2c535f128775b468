"""consentgate around a Litestar app (``pip install litestar``).

    export CONSENTGATE_SECRET_KEYS=$(consentgate keygen)
    uvicorn examples.litestar_app:app

Wrap the application: Litestar's ``DefineMiddleware`` runs after routing, so consentgate's
own routes would answer 404 (consentgate refuses it at start-up with this fix).
"""

from typing import Any

from litestar import Litestar, MediaType, Request, get

from consentgate import Consent, ConsentMiddleware, ConsentSettings


@get("/", media_type=MediaType.HTML)
async def home(request: Request[Any, Any, Any]) -> str:
    consent: Consent = request.scope["state"]["consent"]
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Hello</title></head>"
        f"<body><h1>Hello</h1><p>Ads for you: {consent.ads.value}</p></body></html>"
    )


@get("/api/consent")
async def consent_state(request: Request[Any, Any, Any]) -> dict[str, Any]:
    consent: Consent = request.scope["state"]["consent"]
    return consent.as_dict()


app = ConsentMiddleware(Litestar(route_handlers=[home, consent_state]), settings=ConsentSettings())
