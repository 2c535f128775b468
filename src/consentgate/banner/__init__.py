"""The consent banner: texts per language, the dialog, the settings page and their assets.

Plain inputs only (no settings object, no ASGI): the middleware builds one :class:`Banner` at
start-up and asks it for HTML on each request. Rendering uses the standard library
(``html.escape`` and precomputed string pieces) and is cached where it sits on the hot path.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from importlib import resources
from types import MappingProxyType
from urllib.parse import urlsplit

from . import _html
from ._html import CategoryView, ServiceView, Urls
from ._language import LANGUAGE_ALIASES, pick_language
from ._model import CategoryInfo, ServiceInfo
from ._texts import SHIPPED_LANGUAGES, TEXT_KEYS, shipped_texts

__all__ = [
    "SHIPPED_LANGUAGES",
    "TEXT_KEYS",
    "Banner",
    "CategoryInfo",
    "ServiceInfo",
    "pick_language",
    "shipped_texts",
]

_ALL_LANGUAGES = "*"
_GOOGLE = "google"
_GOOGLE_PARTNER_SITES = "https://policies.google.com/technologies/partner-sites?hl="
# Distinct (prefill, open, review, granted) combinations are few; this only bounds abuse.
_MAX_CACHED_DIALOGS = 2048
_DAYS_PER_MONTH = 30.4375
_DialogKey = tuple[str, frozenset[str], bool, bool, frozenset[str]]
_ASSET_TYPES = {"js": "text/javascript; charset=utf-8", "css": "text/css; charset=utf-8"}


def _check_url(url: str, what: str) -> None:
    # Operators write these URLs, but a javascript: link in a consent dialog is never right.
    if urlsplit(url).scheme.lower() not in ("", "http", "https"):
        raise ValueError(f"{what} {url!r} must be a path such as '/privacy' or an http(s) URL")


def _load_asset(filename: str) -> tuple[str, bytes]:
    body = resources.files(__name__).joinpath(filename).read_bytes()
    stem, ext = filename.rsplit(".", 1)
    return f"{stem}.{hashlib.sha256(body).hexdigest()[:12]}.{ext}", body


class Banner:
    """Everything the visitor sees of consentgate, in every configured language.

    Built once at start-up; all validation happens here and raises ``ValueError`` naming the
    language or text key (the caller turns it into a ``ConfigError``). Methods taking
    ``lang`` expect a value from :meth:`language`; any other falls back to the default.
    """

    def __init__(
        self,
        *,
        endpoint_path: str,
        privacy_policy_url: str,
        languages: Sequence[str],
        default_language: str,
        overrides: Mapping[str, Mapping[str, str]],
        categories: Sequence[CategoryInfo],
        consent_max_age_days: int,
        block_page: bool = True,
    ) -> None:
        _check_url(privacy_policy_url, "banner.privacy_policy_url")
        for cat in categories:
            for service in cat.services:
                if service.privacy_url is not None:
                    _check_url(service.privacy_url, f"privacy_url of service {service.name!r}")
        self._endpoint = endpoint_path.rstrip("/")
        self._languages = tuple(languages)
        self._default = default_language
        self._categories = tuple(categories)
        self._optional = frozenset(c.name for c in categories if not c.required)
        self._required = frozenset(c.name for c in categories if c.required)
        self._max_age_days = consent_max_age_days
        self._block_page = block_page
        self._months = max(1, round(consent_max_age_days / _DAYS_PER_MONTH))

        self.script_name, script = _load_asset("banner.js")
        self.style_name, style = _load_asset("banner.css")
        self._assets = {
            self.script_name: (script, _ASSET_TYPES["js"]),
            self.style_name: (style, _ASSET_TYPES["css"]),
        }
        self._urls = Urls(
            endpoint=self._endpoint,
            privacy_policy=privacy_policy_url,
            style=self._asset_url(self.style_name),
        )

        all_languages = tuple(dict.fromkeys((*self._languages, default_language)))
        self._check_overrides(overrides, all_languages)
        self._texts = {
            lang: MappingProxyType(self._merge_texts(lang, overrides)) for lang in all_languages
        }
        self._views = {lang: self._category_views(lang) for lang in all_languages}
        self._bundle_hashes: dict[str, str] = {}
        self._dialogs: dict[_DialogKey, tuple[str, str]] = {}
        self._reopen = {
            lang: _html.reopen_html(lang, self._texts[lang], self._urls) for lang in all_languages
        }

    # -- configuration -------------------------------------------------------------------

    def _check_overrides(
        self, overrides: Mapping[str, Mapping[str, str]], languages: tuple[str, ...]
    ) -> None:
        known = set(TEXT_KEYS)
        for cat in self._categories:
            known.update((f"cat_{cat.name}", f"cat_{cat.name}_desc"))
        for lang, texts in overrides.items():
            if lang != _ALL_LANGUAGES and lang not in languages:
                raise ValueError(
                    f"banner text overrides name language {lang!r}, which is not in "
                    f"banner.languages ({', '.join(languages)}); add it there or remove the "
                    "overrides"
                )
            for key, value in texts.items():
                if key not in known:
                    raise ValueError(
                        f"banner text override {lang}.{key}: unknown text key {key!r}; "
                        f"known keys: {', '.join(TEXT_KEYS)} (and cat_<name>, cat_<name>_desc "
                        "for configured categories)"
                    )
                if not isinstance(value, str):
                    raise ValueError(f"banner text override {lang}.{key} must be a string")

    def _merge_texts(self, lang: str, overrides: Mapping[str, Mapping[str, str]]) -> dict[str, str]:
        # "de-at" speaks German; "no"/"nn" get the Bokmål texts.
        primary = lang.split("-", 1)[0]
        texts = (
            shipped_texts(lang)
            or shipped_texts(primary)
            or shipped_texts(LANGUAGE_ALIASES.get(primary, primary))
            or {}
        )
        texts.update(overrides.get(_ALL_LANGUAGES, {}))
        texts.update(overrides.get(lang, {}))
        missing = [key for key in TEXT_KEYS if key not in texts]
        if missing:
            shipped = ", ".join(sorted(SHIPPED_LANGUAGES)) or "none"
            raise ValueError(
                f"banner language {lang!r} has no shipped texts (shipped: {shipped}) and its "
                f"overrides lack {', '.join(missing)}; override every key for {lang!r} or "
                "remove it from banner.languages"
            )
        return texts

    def _category_views(self, lang: str) -> tuple[CategoryView, ...]:
        texts = self._texts[lang]
        views = []
        for cat in self._categories:
            services = tuple(self._service_view(lang, s) for s in cat.services)
            title = cat.title if cat.title is not None else texts.get(f"cat_{cat.name}", cat.name)
            desc = cat.description
            if desc is None:
                desc = texts.get(f"cat_{cat.name}_desc", "")
            views.append(CategoryView(cat.name, cat.required, title, desc, services))
        return tuple(views)

    def _service_view(self, lang: str, service: ServiceInfo) -> ServiceView:
        texts = self._texts[lang]
        description = service.description
        if service.description_key:
            description = texts.get(service.description_key, description)
        vendor = service.vendor.strip() if service.vendor else ""
        if not vendor:
            return ServiceView(service.name, description, None, None, None, service.cookies)
        line = _html.fill(texts["third_party"], vendor=vendor)
        link_url: str | None
        if vendor.lower() == _GOOGLE:
            # Google's policy asks partners to link this page, in the visitor's language.
            primary, _, region = lang.partition("-")
            link_url = _GOOGLE_PARTNER_SITES + (f"{primary}-{region.upper()}" if region else lang)
            link_text = texts["google_link"]
        else:
            link_url, link_text = service.privacy_url, texts["privacy_link"]
        return ServiceView(
            service.name,
            description,
            line,
            link_text if link_url else None,
            link_url,
            service.cookies,
        )

    def _lang(self, lang: str) -> str:
        return lang if lang in self._texts else self._default

    def _asset_url(self, name: str) -> str:
        return f"{self._endpoint}/assets/{name}"

    # -- languages and texts -------------------------------------------------------------

    def language(self, accept_language: str | None) -> str:
        """The configured language that best fits an ``Accept-Language`` header."""
        return pick_language(accept_language, self._languages, self._default)

    def texts(self, lang: str) -> Mapping[str, str]:
        """Every text key of ``lang`` (shipped, then ``"*"`` overrides, then its own)."""
        return self._texts[self._lang(lang)]

    def bundle(self, lang: str) -> dict[str, object]:
        """Every text a visitor could see in ``lang``, categories and services included.

        This is what the ledger stores (once per :meth:`bundle_hash`) as proof of the
        wording consented to.
        """
        lang = self._lang(lang)
        texts = self._texts[lang]
        return {
            "language": lang,
            "texts": dict(sorted(texts.items())),
            "lifetime": self._lifetime(lang),
            "privacy_policy_url": self._urls.privacy_policy,
            "categories": [
                {
                    "name": c.name,
                    "required": c.required,
                    "title": c.title,
                    "description": c.description,
                    "services": [
                        {
                            "name": s.name,
                            "description": s.description,
                            "third_party": s.third_party,
                            "link_text": s.link_text,
                            "link_url": s.link_url,
                            "cookies": list(s.cookies),
                        }
                        for s in c.services
                    ],
                }
                for c in self._views[lang]
            ],
        }

    def bundle_hash(self, lang: str) -> str:
        """SHA-256 (hex) of the canonical JSON of :meth:`bundle`; computed once per language."""
        lang = self._lang(lang)
        found = self._bundle_hashes.get(lang)
        if found is None:
            canonical = json.dumps(
                self.bundle(lang), sort_keys=True, separators=(",", ":"), ensure_ascii=False
            )
            found = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
            self._bundle_hashes[lang] = found
        return found

    def _lifetime(self, lang: str) -> str:
        return _html.fill(
            self._texts[lang]["lifetime"],
            months=str(self._months),
            days=str(self._max_age_days),
        )

    # -- HTML ----------------------------------------------------------------------------

    def dialog_html(
        self,
        lang: str,
        *,
        prefill: frozenset[str],
        open: bool,
        review: bool,
        next_path: str = "",
        granted: frozenset[str] = frozenset(),
    ) -> str:
        """The banner dialog (a real form: it works without JavaScript).

        ``prefill``: optional categories whose toggles start ticked (all others start
        unticked). ``open=False`` renders it ``hidden`` so that the reopen link can show it.
        ``review``: say that the offer changed since the visitor's last choice. ``next_path``:
        where a no-JS visitor returns to (already validated by the caller; escaped here).
        ``granted``: what the visitor's consent grants now; the script reloads the page when
        a choice takes one of these away. Cached per (lang, prefill, open, review, granted).
        """
        lang = self._lang(lang)
        prefill &= self._optional
        granted = self._granted(granted)
        key = (lang, prefill, open, review, granted)
        parts = self._dialogs.get(key)
        if parts is None:
            if len(self._dialogs) >= _MAX_CACHED_DIALOGS:
                self._dialogs.clear()
            parts = _html.dialog_parts(
                lang,
                self._texts[lang],
                self._views[lang],
                self._urls,
                prefill=prefill,
                granted=sorted(granted),
                open=open,
                review=review,
                block_page=self._block_page,
            )
            self._dialogs[key] = parts
        return parts[0] + _html.next_input(next_path) + parts[1]

    def dialog_stub(
        self, lang: str, *, granted: frozenset[str] = frozenset(), next_path: str = ""
    ) -> str:
        """What a page gets instead of :meth:`dialog_html` when the banner is not open.

        An empty hidden element (a few hundred bytes instead of the whole dialog) that the
        script fills from ``{endpoint}/dialog`` when the visitor opens the settings.
        ``granted`` and ``next_path`` as for :meth:`dialog_html`.
        """
        granted = self._granted(granted)
        return _html.dialog_stub(
            self._lang(lang), self._urls, granted=sorted(granted), next_path=next_path
        )

    def _granted(self, granted: frozenset[str]) -> frozenset[str]:
        """``granted`` as the script reads it: known optional categories plus the required."""
        return (granted & self._optional) | self._required

    def reopen_html(self, lang: str) -> str:
        """The fixed "Privacy settings" link; the script opens the dialog from it."""
        return self._reopen[self._lang(lang)]

    def assets_html(self, *, nonce: str | None, granted: frozenset[str] = frozenset()) -> str:
        """The ``<link>`` to the banner style and the deferred ``<script>`` of the banner.

        The script reads its endpoint and the visitor's grants from its own element, never
        from page markup (which could carry look-alike ids), and binds to the dialog that
        follows it: put :meth:`dialog_html` or :meth:`dialog_stub` right after this.
        """
        attr = f' nonce="{_html.escape(nonce)}"' if nonce else ""
        grants = " ".join(sorted(self._granted(granted)))
        return (
            f'<link rel="stylesheet" href="{_html.escape(self._asset_url(self.style_name))}"'
            f'{attr}><script src="{_html.escape(self._asset_url(self.script_name))}"'
            f' data-endpoint="{_html.escape(self._urls.endpoint)}"'
            f' data-granted="{_html.escape(grants)}" defer{attr}></script>'
        )

    def settings_page(
        self,
        lang: str,
        *,
        granted: frozenset[str],
        decided: bool,
        consent_id: str | None,
        next_path: str,
        nonce: str | None,
        saved: bool = False,
    ) -> str:
        """The standalone preferences page (``GET {endpoint}/settings``); no JavaScript needed.

        ``granted`` ticks the toggles (the current grants, or an earlier choice to pre-fill);
        ``decided`` adds per-category status and the withdraw button; ``consent_id`` is shown
        so the visitor can quote it; ``saved`` shows a confirmation.
        """
        lang = self._lang(lang)
        return _html.settings_page(
            lang,
            self._texts[lang],
            self._views[lang],
            self._urls,
            granted=granted,
            decided=decided,
            consent_id=consent_id,
            lifetime=self._lifetime(lang),
            next_path=next_path,
            nonce=nonce,
            saved=saved,
        )

    # -- assets --------------------------------------------------------------------------

    def asset(self, name: str) -> tuple[bytes, str] | None:
        """``(body, content type)`` of the banner script or style by hashed name, else ``None``."""
        return self._assets.get(name)
