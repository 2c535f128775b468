"""HTML injection over bytes: the streaming scanner, plus Content-Security-Policy and charset
helpers.

:class:`StreamInjector` (in :mod:`consentgate.scanner`) inserts snippets into whole documents
and holds trackers back in every HTML stream; :class:`InertHosts` (in
:mod:`consentgate.failclosed`) says what is held back. :class:`InjectionMemo` remembers results
for pages that come back byte for byte. Everything here works on bytes, so the stream's charset
must be ASCII-compatible (see :func:`ascii_compatible`). This module knows nothing about ASGI,
settings or the rest of consentgate.
"""

from __future__ import annotations

import base64
import codecs
import functools
import hashlib
import re
from collections import OrderedDict
from collections.abc import Iterable

from .failclosed import InertHosts
from .scanner import StreamInjector

__all__ = [
    "InertHosts",
    "InjectionMemo",
    "StreamInjector",
    "ascii_compatible",
    "charset_of",
    "csp_nonce",
    "csp_with_script_hashes",
    "script_hash",
]

# --- Content-Security-Policy -------------------------------------------------------------

_CSP_WS = "\t\n\f\r "
_CSP_SPLIT = re.compile(r"[\t\n\f\r ]+")
_NONCE = re.compile(r"'nonce-([A-Za-z0-9+/_=-]+)'", re.IGNORECASE)
#: Directives governing ``<script>`` elements, most specific first (CSP level 3 fallback).
_SCRIPT_DIRECTIVES = ("script-src-elem", "script-src", "default-src")
_HASH_PREFIXES = ("'sha256-", "'sha384-", "'sha512-")


class InjectionMemo:
    """Injection results for whole pages, remembered for pages that come back byte for byte.

    A content site sends the same article to many visitors, and every visitor whose consent
    renders alike gets the same snippets: the result of injecting them into that page is then
    the same too. :meth:`inject` returns it from here instead of scanning the page again.

    A result is kept from the second time a page is seen with the same snippets (a page that
    changes on every request, say with a per-request token, costs one hash and is never kept),
    and only for pages of at most ``max_page`` bytes. What is kept (pages and results) stays
    under ``max_bytes``; the oldest entries go first.

    A page arrives as a new bytes object every time, so hashing it whole on every lookup would
    cost more than everything else a remembered page needs: entries are found by the page's
    length and its last bytes, and the page is then compared whole (a ``memcmp``). Only a page
    that is not found is hashed whole (to count its sightings).
    """

    __slots__ = ("_entries", "_max_bytes", "_max_page", "_seen", "_size")

    #: How many of a page's last bytes, with its length, find its entry.
    TAIL = 96

    def __init__(self, *, max_bytes: int = 8 << 20, max_page: int = 512 << 10) -> None:
        """Keep at most ``max_bytes`` of pages and results; skip pages over ``max_page``."""
        self._max_bytes = max_bytes
        self._max_page = max_page
        #: (length, tail, head, body, id of the hosts) to (page, result, the hosts). The hosts
        #: are held so that their id cannot be reused by another object while the entry lives.
        self._entries: OrderedDict[
            tuple[int, bytes, bytes, bytes, int], tuple[bytes, bytes, InertHosts | None]
        ] = OrderedDict()
        #: Hashes of pages seen once (a collision only lets a page in one sighting early).
        self._seen: set[int] = set()
        self._size = 0

    def inject(
        self,
        page: bytes,
        head: bytes,
        body: bytes,
        inert_hosts: InertHosts | None,
        rewrite_only: bool = False,
    ) -> bytes:
        """``StreamInjector(head, body, inert_hosts=…, rewrite_only=…).feed_last(page)``,
        remembered."""
        size = len(page)
        small = size <= self._max_page
        if small:
            key = (size, page[-self.TAIL :], head, body, id(inert_hosts) * 2 + rewrite_only)
            entry = self._entries.get(key)
            if entry is not None and entry[2] is inert_hosts and entry[0] == page:
                return entry[1]
        result = StreamInjector(
            head, body, inert_hosts=inert_hosts, rewrite_only=rewrite_only
        ).feed_last(page)
        if not small:
            return result
        signature = hash((page, key))
        if signature not in self._seen:
            if len(self._seen) >= 4096:
                self._seen.clear()
            self._seen.add(signature)
            return result
        self._seen.discard(signature)
        cost = size + len(result)
        if cost > self._max_bytes:
            return result
        entries = self._entries
        old_entry = entries.pop(key, None)  # another page of the same length and tail
        if old_entry is not None:
            self._size -= len(old_entry[0]) + len(old_entry[1])
        while entries and self._size + cost > self._max_bytes:
            _, (old, old_result, _) = entries.popitem(last=False)
            self._size -= len(old) + len(old_result)
        entries[key] = (page, result, inert_hosts)
        self._size += cost
        return result

    def clear(self) -> None:
        """Forget every remembered page."""
        self._entries.clear()
        self._seen.clear()
        self._size = 0


def _script_directives(csp: str) -> Iterable[tuple[int, list[str]]]:
    """For each comma-separated policy: (end of the effective script directive, its sources).

    Policies without any script directive are skipped. Duplicate directives are ignored
    after the first, as browsers do.
    """
    start = 0
    length = len(csp)
    while start <= length:
        stop = csp.find(",", start)
        stop = length if stop < 0 else stop
        found: dict[str, tuple[int, list[str]]] = {}
        i = start
        while i <= stop:
            j = csp.find(";", i, stop)
            j = stop if j < 0 else j
            segment = csp[i:j]
            tokens = _CSP_SPLIT.split(segment.strip(_CSP_WS))
            name = tokens[0].lower()
            if name in _SCRIPT_DIRECTIVES and name not in found:
                found[name] = (i + len(segment.rstrip(_CSP_WS)), tokens[1:])
            i = j + 1
        for name in _SCRIPT_DIRECTIVES:
            if name in found:
                yield found[name]
                break
        start = stop + 1


def csp_nonce(csp: str) -> str | None:
    """The first ``'nonce-…'`` value of the effective script directive, else ``None``.

    The effective directive is ``script-src-elem``, else ``script-src``, else ``default-src``
    (names are case-insensitive). With several comma-separated policies, the first nonce
    found wins.
    """
    for _, sources in _script_directives(csp):
        for source in sources:
            m = _NONCE.fullmatch(source)
            if m is not None:
                return m.group(1)
    return None


def csp_with_script_hashes(csp: str, hashes: Iterable[str]) -> str:
    """``csp`` with ``'sha256-<hash>'`` sources added where inline scripts need them.

    ``hashes`` are base64 SHA-256 digests as returned by :func:`script_hash`. They are
    appended to the effective script directive (see :func:`csp_nonce`) of each policy when
    that directive has no nonce and does not allow inline scripts anyway (``'unsafe-inline'``
    counts only without hash sources and ``'strict-dynamic'``, which void it). Policies
    without a script directive do not restrict scripts and are left alone; every other byte
    of the header is kept, and hashes already present are not repeated.
    """
    wanted = [f"'sha256-{h}'" for h in dict.fromkeys(hashes)]
    if not wanted:
        return csp
    inserts: list[tuple[int, str]] = []
    for end, sources in _script_directives(csp):
        lowered = [s.lower() for s in sources]
        if any(_NONCE.fullmatch(s) for s in sources):
            continue
        voided = "'strict-dynamic'" in lowered or any(s.startswith(_HASH_PREFIXES) for s in lowered)
        if "'unsafe-inline'" in lowered and not voided:
            continue
        new = [w for w in wanted if w not in sources]
        if new:
            inserts.append((end, " " + " ".join(new)))
    for end, text in reversed(inserts):
        csp = csp[:end] + text + csp[end:]
    return csp


def script_hash(script_body: bytes) -> str:
    """Base64 SHA-256 of the exact inline script text, as CSP wants (without ``sha256-``)."""
    return base64.b64encode(hashlib.sha256(script_body).digest()).decode("ascii")


# --- Charsets -----------------------------------------------------------------------------

_PARAM = re.compile(r'[\t ]*;[\t ]*([^\t ;=]*)[\t ]*(?:=[\t ]*("(?:[^"\\]|\\.)*"?|[^;]*))?[^;]*')
_QUOTED_PAIR = re.compile(r"\\(.)")
_ASCII_BYTES = bytes(range(0x80))
_ASCII_TEXT = _ASCII_BYTES.decode("ascii")
_ESCAPING_CODECS = frozenset(
    {"hz", "utf-7", "unicode-escape", "raw-unicode-escape", "punycode", "idna"}
)


@functools.lru_cache(maxsize=256)
def charset_of(content_type: str) -> str:
    """The ``charset`` parameter of a Content-Type value, lowercase; ``"utf-8"`` if absent.

    Quoted values (with backslash escapes) are allowed; the first ``charset`` wins.
    """
    pos = content_type.find(";")
    while pos >= 0 and (m := _PARAM.match(content_type, pos)) is not None and m.end() > pos:
        value = m.group(2)
        if m.group(1).lower() == "charset" and value is not None:
            if value.startswith('"'):
                value = _QUOTED_PAIR.sub(r"\1", value[1:].removesuffix('"'))
            value = value.strip(_CSP_WS).lower()
            if value:
                return value
        pos = m.end()
    return "utf-8"


@functools.lru_cache(maxsize=64)
def ascii_compatible(charset: str) -> bool:
    """Whether bytes 0x00-0x7F mean ASCII in ``charset``, so byte-level HTML edits are safe.

    True for utf-8, ascii, latin-1, iso-8859-*, windows-125x and the like; False for utf-16,
    utf-32, utf-7, stateful encodings and names Python does not know.
    """
    try:
        name = codecs.lookup(charset.strip()).name
        # Escape-based and stateful codecs pass the check below yet give ASCII bytes other
        # meanings after an escape or shift sequence.
        if name.startswith("iso2022") or name in _ESCAPING_CODECS:
            return False
        return _ASCII_BYTES.decode(name) == _ASCII_TEXT and _ASCII_TEXT.encode(name) == _ASCII_BYTES
    except (LookupError, UnicodeError, ValueError, TypeError):
        return False
