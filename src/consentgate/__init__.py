"""consentgate: pure-ASGI middleware for lawful, fast cookies, ads and analytics.

>>> from consentgate import ConsentMiddleware, ConsentSettings
>>> app = ConsentMiddleware(app, settings=ConsentSettings())  # doctest: +SKIP
"""

from __future__ import annotations

from .consent import AdMode, Consent
from .errors import ConfigError, ConsentGateError, GeoIPError, LedgerError
from .middleware import ConsentMiddleware
from .settings import ConsentSettings

__all__ = [
    "AdMode",
    "ConfigError",
    "Consent",
    "ConsentGateError",
    "ConsentMiddleware",
    "ConsentSettings",
    "GeoIPError",
    "LedgerError",
]
__version__ = "0.1.0"
