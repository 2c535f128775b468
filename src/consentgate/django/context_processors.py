"""``consentgate.django.context_processors.consent``: ``consent`` in every template."""

from __future__ import annotations

from typing import Any

from ..consent import Consent
from ..errors import ConfigError
from . import consent_of_request


def consent(request: Any) -> dict[str, Consent | None]:
    """``{"consent": Consent}``; ``None`` for a request that did not pass the middleware.

    ``None`` rather than an error keeps management commands, the test client and WSGI
    deployments rendering; ``{% if consent.allows "analytics" %}`` is then simply false.
    """
    try:
        return {"consent": consent_of_request(request)}
    except ConfigError:
        return {"consent": None}
