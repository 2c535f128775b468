"""FastAPI helpers: the visitor's :class:`~consentgate.Consent` as a dependency.

>>> from consentgate.fastapi import ConsentDep
>>> @app.get("/")
... async def home(consent: ConsentDep) -> dict[str, bool]:
...     return {"analytics": consent.analytics}  # doctest: +SKIP

Only this module imports FastAPI; the core needs nothing but Starlette.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from starlette.requests import HTTPConnection

from .consent import Consent
from .scope import consent_of

__all__ = ["ConsentDep", "get_consent"]


def get_consent(connection: HTTPConnection) -> Consent:
    """The visitor's consent (a FastAPI dependency for HTTP and WebSocket routes).

    Raises :class:`~consentgate.ConfigError` when no ``ConsentMiddleware`` wraps the app.
    """
    return consent_of(connection.scope)


#: ``consent: ConsentDep`` in a path operation's signature gives the visitor's consent.
ConsentDep = Annotated[Consent, Depends(get_consent)]
