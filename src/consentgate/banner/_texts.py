"""The shipped banner texts (``texts/<lang>.json``) and the keys every language must have."""

from __future__ import annotations

from importlib import resources

from ..textfiles import TextFiles

__all__ = ["FALLBACK_LANGUAGE", "SHIPPED_LANGUAGES", "TEXT_KEYS", "shipped_texts"]

#: Every text the banner and the settings page show; overrides may name only these
#: (plus ``cat_<name>`` / ``cat_<name>_desc`` for configured categories).
TEXT_KEYS: tuple[str, ...] = (
    "title",
    "intro",
    "privacy_link",
    "accept_all",
    "reject_all",
    "customize",
    "save",
    "back",
    "settings_title",
    "settings_intro",
    "reopen",
    "always_on",
    "services",
    "cookies",
    "cat_necessary",
    "cat_necessary_desc",
    "cat_functional",
    "cat_functional_desc",
    "cat_analytics",
    "cat_analytics_desc",
    "cat_advertising",
    "cat_advertising_desc",
    "third_party",
    "google_link",
    "consent_id",
    "lifetime",
    "withdraw",
    "receipt",
    "erase",
    "saved",
    "review",
    "status_granted",
    "status_denied",
    "svc_ga4",
    "svc_google_ads",
    "embed_notice",
    "embed_load",
    "embed_always",
)

#: Keys missing from a shipped translation are taken from this language.
FALLBACK_LANGUAGE = "en"

_FILES = TextFiles(
    resources.files(__package__ or "consentgate.banner").joinpath("texts"), what="banner texts"
)

#: The languages that have a ``texts/<lang>.json`` file in the package.
SHIPPED_LANGUAGES: frozenset[str] = _FILES.languages


def _read(lang: str) -> dict[str, str]:
    # Keys outside TEXT_KEYS (comments such as "_note") are ignored, non-strings too.
    return {k: v for k, v in _FILES.read(lang).items() if k in TEXT_KEYS}


def shipped_texts(lang: str) -> dict[str, str] | None:
    """The shipped texts of ``lang``, gaps filled from English; ``None`` if not shipped."""
    if lang not in SHIPPED_LANGUAGES:
        return None
    texts = dict(_read(FALLBACK_LANGUAGE)) if FALLBACK_LANGUAGE in SHIPPED_LANGUAGES else {}
    texts.update(_read(lang))
    return texts
