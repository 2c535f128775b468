"""What a TCF visitor is asked, as consent categories, and the TC string their choice makes.

Every TCF choice is a consent category of its own, so the signed consent cookie, the policy,
the endpoints, the no-JS form path and the ledger handle it like any other:

- ``tcf_p{n}``: consent to purpose *n*; ``tcf_sf{n}``: opt-in to special feature *n*;
- ``tcf_v{id}``: consent for GVL vendor *id*;
- ``tcf_o{n}``: an objection to legitimate interest for purpose *n* (granted = objected; "Accept
  all" never objects, see :meth:`TcfOffer.refine`).

The TC string is made from these and the GVL, never stored as the only copy of a choice: when
the GVL or policy version changes, the next page re-creates it from the signed consent.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from importlib import resources
from types import MappingProxyType

from ..consent import Consent
from ..textfiles import TextFiles
from .cmp import CmpState, cmp_script
from .codec import LI_FORBIDDEN_PURPOSES, TCModel, encode
from .gvl import GlobalVendorList, Translation, gvl_language

__all__ = ["ADVERTISING", "TcfOffer", "head_html"]

ADVERTISING = "advertising"
GOOGLE_VENDOR_ID = 755
_LI_ALLOWED = frozenset(range(1, 12)) - LI_FORBIDDEN_PURPOSES

# Banner sentences that frame the GVL's own texts (GVL translations cover the rest), one
# ``texts/<lang>.json`` per banner language; an unknown language gets English.
_FALLBACK = "en"
_FILES = TextFiles(
    resources.files(__package__ or "consentgate.tcf").joinpath("texts"), what="TCF texts"
)

#: The languages that have a ``texts/<lang>.json`` file in the package.
SHIPPED_LANGUAGES: frozenset[str] = _FILES.languages


@functools.cache
def _read(lang: str) -> Mapping[str, str]:
    """The sentences of shipped language ``lang``, gaps filled from English."""
    words = dict(_read(_FALLBACK)) if lang != _FALLBACK else {}
    words.update(_FILES.read(lang))
    return MappingProxyType(words)


def _sentences(language: str) -> Mapping[str, str]:
    """The sentences for ``language`` (``de-AT`` uses ``de``); unknown languages get English."""
    base = language.split("-", 1)[0].lower()
    return _read(base if base in SHIPPED_LANGUAGES else _FALLBACK)


def purpose_category(purpose: int) -> str:
    """The consent category of TCF purpose ``purpose``."""
    return f"tcf_p{purpose}"


def vendor_category(vendor: int) -> str:
    """The consent category of GVL vendor ``vendor``."""
    return f"tcf_v{vendor}"


def feature_category(feature: int) -> str:
    """The consent category of special feature ``feature``."""
    return f"tcf_sf{feature}"


def objection_category(purpose: int) -> str:
    """The category whose grant means "I object to legitimate interest for ``purpose``"."""
    return f"tcf_o{purpose}"


@dataclass(frozen=True, slots=True)
class TcfOffer:
    """The TCF choices a site offers, from its vendors in the GVL, and what they produce."""

    gvl: GlobalVendorList
    vendors: tuple[int, ...]
    cmp_id: int
    cmp_version: int
    publisher_country: str
    google_atps: tuple[int, ...] = ()
    default_language: str = "en"

    @classmethod
    def build(
        cls,
        *,
        gvl: GlobalVendorList,
        vendors: Iterable[int],
        cmp_id: int,
        cmp_version: int,
        publisher_country: str,
        google_atps: Iterable[int] = (),
        default_language: str = "en",
    ) -> TcfOffer:
        """Check the vendors against the GVL (``ValueError`` naming unknown ones)."""
        wanted = tuple(sorted(set(vendors)))
        unknown = gvl.unknown_vendors(wanted)
        if unknown:
            raise ValueError(
                f"tcf.vendors: {', '.join(map(str, unknown))} not in the GVL (version "
                f"{gvl.vendor_list_version}) or deleted from it — remove them or update the GVL"
            )
        return cls(
            gvl=gvl,
            vendors=wanted,
            cmp_id=cmp_id,
            cmp_version=cmp_version,
            publisher_country=publisher_country,
            google_atps=tuple(sorted(set(google_atps))),
            default_language=default_language,
        )

    # -- what is asked -----------------------------------------------------------------------
    @property
    def purposes(self) -> tuple[int, ...]:
        """Purposes some vendor asks consent for (flexible ones included)."""
        found: set[int] = set()
        for v in self.vendors:
            vendor = self.gvl.vendors[v]
            found |= vendor.purposes | vendor.flexible_purposes
        return tuple(sorted(found))

    @property
    def li_purposes(self) -> tuple[int, ...]:
        """Purposes some vendor claims legitimate interest for (never 1 or 3-6)."""
        found: set[int] = set()
        for v in self.vendors:
            found |= self.gvl.vendors[v].leg_int_purposes
        return tuple(sorted(found & _LI_ALLOWED))

    @property
    def special_features(self) -> tuple[int, ...]:
        """Special features some vendor uses (opt-in)."""
        found: set[int] = set()
        for v in self.vendors:
            found |= self.gvl.vendors[v].special_features
        return tuple(sorted(found))

    def category_names(self) -> list[str]:
        """Every TCF category, in the order the banner shows them."""
        return [
            *(purpose_category(p) for p in self.purposes),
            *(feature_category(f) for f in self.special_features),
            *(objection_category(p) for p in self.li_purposes),
            *(vendor_category(v) for v in self.vendors),
        ]

    def texts(self, languages: Sequence[str]) -> dict[str, dict[str, str]]:
        """Banner text overrides per language: the TCF intro and every TCF category's texts."""
        return {lang: self._texts(lang) for lang in languages}

    def _texts(self, language: str) -> dict[str, str]:
        words = _sentences(language)
        gvl_texts = self.gvl.texts(language)
        out: dict[str, str] = {f"cat_{ADVERTISING}_desc": words["advertising"]}
        listed = self._first_layer(gvl_texts)
        out["intro"] = (
            words["intro"].replace("{count}", str(len(self.vendors)))
            + f" {words['purposes']}: "
            + "; ".join(listed)
            + "."
        )
        for p in self.purposes:
            text = gvl_texts.purposes.get(p)
            out[f"cat_{purpose_category(p)}"] = text.name if text else f"Purpose {p}"
            out[f"cat_{purpose_category(p)}_desc"] = text.description if text else ""
        for f in self.special_features:
            text = gvl_texts.special_features.get(f)
            name = text.name if text else f"Special feature {f}"
            out[f"cat_{feature_category(f)}"] = words["special"].replace("{name}", name)
            out[f"cat_{feature_category(f)}_desc"] = text.description if text else ""
        for p in self.li_purposes:
            text = gvl_texts.purposes.get(p)
            name = text.name if text else f"Purpose {p}"
            out[f"cat_{objection_category(p)}"] = words["objection"].replace("{name}", name)
            out[f"cat_{objection_category(p)}_desc"] = words["objection_desc"]
        for v in self.vendors:
            vendor = self.gvl.vendors[v]
            out[f"cat_{vendor_category(v)}"] = words["vendor"].replace("{name}", vendor.name)
            out[f"cat_{vendor_category(v)}_desc"] = self._vendor_text(vendor.id, gvl_texts, words)
        return out

    def _first_layer(self, gvl_texts: Translation) -> list[str]:
        """Stack names that cover the asked purposes and features, then the rest by name."""
        purposes, features = set(self.purposes), set(self.special_features)
        listed = []
        for stack in sorted(
            gvl_texts.stacks.values(),
            key=lambda s: (-len(s.purposes) - len(s.special_features), s.id),
        ):
            covers = stack.purposes | stack.special_features
            if not covers:
                continue
            if stack.purposes <= purposes and stack.special_features <= features:
                listed.append(stack.name)
                purposes -= stack.purposes
                features -= stack.special_features
        listed += [gvl_texts.purposes[p].name for p in sorted(purposes) if p in gvl_texts.purposes]
        listed += [
            gvl_texts.special_features[f].name
            for f in sorted(features)
            if f in gvl_texts.special_features
        ]
        return listed

    def _vendor_text(self, vendor_id: int, texts: Translation, words: Mapping[str, str]) -> str:
        vendor = self.gvl.vendors[vendor_id]

        def names(ids: Iterable[int], table: Mapping[int, object]) -> str:
            found = [getattr(table[i], "name", str(i)) for i in sorted(ids) if i in table]
            return ", ".join(found) or words["none"]

        retention = (
            words["days"].replace("{days}", str(vendor.retention_days))
            if vendor.retention_days is not None
            else words["unknown"]
        )
        return (
            words["vendor_desc"]
            .replace("{purposes}", names(vendor.purposes, texts.purposes))
            .replace("{li}", names(vendor.leg_int_purposes & _LI_ALLOWED, texts.purposes))
            .replace("{features}", names(vendor.special_features, texts.special_features))
            .replace("{retention}", retention)
        )

    # -- what a choice makes -----------------------------------------------------------------
    def refine(self, action: str, granted: frozenset[str]) -> frozenset[str]:
        """The categories a TCF choice grants.

        "Accept all" and "Reject all" leave legitimate interest standing (no objection).
        ``advertising`` (which loads Google's ad tags) stays granted only when the TCF choice
        also consents to purpose 1 and to Google (or, without Google among the vendors, to
        some vendor): the tags then find a TC string that allows them.
        """
        objections = {objection_category(p) for p in self.li_purposes}
        if action != "save":
            granted = granted - objections
        google = (
            vendor_category(GOOGLE_VENDOR_ID) in granted
            if GOOGLE_VENDOR_ID in self.vendors
            else any(vendor_category(v) in granted for v in self.vendors)
        )
        if purpose_category(1) in granted and google:
            return granted
        return granted - {ADVERTISING}

    def model(self, granted: frozenset[str], decided_at: datetime, language: str) -> TCModel:
        """The TC model of a decision made at ``decided_at`` with ``granted`` categories."""
        day = decided_at.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        objected = {p for p in self.li_purposes if objection_category(p) in granted}
        li_purposes = frozenset(self.li_purposes) - objected
        vendor_li = frozenset(
            v for v in self.vendors if (self.gvl.vendors[v].leg_int_purposes & li_purposes)
        )
        return TCModel(
            cmp_id=self.cmp_id,
            cmp_version=self.cmp_version,
            vendor_list_version=self.gvl.vendor_list_version,
            policy_version=self.gvl.policy_version,
            created=day,
            last_updated=day,
            consent_screen=1,
            consent_language=gvl_language(language)[:2].upper(),
            publisher_country=self.publisher_country,
            special_feature_opt_ins=frozenset(
                f for f in self.special_features if feature_category(f) in granted
            ),
            purpose_consents=frozenset(p for p in self.purposes if purpose_category(p) in granted),
            purpose_li_transparency=li_purposes,
            vendor_consents=frozenset(v for v in self.vendors if vendor_category(v) in granted),
            vendor_li=vendor_li,
            disclosed_vendors=frozenset(self.vendors),
        )

    def annotate(self, consent: Consent, language: str | None = None) -> Consent:
        """``consent`` with its TC string (regulated and decided visitors; others ``None``).

        ``language`` is the banner language the choice was made in (its ConsentLanguage);
        without it, the default banner language.
        """
        if not consent.regulated or not consent.decided or consent.decided_at is None:
            return consent
        model = self.model(consent.granted, consent.decided_at, language or self.default_language)
        return replace(consent, tc_string=encode(model))

    def additional_consent(self, consent: Consent) -> str:
        """Google's Additional Consent string (v2) for this consent."""
        disclosed = ".".join(map(str, self.google_atps))
        consented = disclosed if consent.allows(ADVERTISING) else ""
        return f"2~{consented}~dv.{disclosed}"


def head_html(offer: TcfOffer, consent: Consent, *, cookie_name: str, max_age_seconds: int) -> str:
    """The ``<script>`` with the CMP API for ``consent`` (goes first in ``<head>``)."""
    decided_at = consent.decided_at.timestamp() if consent.decided_at is not None else 0
    state = CmpState(
        tc_string=consent.tc_string,
        gdpr_applies=consent.regulated,
        banner_shown=consent.show_banner,
        advertising=consent.allows(ADVERTISING),
        cmp_id=offer.cmp_id,
        cmp_version=offer.cmp_version,
        gvl_version=offer.gvl.vendor_list_version,
        policy_version=offer.gvl.policy_version,
        publisher_country=offer.publisher_country,
        google_atps=offer.google_atps,
        cookie_name=cookie_name,
        expires_at=int(decided_at) + max_age_seconds,
    )
    return f"<script>{cmp_script(state)}</script>"
