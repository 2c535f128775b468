"""The visitor's consent as the application sees it: :class:`Consent` and :class:`AdMode`."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = ["NECESSARY", "AdMode", "Consent"]

NECESSARY = "necessary"
_GRANTED = "granted"
_DENIED = "denied"


class AdMode(enum.StrEnum):
    """Which kind of ads a visitor may be shown."""

    PERSONALIZED = "personalized"
    NON_PERSONALIZED = "non_personalized"
    LIMITED = "limited"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class Consent:
    """What one visitor's consent allows, decided once per request.

    Found in ``request.state.consent`` (Starlette) or ``scope["state"]["consent"]``.
    """

    country: str | None
    regulated: bool
    decided: bool
    granted: frozenset[str]
    consent_id: str | None
    revision: int | None
    decided_at: datetime | None
    gpc: bool
    ads: AdMode
    analytics: bool
    show_banner: bool
    #: Choices from an earlier, now stale, decision: used to pre-fill the banner's toggles.
    prefill: frozenset[str] = field(default_factory=frozenset)
    #: True when ``Sec-GPC: 1`` takes away ad personalization (SPEC: ``honor_gpc``).
    gpc_opt_out: bool = False
    #: The IAB TCF TC string of this consent (TCF mode, regulated and decided visitors only).
    tc_string: str | None = None

    def allows(self, category: str) -> bool:
        """Whether ``category`` (e.g. ``"analytics"``) is granted."""
        return category in self.granted

    def google_consent_mode(self) -> dict[str, str]:
        """The Google Consent Mode v2 signals that match this consent."""
        advertising = "advertising" in self.granted
        personal = advertising and not self.gpc_opt_out
        functional = _GRANTED if "functional" in self.granted else _DENIED
        return {
            "ad_storage": _GRANTED if advertising else _DENIED,
            "ad_user_data": _GRANTED if personal else _DENIED,
            "ad_personalization": _GRANTED if personal else _DENIED,
            "analytics_storage": _GRANTED if "analytics" in self.granted else _DENIED,
            "functionality_storage": functional,
            "personalization_storage": functional,
            "security_storage": _GRANTED,
        }

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field, plus the Consent Mode signals."""
        return {
            "country": self.country,
            "regulated": self.regulated,
            "decided": self.decided,
            "granted": sorted(self.granted),
            "consent_id": self.consent_id,
            "revision": self.revision,
            "decided_at": self.decided_at.isoformat() if self.decided_at else None,
            "gpc": self.gpc,
            "ads": self.ads.value,
            "analytics": self.analytics,
            "show_banner": self.show_banner,
            "prefill": sorted(self.prefill),
            "google_consent_mode": self.google_consent_mode(),
            "tc_string": self.tc_string,
        }
