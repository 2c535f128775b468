"""Fail-closed judgement: which URLs, scripts and embeds a visitor's consent holds back.

:class:`InertHosts` is the tracker catalogue cut down to the categories a visitor has not
granted, prepared once and shared between requests. It answers, for the HTML scanner in
:mod:`consentgate.injection`:

* which tracker a URL in an attribute reaches, reading the URL as the browser's WHATWG URL
  parser does (``ada-url``: tabs and newlines dropped, backslashes, protocol-relative URLs,
  percent-decoding, IDNA mapping that drops soft hyphens and zero-width characters, a
  trailing dot);
* which trackers an inline script names (loader snippets carry the tracker's URL);
* how a start tag is rewritten so that nothing is fetched until consent, and how an embed
  becomes a click-to-load placeholder.

Nothing here knows about ASGI or settings.
"""

from __future__ import annotations

import functools
import html
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

import ada_url

from .catalogue import Catalogue, Tracker

__all__ = ["EmbedTexts", "InertHosts", "TagRewrite", "url_host_path"]

_BASE = "https://consentgate.invalid/"
#: A plain absolute or protocol-relative http(s) URL whose host needs no IDNA or decoding.
_SIMPLE_URL = re.compile(
    r"(?:[hH][tT][tT][pP][sS]?:)?//([A-Za-z0-9-]++(?:\.[A-Za-z0-9-]++)*+\.?)(?::[0-9]*+)?"
    r"([/?#][^\t\n\r\\]*+)?\Z"
)
#: What a relative URL starts with (no scheme, no authority): never a tracker's host.
_RELATIVE = re.compile(r"(?:[A-Za-z0-9_.~-]++(?:[/?#]|\Z)|/[A-Za-z0-9_.~%-]|[?#]|\Z)")
_URL_TRIM = "".join(map(chr, range(0x21)))
#: The judged start tags an InertHosts remembers: at most _MEMO_SIZE, each at most _MEMO_TAG
#: bytes (its rewrite at most a placeholder's size): MEMO_BYTES at worst.
_MEMO_SIZE = 256
_MEMO_TAG = 512
MEMO_BYTES = _MEMO_SIZE * (_MEMO_TAG + 2048)
#: Attribute values up to this size have their URL's host and path remembered.
_CACHED_URL = 256

#: Attributes holding URLs a browser fetches on its own, by element (``"*"``: any element).
_HTML_URL_ATTRS: dict[bytes, frozenset[bytes]] = {
    b"*": frozenset({b"src", b"poster", b"background", b"data"}),
    b"link": frozenset({b"href"}),
    b"base": frozenset({b"href"}),
}
_SRCSET_ATTRS = frozenset({b"srcset", b"imagesrcset"})
_FOREIGN_URL_ATTRS = frozenset({b"href", b"xlink:href", b"src"})
#: Script types a browser runs (missing or empty included), as lowercase essences.
_SCRIPT_TYPES = frozenset(
    {
        "",
        "module",
        "importmap",
        "speculationrules",
        "application/ecmascript",
        "application/javascript",
        "application/x-ecmascript",
        "application/x-javascript",
        "text/ecmascript",
        "text/javascript",
        "text/javascript1.0",
        "text/javascript1.1",
        "text/javascript1.2",
        "text/javascript1.3",
        "text/javascript1.4",
        "text/javascript1.5",
        "text/jscript",
        "text/livescript",
        "text/x-ecmascript",
        "text/x-javascript",
    }
)
#: One attribute of a complete start tag, as the tokenizer reads it.
_ATTRIBUTE = re.compile(
    rb"[\t\n\f\r /]*+([^\t\n\f\r />][^\t\n\f\r />=]*+)"
    rb"""(?:[\t\n\f\r ]*+=[\t\n\f\r ]*+(?:"([^"]*+)"|'([^']*+)'|([^\t\n\f\r >]*+)))?"""
)


def url_host_path(raw: bytes) -> tuple[str, str] | None:
    """The ``(host, path)`` an attribute value's URL reaches, ``None`` for a relative one.

    ``raw`` is the value as it stands in the markup (character references undecoded). The
    host is lowercase ASCII without a trailing dot; a URL the URL parser rejects gives
    ``("", "")`` when it still looks like it names a host (nothing is fetched from it).
    Values up to 256 bytes are remembered (4,096 of them).
    """
    if len(raw) <= _CACHED_URL:
        return _url_host_path_cached(raw)
    return _url_host_path(raw)


@functools.lru_cache(maxsize=4096)
def _url_host_path_cached(raw: bytes) -> tuple[str, str] | None:
    return _url_host_path(raw)


def _url_host_path(raw: bytes) -> tuple[str, str] | None:
    text = raw.decode("utf-8", "replace")
    if "&" in text:
        text = html.unescape(text)
    m = _SIMPLE_URL.match(text)
    if m is not None and "xn--" not in m.group(1).lower():
        path = (m.group(2) or "/").partition("?")[0].partition("#")[0] or "/"
        return m.group(1).lower().rstrip("."), path
    stripped = text.replace("\t", "").replace("\n", "").replace("\r", "").strip(_URL_TRIM)
    if _RELATIVE.match(stripped):
        return None
    try:
        url = ada_url.URL(stripped, base=_BASE)
    except ValueError:
        return _lenient_host(stripped)
    host = url.hostname
    if host == "consentgate.invalid":
        return None
    return host.rstrip("."), url.pathname


def _lenient_host(text: str) -> tuple[str, str]:
    """A best guess at the host of a URL the URL parser rejects (for a fail-closed check)."""
    folded = unicodedata.normalize("NFKC", text).lower()
    rest = folded.partition(":")[2] if re.match(r"[a-z][a-z0-9+.-]*:", folded) else folded
    authority = re.split(r"[/\\?#]", rest.lstrip("/\\"), maxsplit=1)[0].rpartition("@")[2]
    host = re.sub(r"[^a-z0-9.-]", "", authority.partition(":")[0])
    return host.strip("."), "/"


@dataclass(frozen=True, slots=True)
class EmbedTexts:
    """What an embed placeholder says, in the visitor's language (plain text, unescaped).

    ``sentence`` may hold ``{service}``.
    """

    sentence: str = "This content is provided by {service}, which may collect data about you."
    load: str = "Load"
    always: str = "Always allow"
    settings: str = "Privacy settings"
    settings_url: str = "/_consent/settings"


@dataclass(frozen=True, slots=True)
class TagRewrite:
    """How the scanner rewrites a start tag.

    ``tag`` replaces the original bytes. ``hold`` is set for an inline script whose text
    must be judged before it is sent; ``close`` (bytes to send after the element's end tag)
    for an embed turned into a placeholder.
    """

    tag: bytes
    hold: bool = False
    close: bytes = b""


_UNCHANGED = TagRewrite(b"")
_HOLD = TagRewrite(b"", hold=True)


class _Attribute:
    __slots__ = ("end", "name", "name_end", "name_start", "value")

    def __init__(self, m: re.Match[bytes]) -> None:
        self.name = m.group(1).lower()
        self.name_start, self.name_end = m.start(1), m.end(1)
        last = m.lastindex or 1
        self.value: bytes | None = m.group(last) if last > 1 else None
        self.end = m.end()


def _attributes(tag: bytes, start: int) -> tuple[list[_Attribute], bool]:
    """The attributes of a complete start tag from ``start``, and whether it self-closes."""
    attrs = []
    pos = start
    while (m := _ATTRIBUTE.match(tag, pos)) is not None and m.end() > pos:
        attrs.append(_Attribute(m))
        pos = m.end()
    return attrs, tag[pos:].rstrip(b">").endswith(b"/")


def _first(attrs: list[_Attribute], name: bytes) -> _Attribute | None:
    for attr in attrs:
        if attr.name == name:
            return attr
    return None


def _essence(value: bytes | None) -> str:
    if value is None:
        return ""
    text = html.unescape(value.decode("latin-1")).partition(";")[0]
    return text.strip("\t\n\f\r ").lower()


class InertHosts(Mapping[str, str]):
    """The trackers a visitor's consent holds back, prepared once for the HTML scanner.

    A read-only mapping from host pattern to category. Build it from a plain mapping (host
    to category), or with :meth:`from_catalogue` from the catalogue and the granted
    categories, which also knows service names and embed providers. Share it between
    requests and threads: start tags it has judged are remembered (a bounded memo).
    """

    __slots__ = (
        "_catalogue",
        "_categories",
        "_finder",
        "_memo",
        "_nocookie",
        "_texts",
    )

    _catalogue: Catalogue
    _categories: dict[str, str]
    _texts: EmbedTexts
    _nocookie: bool
    _finder: tuple[re.Pattern[bytes], re.Pattern[bytes]] | None
    _memo: dict[tuple[bytes, bool], TagRewrite]

    def __init__(
        self,
        hosts: Mapping[str, str] | None = None,
        *,
        trackers: Iterable[tuple[str, Tracker]] | None = None,
        texts: EmbedTexts | None = None,
        nocookie: bool = True,
    ) -> None:
        """Hold back ``hosts`` (pattern to category) and ``trackers`` (pattern, tracker)."""
        entries: list[tuple[str, Tracker]] = [
            (host, Tracker(host.strip().strip(".").lower(), category))
            for host, category in (hosts or {}).items()
        ]
        entries += list(trackers or ())
        catalogue = Catalogue(entries)
        setattr_ = object.__setattr__
        setattr_(self, "_catalogue", catalogue)
        setattr_(self, "_categories", {pattern: t.category for pattern, t in catalogue})
        setattr_(self, "_texts", texts or EmbedTexts())
        setattr_(self, "_nocookie", nocookie)
        setattr_(self, "_finder", _finder(catalogue))
        setattr_(self, "_memo", {})

    @classmethod
    def from_catalogue(
        cls,
        catalogue: Catalogue,
        granted: Iterable[str],
        *,
        texts: EmbedTexts | None = None,
        nocookie: bool = True,
    ) -> InertHosts:
        """The entries of ``catalogue`` whose category is not in ``granted``."""
        allowed = frozenset(granted)
        kept = [(p, t) for p, t in catalogue if t.category not in allowed]
        return cls(trackers=kept, texts=texts, nocookie=nocookie)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"InertHosts is immutable: cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"InertHosts is immutable: cannot delete {name!r}")

    def __reduce__(self) -> tuple[object, tuple[list[tuple[str, Tracker]], EmbedTexts, bool]]:
        return _rebuild, (list(self._catalogue), self._texts, self._nocookie)

    def __getitem__(self, host: str) -> str:
        return self._categories[host]

    def __iter__(self) -> Iterator[str]:
        return iter(self._categories)

    def __len__(self) -> int:
        return len(self._categories)

    def __contains__(self, host: object) -> bool:
        return host in self._categories

    def __repr__(self) -> str:
        return f"InertHosts({self._categories!r})"

    # -- judging ---------------------------------------------------------------------------

    def tracker_of(self, raw_url: bytes) -> Tracker | None:
        """The held-back tracker an attribute value's URL reaches, if any."""
        found = url_host_path(raw_url)
        if found is None:
            return None
        host, path = found
        tracker = self._catalogue.lookup_url(host, path)
        if tracker is None and not host.isascii():
            return None
        return tracker

    def trackers_in_text(self, text: bytes) -> list[Tracker]:
        """Held-back trackers whose host (or host and path) a script's text names."""
        finders = self._finder
        if finders is None or not text:
            return []
        # The URL parser drops tabs and newlines anywhere; hosts may hide behind escapes.
        if b"\\" in text or not text.isascii():
            text = _fold_text(text)
        text = text.translate(None, b"\t\n\r")
        hint, finder = finders
        if hint.search(text) is None:
            return []
        found: dict[str, Tracker] = {}
        for m in finder.finditer(text):
            host = m.group(0).lower().decode("ascii").lstrip(".-")
            path_end = _PATH_END.search(text, m.end())
            path = text[m.end() : path_end.start() if path_end else len(text)]
            tracker = self._catalogue.lookup_url(
                host, "/" + path.decode("latin-1").lstrip("/") if path.startswith(b"/") else "/"
            )
            if tracker is not None:
                found.setdefault(tracker.category + "\0" + tracker.service, tracker)
        return list(found.values())

    def categories_in_text(self, text: bytes) -> bytes | None:
        """The escaped, space-separated categories of the trackers ``text`` names, if any."""
        trackers = self.trackers_in_text(text)
        if not trackers:
            return None
        names = sorted({t.category for t in trackers})
        return _escape(" ".join(names))

    # -- rewriting ---------------------------------------------------------------------------

    def start_tag(self, tag: bytes, name: bytes, *, foreign: bool) -> TagRewrite:
        """How a complete start tag ``tag`` (lowercase ``name``) is sent on.

        ``tag.tag`` is empty when it is sent as it is. An executable inline script (HTML
        ``<script>`` without ``src``) asks to be held (``hold``) so that its text can be judged.
        """
        key = (tag, foreign)
        memo = self._memo
        found = memo.get(key)
        if found is None:
            found = self._start_tag(tag, name, foreign)
            if len(tag) <= _MEMO_TAG:
                if len(memo) >= _MEMO_SIZE:
                    memo.clear()
                memo[key] = found
        return found

    def _start_tag(self, tag: bytes, name: bytes, foreign: bool) -> TagRewrite:
        attrs, _ = _attributes(tag, 1 + len(name))
        if not attrs:
            return _HOLD if name == b"script" and not foreign else _UNCHANGED
        if foreign:
            urls = _FOREIGN_URL_ATTRS if name != b"a" else frozenset()
            srcsets: frozenset[bytes] = frozenset()
        else:
            urls = _HTML_URL_ATTRS[b"*"] | _HTML_URL_ATTRS.get(name, frozenset())
            if name in (b"a", b"area"):
                urls = frozenset()
            srcsets = _SRCSET_ATTRS
        if name == b"script" and not foreign:
            return self._script(tag, attrs)
        held: dict[bytes, Tracker] = {}
        seen: set[bytes] = set()
        for attr in attrs:
            if attr.name in seen:
                continue  # the browser keeps the first of duplicate attributes
            seen.add(attr.name)
            value = attr.value
            if value is None:
                continue
            tracker = None
            if attr.name in urls:
                tracker = self.tracker_of(value)
            elif attr.name in srcsets:
                tracker = self._srcset(value)
            elif attr.name == b"ping":
                tracker = next(filter(None, map(self.tracker_of, value.split())), None)
            elif attr.name == b"srcdoc" and not foreign:
                tracker = self._srcdoc(value)
            if tracker is not None:
                held[attr.name] = tracker
        if not held:
            return _UNCHANGED
        if name == b"iframe" and not foreign and b"src" in held and held[b"src"].embed:
            return self._placeholder(tag, attrs, held[b"src"])
        categories = _escape(" ".join(sorted({t.category for t in held.values()})))
        return TagRewrite(_renamed(tag, name, attrs, held.keys(), categories))

    def _script(self, tag: bytes, attrs: list[_Attribute]) -> TagRewrite:
        """An HTML ``<script>`` start tag: inert when its ``src`` is held back."""
        type_ = _first(attrs, b"type")
        if type_ is not None and _essence(type_.value) not in _SCRIPT_TYPES:
            return _UNCHANGED  # not run by the browser (text/plain, JSON, templates…)
        src = _first(attrs, b"src")
        if src is None:
            return _HOLD
        tracker = self.tracker_of(src.value or b"")
        if tracker is None:
            return _UNCHANGED
        return TagRewrite(self.inert_script(tag, attrs, _escape(tracker.category)))

    @staticmethod
    def inert_script(tag: bytes, attrs: list[_Attribute] | None, categories: bytes) -> bytes:
        """A ``<script>`` start tag made inert: its own ``type`` added first, ``src`` and
        ``type`` renamed (every duplicate too, lest one of them win)."""
        if attrs is None:
            attrs, _ = _attributes(tag, 7)
        parts = [tag[:7], b' type="text/plain" data-consentgate-category="', categories, b'"']
        last = 7
        for attr in attrs:
            if attr.name in (b"src", b"type"):
                parts += (tag[last : attr.name_start], b"data-consentgate-" + attr.name)
                last = attr.name_end
        parts.append(tag[last:])
        return b"".join(parts)

    def _srcset(self, value: bytes) -> Tracker | None:
        text = html.unescape(value.decode("utf-8", "replace"))
        for candidate in text.split(","):
            for url in candidate.split()[:1]:
                tracker = self.tracker_of(url.encode("utf-8"))
                if tracker is not None:
                    return tracker
        # A comma inside a URL is part of it: judge the whole value's words too.
        return next(filter(None, (self.tracker_of(w.encode()) for w in text.split())), None)

    def _srcdoc(self, value: bytes) -> Tracker | None:
        # The document in srcdoc is judged as a fragment of its own.
        from .scanner import StreamInjector

        doc = html.unescape(value.decode("utf-8", "replace")).encode("utf-8")
        out = StreamInjector(b"", b"", inert_hosts=self, rewrite_only=True).feed_last(doc)
        if out == doc:
            return None
        return next(iter(self.trackers_in_text(doc)), None) or next(
            (t for _, t in self._catalogue), None
        )

    def _placeholder(self, tag: bytes, attrs: list[_Attribute], tracker: Tracker) -> TagRewrite:
        """A click-to-load placeholder of the iframe's size; the iframe waits in a template."""
        texts = self._texts
        width = _size(_first(attrs, b"width"), "300px")
        height = _size(_first(attrs, b"height"), "150px")
        service = html.escape(tracker.service)
        src = _first(attrs, b"src")
        iframe = tag
        if self._nocookie and src is not None and src.value is not None:
            iframe = _nocookie(tag, src)
        sentence = html.escape(texts.sentence.replace("{service}", tracker.service))
        opening = (
            f'<div class="consentgate-embed" role="group" aria-label="{service}" '
            f'data-consentgate-embed data-consentgate-category="{html.escape(tracker.category)}" '
            f'style="width:{width};height:{height}">'
            f'<p class="consentgate-embed-name">{service}</p>'
            f"<p>{sentence}</p>"
            '<p class="consentgate-embed-actions">'
            f'<button type="button" data-consentgate-load>{html.escape(texts.load)}</button> '
            f'<button type="button" data-consentgate-allow>{html.escape(texts.always)}</button></p>'
            f'<p><a href="{html.escape(texts.settings_url)}">{html.escape(texts.settings)}</a></p>'
            "<template data-consentgate-template>"
        ).encode()
        return TagRewrite(opening + iframe, close=b"</template></div>")


def _rebuild(trackers: list[tuple[str, Tracker]], texts: EmbedTexts, nocookie: bool) -> InertHosts:
    return InertHosts(trackers=trackers, texts=texts, nocookie=nocookie)


_PATH_END = re.compile(rb"[^A-Za-z0-9/_.~%-]")
_SIZE = re.compile(r"\s*([0-9]{1,5})(?:\.[0-9]*)?\s*(%|px)?\s*\Z")


def _size(attr: _Attribute | None, default: str) -> str:
    if attr is None or attr.value is None:
        return default
    m = _SIZE.match(html.unescape(attr.value.decode("latin-1")))
    if m is None:
        return default
    return m.group(1) + ("%" if m.group(2) == "%" else "px")


def _nocookie(tag: bytes, src: _Attribute) -> bytes:
    """The iframe tag with a YouTube ``src`` moved to youtube-nocookie.com."""
    raw = html.unescape((src.value or b"").decode("utf-8", "replace")).strip()
    try:
        url = ada_url.URL(raw, base=_BASE)
    except ValueError:
        return tag
    if url.hostname not in ("youtube.com", "www.youtube.com", "m.youtube.com"):
        return tag
    url.hostname = "www.youtube-nocookie.com"
    value = html.escape(url.href, quote=True).encode("utf-8")
    return tag[: src.name_start] + b'src="' + value + b'"' + tag[src.end :]


def _renamed(
    tag: bytes, name: bytes, attrs: list[_Attribute], held: Iterable[bytes], categories: bytes
) -> bytes:
    """``tag`` with every held attribute renamed ``data-consentgate-…`` and the category."""
    names = frozenset(held)
    at = 1 + len(name)
    parts = [tag[:at], b' data-consentgate-category="', categories, b'"']
    last = at
    for attr in attrs:
        if attr.name in names:
            parts += (
                tag[last : attr.name_start],
                b"data-consentgate-" + attr.name.replace(b":", b"-"),
            )
            last = attr.name_end
        elif attr.name == b"data-consentgate-category":
            parts += (tag[last : attr.name_start], b"data-consentgate-was-category")
            last = attr.name_end
    parts.append(tag[last:])
    return b"".join(parts)


_JS_ESCAPE = re.compile(r"\\u\{([0-9a-fA-F]{1,6})\}|\\u([0-9a-fA-F]{4})|\\x([0-9a-fA-F]{2})")
#: Characters the URL parser's IDNA mapping drops from a host (soft hyphen, zero widths…).
_IGNORED = dict.fromkeys(
    [
        0xAD,
        0x34F,
        0x180B,
        0x180C,
        0x180D,
        0x200B,
        0x200C,
        0x200D,
        0x2060,
        0xFEFF,
        *range(0xFE00, 0xFE10),
    ]
)


def _fold_text(text: bytes) -> bytes:
    """Script text as hosts in it would reach the URL parser: JavaScript escapes decoded,
    characters IDNA drops removed, compatibility forms folded; other non-ASCII dropped."""

    def unescape(m: re.Match[str]) -> str:
        code = int(m.group(1) or m.group(2) or m.group(3), 16)
        return chr(code) if code <= 0x10FFFF else ""

    decoded = _JS_ESCAPE.sub(unescape, text.decode("utf-8", "replace")).replace("\\/", "/")
    folded = unicodedata.normalize("NFKC", decoded.translate(_IGNORED))
    folded = folded.replace("\u3002", ".").replace("\uff0e", ".").replace("\uff61", ".")
    return folded.encode("ascii", "ignore")


def _escape(text: str) -> bytes:
    return html.escape(text, quote=True).encode("ascii", "xmlcharrefreplace")


def _finder(catalogue: Catalogue) -> tuple[re.Pattern[bytes], re.Pattern[bytes]] | None:
    """Regexes for the host names of ``catalogue`` in text, matched at their last label: a
    quick one for a dot and a last label (every match of the second has one), and the host."""
    tlds = sorted(
        {p.partition("/")[0].rpartition(".")[2] for p, _ in catalogue if "." in p}, key=len
    )
    if not tlds:
        return None
    alternatives = b"|".join(re.escape(t.encode("ascii")) for t in reversed(tlds))
    last = rb"(?i:" + alternatives + rb")(?![A-Za-z0-9-])"
    return re.compile(rb"\." + last), re.compile(rb"(?<![A-Za-z0-9-])(?:[A-Za-z0-9-]++\.)+" + last)
