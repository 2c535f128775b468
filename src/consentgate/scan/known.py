"""Cookie names that well-known trackers set on the publisher's own domain.

A first-party cookie carries no host to look up in the tracker catalogue, so these names tie
it to the vendor's tracker host; the catalogue then gives the service name and category it
uses everywhere else (the names here are only the fallback when the catalogue lacks the host).
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase

__all__ = ["KnownCookie", "known_cookie"]


@dataclass(frozen=True, slots=True)
class KnownCookie:
    """A cookie pattern, the tracker host that stands for its vendor, and a fallback.

    ``host`` is empty where no catalogue entry fits (a self-hosted tool).
    """

    pattern: str
    host: str
    service: str
    category: str


_KNOWN: tuple[KnownCookie, ...] = (
    KnownCookie("_ga", "google-analytics.com", "Google Analytics", "analytics"),
    KnownCookie("_ga_*", "google-analytics.com", "Google Analytics", "analytics"),
    KnownCookie("_gid", "google-analytics.com", "Google Analytics", "analytics"),
    KnownCookie("_gat*", "google-analytics.com", "Google Analytics", "analytics"),
    KnownCookie("_gcl_*", "googleadservices.com", "Google Ads", "advertising"),
    KnownCookie("__gads", "googlesyndication.com", "Google AdSense", "advertising"),
    KnownCookie("__gpi", "googlesyndication.com", "Google AdSense", "advertising"),
    KnownCookie("__eoi", "googlesyndication.com", "Google AdSense", "advertising"),
    KnownCookie("_fbp", "connect.facebook.net", "Meta Pixel", "advertising"),
    KnownCookie("_fbc", "connect.facebook.net", "Meta Pixel", "advertising"),
    # Matomo is mostly self-hosted: its cookies do not say "Matomo Cloud".
    KnownCookie("_pk_id.*", "", "Matomo", "analytics"),
    KnownCookie("_pk_ses.*", "", "Matomo", "analytics"),
    KnownCookie("_pk_ref.*", "", "Matomo", "analytics"),
    KnownCookie("_pk_cvar.*", "", "Matomo", "analytics"),
    KnownCookie("_hj*", "hotjar.com", "Hotjar", "analytics"),
    KnownCookie("_clck", "clarity.ms", "Microsoft Clarity", "analytics"),
    KnownCookie("_clsk", "clarity.ms", "Microsoft Clarity", "analytics"),
    KnownCookie("_uetsid", "bat.bing.com", "Microsoft Advertising UET", "advertising"),
    KnownCookie("_uetvid", "bat.bing.com", "Microsoft Advertising UET", "advertising"),
    KnownCookie("_ttp", "analytics.tiktok.com", "TikTok Pixel", "advertising"),
    KnownCookie("_pin_unauth", "ct.pinterest.com", "Pinterest Tag", "advertising"),
    KnownCookie("_scid", "sc-static.net", "Snap Pixel", "advertising"),
    KnownCookie("ajs_anonymous_id", "api.segment.io", "Segment", "analytics"),
    KnownCookie("ajs_user_id", "api.segment.io", "Segment", "analytics"),
    KnownCookie("mp_*_mixpanel", "mixpanel.com", "Mixpanel", "analytics"),
    KnownCookie("AMP_*", "cdn.amplitude.com", "Amplitude", "analytics"),
)


def known_cookie(name: str) -> KnownCookie | None:
    """The well-known tracker cookie that ``name`` is, if any."""
    for known in _KNOWN:
        if fnmatchcase(name, known.pattern):
            return known
    return None
