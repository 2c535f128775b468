"""The page: what an HTML response gets for a visitor's consent — snippets and start headers.

The snippets (Consent Mode head script; banner, reopen link and tags before ``</body>``) depend
only on how the consent renders, the banner language and the page's path; the start headers
on the app's own headers as well. Both are remembered in byte-bounded caches. Every HTML
response that consentgate may change is made private to caches (README "Security"), because
its bytes depend on the visitor.
"""

from __future__ import annotations

import functools
import html
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from .banner import Banner
from .cache import LRUCache, size_of
from .catalogue import Catalogue
from .consent import Consent
from .failclosed import MEMO_BYTES, EmbedTexts
from .injection import (
    InertHosts,
    ascii_compatible,
    charset_of,
    csp_nonce,
    csp_with_script_hashes,
    script_hash,
)
from .integrations import ServiceSpec, inert_scripts, inline_scripts
from .integrations.google import GoogleTags
from .visit import Visit

__all__ = [
    "CACHE_BUDGETS",
    "PageRenderer",
    "Snippets",
    "allows_html",
    "private_headers",
    "shows_page",
]

Headers = list[tuple[bytes, bytes]]

#: Byte budgets of the page caches (README "Security": bounded memory).
CACHE_BUDGETS = {
    "snippets": 8 << 20,
    "prepared starts": 4 << 20,
    "languages": 256 << 10,
    # Each table counted with its memo of judged tags at its largest (MEMO_BYTES).
    "inert hosts": 8 << 20,
}


class Snippets(NamedTuple):
    """The head and body snippets for one consent rendering, language and page."""

    head: str
    body: str
    head_bytes: bytes
    body_bytes: bytes


#: Request headers an HTML response's bytes depend on besides the client's address: a private
#: cache (the browser's) must key on them; shared caches get ``private`` and store nothing.
VARY = (b"Cookie", b"Accept", b"Sec-Fetch-Dest", b"Accept-Language", b"Sec-GPC")
#: Cache-control fields aimed at CDNs and reverse proxies (RFC 9213 and vendor fields) that
#: would let them store a private page whatever ``Cache-Control`` says.
_TARGETED_CACHE_FIELDS = frozenset(
    {b"cdn-cache-control", b"surrogate-control", b"edge-control", b"x-accel-expires"}
)


def _targeted(name: bytes) -> bool:
    return name in _TARGETED_CACHE_FIELDS or name.endswith(b"-cdn-cache-control")


class PageRenderer:
    """Renders and remembers the snippets and start headers of HTML responses."""

    def __init__(
        self,
        *,
        banner: Banner,
        google: GoogleTags,
        services: Sequence[ServiceSpec],
        catalogue: Catalogue,
        settings_url: str,
        youtube_nocookie: bool = True,
        head_first: Callable[[Consent], str] | None = None,
    ) -> None:
        self.banner = banner
        self.google = google
        self.catalogue = catalogue
        self.settings_url = settings_url
        self.youtube_nocookie = youtube_nocookie
        self.head_first = head_first
        self._service_scripts = [
            (s.category, "".join(s.scripts), inert_scripts("".join(s.scripts), s.category))
            for s in services
            if s.scripts
        ]
        self._snippets: LRUCache[tuple[int, str, str], Snippets] = LRUCache(
            CACHE_BUDGETS["snippets"], name="snippets"
        )
        self._starts: LRUCache[
            tuple[object, ...], tuple[tuple[tuple[bytes, bytes], ...], Any, InertHosts]
        ] = LRUCache(CACHE_BUDGETS["prepared starts"], name="prepared starts")
        self._languages: LRUCache[bytes | None, str] = LRUCache(
            CACHE_BUDGETS["languages"], name="languages"
        )
        self._inert: LRUCache[tuple[frozenset[str], str], InertHosts] = LRUCache(
            CACHE_BUDGETS["inert hosts"], name="inert hosts"
        )

    # -- snippets ------------------------------------------------------------------------------
    def language(self, accept_language: bytes | None) -> str:
        """The banner language an ``Accept-Language`` value picks (remembered)."""
        lang = self._languages.get(accept_language)
        if lang is None:
            text = accept_language.decode("latin-1") if accept_language else None
            lang = self.banner.language(text)
            self._languages.put(accept_language, lang, size_of(accept_language, lang))
        return lang

    def snippets(self, visit: Visit, path: str, language: bytes | None) -> Snippets:
        """The head and body snippets for one visitor and page (remembered)."""
        lang = self.language(language)
        key = (visit.render, lang, path)
        cached = self._snippets.get(key)
        if cached is None:
            head, body = self.render(visit.consent, lang, path)
            cached = Snippets(head, body, head.encode(), body.encode())
            self._snippets.put(key, cached, size_of(path) + 3 * (len(head) + len(body)))
        return cached

    def render(self, consent: Consent, lang: str, path: str) -> tuple[str, str]:
        """Render the head and body snippets for ``consent`` on the page at ``path``."""
        head_js = self.google.head_script(consent)
        head = f"<script>{head_js}</script>" if head_js else ""
        if self.head_first is not None:  # e.g. the TCF CMP API, before any other script
            head = self.head_first(consent) + head
        review = consent.show_banner and consent.consent_id is not None
        tags = [self.google.body_tags(consent)]
        for category, active, inert in self._service_scripts:
            tags.append(active if consent.allows(category) else inert)
        if consent.show_banner:
            dialog = self.banner.dialog_html(
                lang,
                prefill=consent.prefill,
                open=True,
                review=review,
                next_path=path,
                granted=consent.granted,
            )
        else:  # the script fetches the dialog if the visitor opens the settings
            dialog = self.banner.dialog_stub(lang, granted=consent.granted, next_path=path)
        body = (
            self.banner.assets_html(nonce=None, granted=consent.granted)
            + dialog
            + self.banner.reopen_html(lang)
            + "".join(tags)
        )
        return head, body

    def with_nonce(self, snippets: Snippets, nonce: str) -> tuple[str, str]:
        """The snippets with the page's CSP nonce on every script and style element."""
        attr = f' nonce="{html.escape(nonce, quote=True)}"'
        return _add_nonce(snippets.head, attr), _add_nonce(snippets.body, attr)

    def inert_hosts(self, granted: frozenset[str], lang: str | None = None) -> InertHosts:
        """Catalogued trackers whose category is not granted, with embed placeholders in the
        visitor's language (prepared once per granted set and language)."""
        lang = lang or self.banner.language(None)
        hosts = self._inert.get((granted, lang))
        if hosts is None:
            texts = self.banner.texts(lang)
            hosts = InertHosts.from_catalogue(
                self.catalogue,
                granted,
                texts=EmbedTexts(
                    sentence=texts["embed_notice"],
                    load=texts["embed_load"],
                    always=texts["embed_always"],
                    settings=texts["reopen"],
                    settings_url=self.settings_url,
                ),
                nocookie=self.youtube_nocookie,
            )
            size = size_of(*granted) + 400 * len(hosts) + 2000 + MEMO_BYTES
            self._inert.put((granted, lang), hosts, size)
        return hosts

    # -- start headers -------------------------------------------------------------------------
    def prepared(
        self, raw: Any, visit: Visit, scope: Mapping[str, Any], language: bytes | None
    ) -> tuple[Headers, tuple[bytes, bytes] | None, InertHosts]:
        """:meth:`prepare` for the app's own headers, remembered, with the visitor's
        :meth:`inert_hosts`.

        Pages answer with the same few header lists again and again; what they become for
        visitors whose consent renders alike is remembered (not with a CSP, whose nonce
        usually changes on every response).
        """
        try:
            key = (tuple(raw), visit.render, language, scope["path"], scope.get("query_string"))
            found = self._starts.get(key)
        except TypeError:  # header pairs as lists: nothing to remember them by
            headers, snippets, _ = self.prepare(list(raw), visit, scope, language)
            hosts = self.inert_hosts(visit.consent.granted, self.language(language))
            return headers, snippets, hosts
        if found is None:
            headers, snippets, reusable = self.prepare(list(raw), visit, scope, language)
            hosts = self.inert_hosts(visit.consent.granted, self.language(language))
            found = (tuple(headers), snippets, hosts)
            if reusable:
                size = size_of(*(pair for pairs in (key[0], found[0]) for pair in pairs))
                size += size_of(key[3], key[4], language)
                self._starts.put(key, found, size)
        return list(found[0]), found[1], found[2]

    def prepare(
        self,
        headers: Headers,
        visit: Visit,
        scope: Mapping[str, Any],
        language: bytes | None,
    ) -> tuple[Headers, tuple[bytes, bytes] | None, bool]:
        """The start headers for an injected page, its snippets, and whether both can be
        reused for the same app headers, consent rendering, language and page."""
        content_type = b""
        policies: list[str] = []
        for key, value in headers:
            lowered = key.lower()
            if lowered == b"content-type":
                content_type = value
            elif lowered == b"content-security-policy":
                policies.append(value.decode("latin-1"))
        charset = _charset(content_type)
        if charset is None:
            # E.g. UTF-16: the markup cannot be found byte-wise; leave it alone.
            return private_headers(headers, drop_length=False), None, True
        kept = private_headers(headers, drop_length=True)
        nonce = next((n for n in map(csp_nonce, policies) if n), None) if policies else None
        query = scope.get("query_string")
        here = scope["path"] + "?" + query.decode("latin-1") if query else scope["path"]
        snippets = self.snippets(visit, here, language)
        if nonce is not None or policies or charset != "utf-8":
            head, body = snippets.head, snippets.body
            if nonce is not None:
                head, body = self.with_nonce(snippets, nonce)
            elif policies:
                hashes = [
                    script_hash(s.encode(charset, "xmlcharrefreplace"))
                    for s in inline_scripts(head + body)
                ]
                # Every policy must allow the scripts, so each one gets the hashes it lacks.
                kept = [
                    (k, _with_hashes(v, hashes) if k.lower() == b"content-security-policy" else v)
                    for k, v in kept
                ]
            head_bytes = head.encode(charset, "xmlcharrefreplace")
            body_bytes = body.encode(charset, "xmlcharrefreplace")
        else:
            head_bytes, body_bytes = snippets.head_bytes, snippets.body_bytes
        return kept, (head_bytes, body_bytes), not policies


def private_headers(headers: Iterable[tuple[bytes, bytes]], *, drop_length: bool) -> Headers:
    """``headers`` made private to caches: ``Cache-Control: private`` (``public`` and
    ``s-maxage`` removed), CDN-targeted cache fields removed, ``Vary`` on every request header
    the bytes depend on; ``Content-Length`` dropped too when the body will change."""
    kept: Headers = []
    vary: list[bytes] = []
    cache_control: list[bytes] = []
    for key, value in headers:
        lowered = key.lower()
        if lowered == b"vary":
            vary.append(value)
        elif lowered == b"cache-control":
            cache_control.append(value)
        elif (drop_length and lowered == b"content-length") or _targeted(lowered):
            continue
        else:
            kept.append((key, value))
    kept.append((b"vary", _merge_vary(vary)))
    kept.append((b"cache-control", _private(b", ".join(cache_control))))
    return kept


_TAG_OPEN = re.compile(r"<(script|link)\b(?![^>]*\snonce=)", re.IGNORECASE)


def _add_nonce(markup: str, attr: str) -> str:
    return _TAG_OPEN.sub(lambda m: m.group(0) + attr, markup)


@functools.lru_cache(maxsize=256)
def _charset(content_type: bytes) -> str | None:
    """The charset to encode snippets in, ``None`` when markup cannot be found byte-wise."""
    charset = charset_of(content_type.decode("latin-1"))
    return charset if ascii_compatible(charset) else None


#: ``Sec-Fetch-Dest`` values of requests whose response a browser may show as a page.
_PAGE_DESTINATIONS = frozenset(
    {b"document", b"iframe", b"frame", b"fencedframe", b"embed", b"object", b""}
)


def allows_html(accept: bytes | None) -> bool:
    """Whether an ``Accept`` value lets the answer be HTML (missing, empty, ``*/*``, ``text/*``
    or naming HTML)."""
    if accept is None or not accept.strip():
        return True
    lowered = accept.lower()
    return b"html" in lowered or b"*/*" in lowered or b"text/*" in lowered


def shows_page(accept: bytes | None, destination: bytes | None) -> bool:
    """Whether the answer to a request with these ``Accept`` and ``Sec-Fetch-Dest`` values
    may be shown as a page: ``Accept`` names HTML, or it takes anything (missing, empty or
    ``*/*``) and the browser does not say that the answer is for something else."""
    if accept is not None and b"html" in accept:
        return True
    if accept is None or b"*/*" in accept or not accept.strip():
        return destination is None or destination.strip().lower() in _PAGE_DESTINATIONS
    return False


def _with_hashes(policy: bytes, hashes: list[str]) -> bytes:
    return csp_with_script_hashes(policy.decode("latin-1"), hashes).encode("latin-1")


def _merge_vary(values: list[bytes]) -> bytes:
    names = [part.strip() for value in values for part in value.split(b",") if part.strip()]
    if b"*" in names:
        return b"*"
    present = {name.lower() for name in names}
    names.extend(name for name in VARY if name.lower() not in present)
    return b", ".join(names)


_DIRECTIVE = re.compile(rb'\s*([^=,\s]+)\s*(?:=\s*("(?:[^"\\]|\\.)*"|[^,]*))?\s*(?:,|$)')


def _private(cache_control: bytes) -> bytes:
    """``Cache-Control`` that no shared cache may store: ``private`` (unqualified) first, the
    app's other directives kept, ``public``, ``s-maxage`` and a qualified ``private`` dropped."""
    parts = [b"private"]
    for match in _DIRECTIVE.finditer(cache_control):
        if match.group(1).lower() not in (b"public", b"s-maxage", b"private", b"proxy-revalidate"):
            parts.append(match.group(0).strip().rstrip(b",").strip())
    return b", ".join(parts)
