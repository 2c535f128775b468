"""consentgate in a Starlette app.

    export CONSENTGATE_SECRET_KEYS=$(consentgate keygen)
    uvicorn examples.starlette_app:app

Every HTML page gets the consent banner (for visitors from regulated countries), the Consent
Mode script and a "Privacy settings" link; handlers read the visitor's choice from
``request.state.consent``.
"""

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from consentgate import ConsentMiddleware, ConsentSettings

# CONSENTGATE_* environment variables, or ConsentSettings.from_toml("consentgate.toml").
settings = ConsentSettings()


async def home(request: Request) -> HTMLResponse:
    consent = request.state.consent  # a consentgate.Consent
    stats = ""
    if consent.analytics:
        stats = "<p>Thank you for allowing statistics.</p>"
    return HTMLResponse(
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Hello</title></head><body>"
        f"<h1>Hello</h1><p>Ads for you: {consent.ads.value}</p>{stats}"
        # A script of your own, run only once "analytics" is allowed (activated in place).
        '<script type="text/plain" data-consentgate-category="analytics">'
        "console.log('analytics allowed')</script>"
        "</body></html>"
    )


app = Starlette(
    routes=[Route("/", home)],
    middleware=[Middleware(ConsentMiddleware, settings=settings)],
)
