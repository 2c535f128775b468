"""consentgate in a Quart app (``pip install quart``), WebSocket included.

    export CONSENTGATE_SECRET_KEYS=$(consentgate keygen)
    hypercorn examples.quart_app:app      # or: uvicorn examples.quart_app:app

Quart's place for ASGI middleware is ``app.asgi_app``: ``app`` stays a Quart app.
"""

from quart import Quart, request, session, websocket

from consentgate import Consent, ConsentMiddleware, ConsentSettings
from consentgate.settings import Service

app = Quart(__name__)
app.secret_key = "change me"  # Quart's own signed session cookie, `session`


@app.route("/")
async def home() -> str:
    consent: Consent = request.scope["state"]["consent"]
    session["visits"] = session.get("visits", 0) + 1
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Hello</title></head>"
        f"<body><h1>Hello from {consent.country or 'somewhere'}</h1>"
        f"<p>Visit {session['visits']}; analytics {'on' if consent.analytics else 'off'}.</p>"
        "</body></html>"
    )


@app.websocket("/ws")
async def ws() -> None:
    consent: Consent = websocket.scope["state"]["consent"]
    await websocket.send(consent.ads.value)


app.asgi_app = ConsentMiddleware(  # type: ignore[assignment]  # Quart types its ASGI messages itself
    app.asgi_app,
    settings=ConsentSettings(
        # The session cookie is strictly necessary: declared, it is never blocked.
        services=[Service(name="Session", category="necessary", cookies=["session"])],
    ),
)
