"""Django helpers: ``consent`` in templates, and tags that place consentgate's pieces.

Wrap the ASGI application in ``asgi.py``::

    from django.core.asgi import get_asgi_application
    from consentgate import ConsentMiddleware, ConsentSettings

    application = ConsentMiddleware(get_asgi_application(), settings=ConsentSettings())

then add ``"consentgate.django"`` to ``INSTALLED_APPS`` (for ``{% load consentgate %}``) and
``"consentgate.django.context_processors.consent"`` to the template context processors.
Views read ``request.scope["state"]["consent"]`` or :func:`consent_of_request`.
"""

from __future__ import annotations

from typing import Any

from ..consent import Consent
from ..scope import consent_of

__all__ = ["consent_of_request"]


def consent_of_request(request: Any) -> Consent:
    """The visitor's :class:`~consentgate.Consent` for a Django ``ASGIRequest``.

    Raises :class:`~consentgate.ConfigError` when the request did not pass through
    ``ConsentMiddleware`` (a WSGI request, or an ``asgi.py`` that does not wrap the app).
    """
    return consent_of(getattr(request, "scope", None) or {})
