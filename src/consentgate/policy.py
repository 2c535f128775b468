"""What a visitor's consent allows: the pure :func:`decide` and the actions that change it.

No I/O here: every input is in the signature, so the decision table can be tested alone.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from .consent import NECESSARY, AdMode, Consent
from .cookie import CookieState, offer_hash

__all__ = ["Action", "AdRules", "Offer", "choose", "decide"]


class Action(enum.StrEnum):
    """What a visitor did in the banner or settings page."""

    ACCEPT_ALL = "accept_all"
    REJECT_ALL = "reject_all"
    SAVE = "save"
    WITHDRAW = "withdraw"


@dataclass(frozen=True, slots=True)
class AdRules:
    """Which ads each consent state gets (from the ``ads`` and ``honor_gpc`` settings)."""

    before_choice: AdMode = AdMode.NONE
    without_consent: AdMode = AdMode.NON_PERSONALIZED
    honor_gpc: bool = True


@dataclass(frozen=True, slots=True)
class Offer:
    """The categories on offer, their cookie codes and the hash that detects changes."""

    categories: tuple[str, ...]
    required: frozenset[str]
    codes: Mapping[str, str]
    hash: str
    _names_by_code: Mapping[str, str] = field(repr=False, default_factory=dict)

    @classmethod
    def build(
        cls,
        categories: Iterable[tuple[str, bool, str]],
        services: Iterable[tuple[str, str, Iterable[str]]] = (),
    ) -> Offer:
        """From ``(name, required, cookie_code)`` triples and ``(service, category, cookies)``."""
        cats = list(categories)
        names = tuple(name for name, _, _ in cats)
        codes = {name: code for name, _, code in cats}
        return cls(
            categories=names,
            required=frozenset(name for name, required, _ in cats if required) | {NECESSARY},
            codes=codes,
            hash=offer_hash(names, services),
            _names_by_code={code: name for name, code in codes.items()},
        )

    @property
    def optional(self) -> tuple[str, ...]:
        """Categories a visitor may refuse."""
        return tuple(name for name in self.categories if name not in self.required)

    def names(self, codes: Iterable[str]) -> frozenset[str]:
        """Category names for cookie codes; codes of categories no longer offered are dropped."""
        by_code = self._names_by_code
        return frozenset(by_code[code] for code in codes if code in by_code)

    def to_codes(self, names: Iterable[str]) -> frozenset[str]:
        """Cookie codes for category names (unknown names are dropped)."""
        return frozenset(self.codes[name] for name in names if name in self.codes)


def choose(offer: Offer, action: Action, categories: Iterable[str] = ()) -> frozenset[str]:
    """The categories granted after ``action`` (``categories`` only counts for ``save``)."""
    if action is Action.ACCEPT_ALL:
        return frozenset(offer.categories)
    if action is Action.SAVE:
        return offer.required | (frozenset(categories) & frozenset(offer.categories))
    return offer.required


def decide(
    *,
    offer: Offer,
    revision: int,
    country: str | None,
    regulated: bool,
    cookie: CookieState | None,
    gpc: bool,
    rules: AdRules,
) -> Consent:
    """Apply the decision table (README, "How consent is decided") to one visitor."""
    everything = frozenset(offer.categories)
    current = cookie is not None and cookie.revision == revision and cookie.offer == offer.hash
    if cookie is not None and current:
        granted = offer.names(cookie.granted) | offer.required
        gpc_opt_out = rules.honor_gpc and gpc and not regulated and not cookie.gpc
        return _consent(
            country, regulated, True, granted, cookie, gpc, gpc_opt_out, rules.without_consent
        )
    if not regulated:
        # Unregulated: everything, minus what an older (stale) cookie refused.
        refused = offer.names(cookie.refused) if cookie is not None else frozenset()
        granted = (everything - refused) | offer.required
        gpc_opt_out = rules.honor_gpc and gpc and not (cookie is not None and cookie.gpc)
        return _consent(
            country, regulated, False, granted, cookie, gpc, gpc_opt_out, rules.without_consent
        )
    prefill = offer.names(cookie.granted) - offer.required if cookie is not None else frozenset()
    return Consent(
        country=country,
        regulated=True,
        decided=False,
        granted=offer.required,
        consent_id=cookie.consent_id if cookie is not None else None,
        revision=None,
        decided_at=None,
        gpc=gpc,
        ads=rules.before_choice,
        analytics=False,
        show_banner=True,
        prefill=prefill,
        gpc_opt_out=False,
    )


def _consent(
    country: str | None,
    regulated: bool,
    decided: bool,
    granted: frozenset[str],
    cookie: CookieState | None,
    gpc: bool,
    gpc_opt_out: bool,
    without_consent: AdMode,
) -> Consent:
    if "advertising" in granted:
        ads = AdMode.NON_PERSONALIZED if gpc_opt_out else AdMode.PERSONALIZED
    else:
        ads = without_consent
    return Consent(
        country=country,
        regulated=regulated,
        decided=decided,
        granted=granted,
        consent_id=cookie.consent_id if cookie is not None else None,
        revision=cookie.revision if decided and cookie is not None else None,
        decided_at=(
            datetime.fromtimestamp(cookie.decided_at, tz=UTC)
            if decided and cookie is not None
            else None
        ),
        gpc=gpc,
        ads=ads,
        analytics="analytics" in granted,
        show_banner=False,
        prefill=frozenset(),
        gpc_opt_out=gpc_opt_out and "advertising" in granted,
    )
