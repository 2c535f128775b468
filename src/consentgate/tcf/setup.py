"""Start-up glue for TCF mode: load the GVL, build the offer, fold TCF choices into settings.

Kept beside the TCF modules (not in ``middleware``) so that the middleware needs only a few
lines: :func:`prepare_tcf` returns the settings the rest of consentgate runs with (TCF choices
as extra categories, the vendors as services, the banner texts from the GVL) and the offer
that makes TC strings, or the settings unchanged and ``None`` when TCF is off.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from ..consent import Consent
from ..errors import ConfigError
from ..settings import Category, ConsentSettings, Service
from .gvl import load_gvl
from .offer import TcfOffer, head_html

__all__ = ["TcfRuntime", "prepare_tcf"]

log = logging.getLogger("consentgate")


@dataclass(frozen=True, slots=True)
class TcfRuntime:
    """What the middleware and endpoints use in TCF mode."""

    offer: TcfOffer
    cookie_name: str
    max_age_seconds: int

    def annotate(self, consent: Consent, language: str | None = None) -> Consent:
        """``consent`` with its TC string (``language``: the banner's, see the offer)."""
        return self.offer.annotate(consent, language)

    def refine(self, action: str, granted: frozenset[str]) -> frozenset[str]:
        """The categories a TCF choice grants (see :meth:`TcfOffer.refine`)."""
        return self.offer.refine(action, granted)

    def head_html(self, consent: Consent) -> str:
        """The inline CMP API script for ``consent``."""
        return head_html(
            self.offer, consent, cookie_name=self.cookie_name, max_age_seconds=self.max_age_seconds
        )

    def cookie(self, tc_string: str, *, https: bool) -> bytes:
        """The ``Set-Cookie`` value of the TC string cookie (readable by the page's tags)."""
        secure = "; Secure" if https else ""
        return (
            f"{self.cookie_name}={tc_string}; Path=/; Max-Age={self.max_age_seconds}"
            f"; SameSite=Lax{secure}"
        ).encode("latin-1")

    def expired_cookie(self, *, https: bool) -> bytes:
        """A ``Set-Cookie`` value that removes the TC string cookie."""
        secure = "; Secure" if https else ""
        return f"{self.cookie_name}=; Path=/; Max-Age=0; SameSite=Lax{secure}".encode("latin-1")


def prepare_tcf(
    settings: ConsentSettings, *, now: float | None = None
) -> tuple[ConsentSettings, TcfRuntime | None]:
    """The settings to run with and the TCF runtime (``None`` when ``tcf.enabled`` is off).

    Raises :class:`~consentgate.errors.ConfigError` for a missing or invalid GVL and for
    vendors the GVL does not hold; logs a warning when the GVL copy is older than two weeks.
    """
    tcf = settings.tcf
    if not tcf.enabled:
        return settings, None
    if tcf.gvl_path is None or tcf.cmp_id is None or tcf.publisher_country is None:
        raise ConfigError(tcf.problems())  # settings made without validation
    gvl = load_gvl(tcf.gvl_path, settings.banner.languages)
    when = datetime.fromtimestamp(time.time() if now is None else now, UTC)
    if gvl.synthetic:
        log.warning(
            "consentgate: tcf.gvl_path holds the bundled SYNTHETIC vendor list (made-up "
            "vendors): for tests and the demo only; run `consentgate tcf update-gvl`"
        )
    elif gvl.is_stale(when):
        log.warning(
            "consentgate: the GVL copy in %s is from %s, older than two weeks; run "
            "`consentgate tcf update-gvl` (weekly, e.g. from cron)",
            tcf.gvl_path,
            gvl.last_updated.date().isoformat(),
        )
    try:
        offer = TcfOffer.build(
            gvl=gvl,
            vendors=tcf.vendors,
            cmp_id=tcf.cmp_id,
            cmp_version=tcf.cmp_version,
            publisher_country=tcf.publisher_country,
            google_atps=tcf.google_atps,
            default_language=settings.banner.default_language,
        )
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    added = [Category(name=name, code=name.removeprefix("tcf_")) for name in offer.category_names()]
    taken = {c.name for c in settings.categories} | {c.cookie_code for c in settings.categories}
    clash = sorted(c.name for c in added if c.name in taken or c.cookie_code in taken)
    if clash:
        raise ConfigError(
            f"categories: {', '.join(clash)} (or their cookie codes) are used by TCF mode; "
            "rename your own categories or codes"
        )
    categories = [*settings.categories, *added]
    services = [*settings.services]
    for vendor_id in offer.vendors:
        vendor = gvl.vendors[vendor_id]
        services.append(
            Service(
                name=vendor.name,
                category=f"tcf_v{vendor_id}",
                vendor=vendor.name,
                privacy_url=vendor.privacy_url,
            )
        )
    texts = offer.texts(settings.banner.languages)
    if not any(c.name == "advertising" for c in settings.categories):
        for own in texts.values():
            own.pop("cat_advertising_desc", None)
    for lang, own in settings.banner.texts.items():  # the site's own overrides win
        texts[lang] = {**texts.get(lang, {}), **own}
    banner = settings.banner.model_copy(update={"texts": texts})
    runtime = TcfRuntime(
        offer=offer,
        cookie_name=tcf.cookie_name,
        max_age_seconds=settings.consent_max_age_days * 86_400,
    )
    updated = settings.model_copy(
        update={"categories": categories, "services": services, "banner": banner}
    )
    return updated, runtime
