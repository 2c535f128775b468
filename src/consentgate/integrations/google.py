"""Google: Consent Mode v2, GA4, AdSense and Google Publisher Tag, gated by consent.

GA4 stores no IP addresses, so no ``anonymize_ip`` is ever emitted. Non-personalized AdSense
ads set ``requestNonPersonalizedAds = 1`` before the library loads; GPT gets
``setPrivacySettings`` queued in the head, before any ``enableServices()`` of the page. Limited
ads load GPT from Google's limited-ads URL, without which ``limitedAds`` is ignored.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache

from ..catalogue import Catalogue
from ..consent import AdMode, Consent
from . import ServiceSpec, inert_scripts, script_tag

__all__ = ["BUILTIN_HOSTS", "GoogleConfig", "GoogleTags", "builtin_services"]

#: Catalogue services that are Google's tags (not its embeds).
_GOOGLE_TAGS = frozenset(
    {"Google Analytics", "Google Tag Manager", "Google AdSense", "Google Ad Manager"}
)
#: Hosts of Google's tags, by category, from the tracker catalogue (fail-closed rewriting).
BUILTIN_HOSTS: dict[str, str] = {
    host: tracker.category
    for host, tracker in Catalogue.builtin()
    if tracker.service in _GOOGLE_TAGS
}
GOOGLE = "Google"
PARTNER_SITES_URL = "https://policies.google.com/technologies/partner-sites"
GTAG_URL = "https://www.googletagmanager.com/gtag/js?id="
ADSENSE_URL = "https://pagead2.googlesyndication.com/pagead/js/adsbygoogle.js?client="
GPT_URL = "https://securepubads.g.doubleclick.net/tag/js/gpt.js"
GPT_LIMITED_URL = "https://pagead2.googlesyndication.com/tag/js/gpt.js"
_AD_COOKIES = ("__gads", "__gpi", "__eoi", "_gcl_*", "IDE", "test_cookie")

_DENIED_ALL = {
    "ad_storage": "denied",
    "ad_user_data": "denied",
    "ad_personalization": "denied",
    "analytics_storage": "denied",
    "functionality_storage": "denied",
    "personalization_storage": "denied",
    "security_storage": "granted",
}


@dataclass(frozen=True, slots=True)
class GoogleConfig:
    """The Google-related settings, as plain values."""

    consent_mode: bool = True
    wait_for_update_ms: int = 500
    ads_data_redaction: bool = True
    url_passthrough: bool = False
    measurement_id: str | None = None
    allow_google_signals: bool = True
    ads_provider: str = "none"
    ads_client: str | None = None
    #: What a refusal of advertising serves: "non_personalized", "limited" or "none".
    ads_without_consent: str = "non_personalized"


def builtin_services(config: GoogleConfig) -> list[ServiceSpec]:
    """The GA4, AdSense and GPT services the configuration turns on."""
    services = []
    if config.measurement_id:
        services.append(
            ServiceSpec(
                name="Google Analytics 4",
                category="analytics",
                description=(
                    "Measures visits and how pages are used. Google Analytics 4 does not log or "
                    "store IP addresses."
                ),
                vendor=GOOGLE,
                privacy_url=PARTNER_SITES_URL,
                cookies=("_ga", "_ga_*"),
                cookie_path="/",
                hosts=("googletagmanager.com", "google-analytics.com"),
                scripts=(),
                description_key="svc_ga4",
            )
        )
    if config.ads_provider in ("adsense", "gpt"):
        name = "Google AdSense" if config.ads_provider == "adsense" else "Google Ad Manager"
        services.append(
            ServiceSpec(
                name=name,
                category="advertising",
                description="Shows ads. They are personalised only if you allow advertising.",
                vendor=GOOGLE,
                privacy_url=PARTNER_SITES_URL,
                cookies=_AD_COOKIES,
                cookie_path="/",
                hosts=("googlesyndication.com", "doubleclick.net", "googletagservices.com"),
                scripts=(),
                description_key="svc_google_ads",
            )
        )
    return services


class GoogleTags:
    """Renders the head script and the body tags for one :class:`Consent`."""

    def __init__(self, config: GoogleConfig) -> None:
        self.config = config
        self.enabled = (
            config.consent_mode or bool(config.measurement_id) or (config.ads_provider != "none")
        )
        self._head = lru_cache(maxsize=256)(self._render_head)
        self._body = lru_cache(maxsize=256)(self._render_body)

    def head_script(self, consent: Consent) -> str:
        """Inline JavaScript for right after ``<head>`` ("" when nothing Google is on)."""
        if not self.enabled:
            return ""
        mode = tuple(consent.google_consent_mode().items())
        return self._head(
            consent.regulated, consent.decided, consent.gpc_opt_out, mode, consent.ads
        )

    def body_tags(self, consent: Consent) -> str:
        """GA4 / AdSense / GPT loaders for before ``</body>``, active or inert.

        Before a choice, the ad tags a refusal would serve are there too, inert under
        ``!advertising`` (activated once the visitor has chosen without advertising), so that
        "Reject all" serves on this page what a reload would.
        """
        undecided = consent.regulated and not consent.decided
        return self._body(
            consent.analytics, "advertising" in consent.granted, consent.ads, undecided
        )

    def _render_head(
        self,
        regulated: bool,
        decided: bool,
        gpc_opt_out: bool,
        mode: tuple[tuple[str, str], ...],
        ads: AdMode,
    ) -> str:
        cfg = self.config
        parts = [
            "window.dataLayer=window.dataLayer||[];"
            "window.gtag=window.gtag||function(){dataLayer.push(arguments)};"
        ]
        if cfg.consent_mode:
            default = dict(_DENIED_ALL) if regulated else _unregulated_default(gpc_opt_out)
            default["wait_for_update"] = cfg.wait_for_update_ms  # type: ignore[assignment]
            parts.append(f"gtag('consent','default',{_js(default)});")
            if cfg.ads_data_redaction:
                parts.append("gtag('set','ads_data_redaction',true);")
            if cfg.url_passthrough:
                parts.append("gtag('set','url_passthrough',true);")
            if decided:
                parts.append(f"gtag('consent','update',{_js(dict(mode))});")
        if cfg.ads_provider == "adsense" and ads is AdMode.NON_PERSONALIZED:
            parts.append("(window.adsbygoogle=window.adsbygoogle||[]).requestNonPersonalizedAds=1;")
        elif cfg.ads_provider == "gpt" and ads in (AdMode.NON_PERSONALIZED, AdMode.LIMITED):
            flag = "limitedAds" if ads is AdMode.LIMITED else "nonPersonalizedAds"
            parts.append(
                "window.googletag=window.googletag||{cmd:[]};googletag.cmd.push(function()"
                f"{{googletag.pubads().setPrivacySettings({{{flag}:true}})}});"
            )
        return "".join(parts)

    def _render_body(
        self, analytics: bool, advertising: bool, ads: AdMode, undecided: bool = False
    ) -> str:
        cfg = self.config
        html = []
        if cfg.measurement_id:
            if not cfg.allow_google_signals:
                signals = "false"
            elif analytics:
                signals = "true" if advertising else "false"
            else:
                # Inert until a choice: read the grants of that moment (set by the banner script).
                signals = '(window.consentgateGranted||[]).indexOf("advertising")>=0'

            ga = script_tag(src=GTAG_URL + cfg.measurement_id, attrs=" async") + script_tag(
                "gtag('js',new Date());"
                f"gtag('config',{_js(cfg.measurement_id)},"
                f"{{allow_google_signals:{signals},allow_ad_personalization_signals:{signals}}});"
            )
            html.append(ga if analytics else inert_scripts(ga, "analytics"))
        if cfg.ads_provider == "adsense" and cfg.ads_client:
            loader = script_tag(
                src=ADSENSE_URL + cfg.ads_client, attrs=' async crossorigin="anonymous"'
            )
            active = ads in (AdMode.PERSONALIZED, AdMode.NON_PERSONALIZED)
            html.append(loader if active else inert_scripts(loader, "advertising"))
            if undecided and not active and cfg.ads_without_consent == "non_personalized":
                npa = script_tag(
                    "(window.adsbygoogle=window.adsbygoogle||[]).requestNonPersonalizedAds=1;"
                )
                html.append(inert_scripts(npa + loader, "!advertising"))
        elif cfg.ads_provider == "gpt":
            if ads is AdMode.LIMITED:
                html.append(script_tag(src=GPT_LIMITED_URL, attrs=" async"))
            else:
                loader = script_tag(src=GPT_URL, attrs=" async")
                active = ads in (AdMode.PERSONALIZED, AdMode.NON_PERSONALIZED)
                html.append(loader if active else inert_scripts(loader, "advertising"))
                if undecided and not active:
                    html.append(inert_scripts(self._gpt_refused(), "!advertising"))
        return "".join(html)

    def _gpt_refused(self) -> str:
        """What a refusal of advertising loads with GPT (as after a reload)."""
        refusal = self.config.ads_without_consent
        if refusal == "limited":
            return script_tag(src=GPT_LIMITED_URL, attrs=" async")
        if refusal != "non_personalized":
            return ""
        settings = (
            "window.googletag=window.googletag||{cmd:[]};googletag.cmd.push(function()"
            "{googletag.pubads().setPrivacySettings({nonPersonalizedAds:true})});"
        )
        return script_tag(settings) + script_tag(src=GPT_URL, attrs=" async")


def _unregulated_default(gpc_opt_out: bool) -> dict[str, str]:
    personal = "denied" if gpc_opt_out else "granted"
    return {
        "ad_storage": "granted",
        "ad_user_data": personal,
        "ad_personalization": personal,
        "analytics_storage": "granted",
        "functionality_storage": "granted",
        "personalization_storage": "granted",
        "security_storage": "granted",
    }


def _js(value: object) -> str:
    # JSON is valid JavaScript; "</" is escaped so a value can never close the script element.
    return json.dumps(value, separators=(",", ":")).replace("</", "<\\/")
