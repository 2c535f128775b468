"""Reading the visitor's consent from an ASGI scope, and checking where the middleware sits.

Framework helpers (``consentgate.fastapi``, ``consentgate.django``) read the consent here, so
a site that forgot to wrap its app gets one clear error instead of a ``KeyError``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .consent import Consent
from .errors import ConfigError

__all__ = ["check_mounting", "consent_of"]

_NOT_MOUNTED = (
    "no consent in the request scope: wrap the whole ASGI app, e.g. "
    "`app = ConsentMiddleware(app, settings=...)` (see the docs page for your framework)"
)

_PER_ROUTE = (
    "ConsentMiddleware is mounted per route (Litestar's `middleware=[DefineMiddleware(...)]` "
    "or `middleware=[ConsentMiddleware]` runs after routing, so /_consent and its assets would "
    "answer 404): wrap the application instead, "
    "`app = ConsentMiddleware(Litestar(route_handlers=[...]), settings=...)`"
)


_MAX_DEPTH = 16


def consent_of(scope: Mapping[str, Any]) -> Consent:
    """The :class:`~consentgate.Consent` that ``ConsentMiddleware`` put into ``scope``."""
    state = scope.get("state")
    consent = state.get("consent") if isinstance(state, Mapping) else None
    if not isinstance(consent, Consent):
        raise ConfigError(_NOT_MOUNTED)
    return consent


def check_mounting(app: object) -> None:
    """Refuse an ``app`` that shows the middleware is being built per route.

    Litestar builds route middleware around its own per-route handlers after routing; an
    application object (``Litestar``) or any other ASGI callable is fine.
    """
    inner: object = app
    for _ in range(_MAX_DEPTH):  # through other middleware (``self.app``) to the app inside
        owner = getattr(inner, "__self__", inner)  # a bound method such as ``route.handle``
        module = type(owner).__module__
        if module == "litestar.app":
            return
        if module.startswith("litestar."):
            raise ConfigError(_PER_ROUTE)
        inner = getattr(owner, "app", None)
        if inner is None:
            return
