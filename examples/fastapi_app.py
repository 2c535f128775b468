"""consentgate in a FastAPI app (``pip install fastapi``).

export CONSENTGATE_SECRET_KEYS=$(consentgate keygen)
uvicorn examples.fastapi_app:app
"""

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from starlette.middleware import Middleware

from consentgate import AdMode, ConsentMiddleware, ConsentSettings
from consentgate.fastapi import ConsentDep

app = FastAPI(middleware=[Middleware(ConsentMiddleware, settings=ConsentSettings())])


@app.get("/api/consent")
async def consent_state(consent: ConsentDep) -> dict[str, object]:
    # ConsentDep (pip install 'consentgate[fastapi]') gives the visitor's consentgate.Consent.
    return {"ads": consent.ads.value, "analytics": consent.analytics}


@app.get("/", response_class=HTMLResponse)
async def home(request: Request) -> str:
    consent = request.state.consent
    ads = "no ads" if consent.ads is AdMode.NONE else f"{consent.ads.value} ads"
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Hello</title></head>"
        f"<body><h1>Hello</h1><p>You get {ads}.</p></body></html>"
    )
