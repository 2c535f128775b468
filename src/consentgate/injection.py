"""Streaming HTML injection over bytes, plus Content-Security-Policy and charset helpers.

:class:`StreamInjector` inserts two snippets into an HTML byte stream as it flows, chunk by
chunk, without ever buffering the body: the ``head`` snippet right after the first ``<head>``
start tag, the ``body`` snippet right before the last ``</body>``. It can also neutralise
tracker ``<script src>`` tags (fail closed) so they only run once consent is given.

The scanner is a small approximation of the HTML tokenizer, enough for injection:

* it recognises only ``<head``, ``<body``, ``</head``, ``</body``, ``<script`` and ``<!--``
  (ASCII case-insensitive, the name followed by whitespace, ``/`` or ``>``);
* the attributes of ``<head>`` and ``<script>`` start tags are tokenised like a browser does
  (double-quoted, single-quoted and unquoted values), so a ``>`` inside a quoted value does
  not end the tag;
* the text of a ``<script>`` element (up to ``</script``) and of a comment (up to ``-->``) is
  skipped: nothing in there is injected into or rewritten. Other tags, ``<style>``, CDATA and
  the "double escaped" script states are not special-cased.

Cost per chunk is one case-insensitive regex scan of it, which also skips whole script
elements and comments in C; Python only runs per token of interest (``<head``, ``</body``, a
script tag that may name a tracker host, a construct cut by the chunk's end), and there is no
per-byte Python loop nor a lowercased copy. A whole page fed at once thus costs little more
than the scan. Once both snippets are in and no hosts are to be neutralised, chunks pass
through untouched. For many injectors over the same hosts, build one :class:`InertHosts`.

Everything here works on bytes, so the stream's charset must be ASCII-compatible (see
:func:`ascii_compatible`). This module knows nothing about ASGI, settings or the rest of
consentgate.
"""

from __future__ import annotations

import base64
import codecs
import functools
import hashlib
import html
import re
import unicodedata
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping
from urllib.parse import unquote

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

# Scanner modes.
_TEXT, _SCRIPT, _COMMENT, _TAG = range(4)
# State of the head snippet.
_PENDING, _IN_TAG, _DEFERRED, _DONE = range(4)
# What to do when the start tag being skipped ends.
_AFTER_HEAD, _AFTER_SCRIPT = range(2)
# Start-tag tokenizer states (after the tag name), as in the HTML spec.
_BEFORE_NAME, _NAME, _AFTER_NAME, _BEFORE_VALUE, _DQ, _SQ, _UNQUOTED = range(7)

# What a text-mode match is: a complete script element or comment with nothing to do
# (skipped), a complete script element whose start tag may need rewriting, a complete
# ``<head ...>`` start tag, or a token.
(
    _SKIP,
    _SRC_SCRIPT,
    _SCRIPT_START,
    _COMMENT_START,
    _END_BODY,
    _HEAD_TAG,
    _HEAD_START,
    _BODY_START,
    _END_HEAD,
) = range(9)
#: Token names that may still be completed by the next chunk (``<`` already seen).
_TOKENS = (b"head", b"body", b"/head", b"/body", b"script", b"!--")
#: What may follow a ``<`` at the end of a chunk for it to be held back: a token name, whole
#: or begun (lowercased).
_TOKEN_PREFIXES = frozenset(token[:i] for token in _TOKENS for i in range(len(token) + 1))
_NAME_STOP = re.compile(rb"[\t\n\f\r />=]")
_UNQUOTED_STOP = re.compile(rb"[\t\n\f\r >]")


def _tag_rest(quoted_gt: bool) -> bytes:
    """A whole start tag after its name; with ``quoted_gt`` false, no quoted value has ``>``.

    Possessive throughout, so it fails, rather than guess, on incomplete data. Without
    ``quoted_gt`` the tag ends at its first ``>``, and where that variant matches it matches
    exactly what the full one does (it only rejects more).
    """
    dq, sq = (rb'"[^"]*+"', rb"'[^']*+'") if quoted_gt else (rb'"[^">]*+"', rb"'[^'>]*+'")
    return (
        rb"(?:[\t\n\f\r /]*+[^\t\n\f\r />][^\t\n\f\r />=]*+[\t\n\f\r ]*+"
        rb"(?:=[\t\n\f\r ]*+(?:" + dq + b"|" + sq + rb"""|[^\t\n\f\r >"'][^\t\n\f\r >]*+|(?=>))"""
        rb"|(?!=)))*+[\t\n\f\r /]*+>"
    )


def _ci(name: bytes) -> bytes:
    """A pattern for ``name`` in any ASCII letter case.

    Explicit ``[sS]`` classes rather than :data:`re.IGNORECASE`: the regex engine then
    rejects an alternative on its first byte without entering it.
    """
    return b"".join(
        b"[%c%c]" % (c, c - 32) if 0x61 <= c <= 0x7A else re.escape(bytes([c])) for c in name
    )


#: Bytes that end a tag name.
_DELIM = rb"[\t\n\f\r />]"
#: A whole start tag after its name, in one go; fails, rather than guess, on incomplete data.
_TAG_REST = re.compile(_tag_rest(True))
#: The end of a script's text: the ``</script`` name (its delimiter must be there already).
_SCRIPT_END = re.compile(b"<" + _ci(b"/script") + b"(?=" + _DELIM + b")")
#: Script text up to and including the first ``</script`` name that has its delimiter.
_SCRIPT_TEXT = rb"[^<]*+(?:<(?!" + _ci(b"/script") + _DELIM + rb")[^<]*+)*+" + _SCRIPT_END.pattern
#: The rest of a comment after ``<!``: ``-->`` is looked for from the ``--`` of ``<!--`` on,
#: so that ``<!-->`` and ``<!--->`` close at once.
_COMMENT_REST = rb"(?=--)(?:[^-]++|-(?!->))*+-->"
#: From right after ``<script``: no ``src`` (any case) before the first ``>``.
_NO_SRC = rb"(?=(?:[^>sS]++|[sS](?![rR][cC]))*+>)"
_SPACE = re.compile(rb"[\t\n\f\r ]*")
_SPACE_SLASH = re.compile(rb"[\t\n\f\r /]*")
#: One attribute of a complete start tag; mirrors :func:`_skip_tag` exactly.
_ATTRIBUTE = re.compile(
    rb"[\t\n\f\r /]*([^\t\n\f\r />][^\t\n\f\r />=]*)"
    rb"""(?:[\t\n\f\r ]*=[\t\n\f\r ]*(?:"([^"]*)"|'([^']*)'|([^\t\n\f\r >]*)))?"""
)
_INERT_TYPE = b' type="text/plain" data-consentgate-category="'
_URL_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
_AUTHORITY_END = re.compile(r"[/\\?#]")
#: URL parsers drop tabs and newlines anywhere and C0 controls/space at both ends.
_URL_DROP = str.maketrans("", "", "\t\n\r")
_URL_TRIM = "".join(map(chr, range(0x21)))
#: Characters IDNA treats as label separators besides ".".
_IDNA_DOTS = str.maketrans("\u3002\uff0e\uff61", "...")
#: Bounds of the per-:class:`InertHosts` memo of judged script tags (entries, tag length):
#: a few hundred kilobytes at most.
_MEMO_SIZE = 256
_MEMO_TAG = 512
#: Bound of the cache of :class:`InertHosts` built from plain mappings.
_CONVERTED_SIZE = 64

#: A text-mode regex and, by ``lastindex``, what each of its matches is.
_TextRx = tuple[re.Pattern[bytes], tuple[int, ...]]


def _text_regex(head: bool, body: bool, hosts: bool) -> _TextRx:
    """The text-mode regex, given what is still to be done.

    It is searched for from one place to the next and matches, at a ``<``, the first of:

    * a complete script element (start tag, text and ``</script`` name) or comment, which is
      skipped in one go. With ``hosts``, a script whose start tag mentions ``src`` (or has a
      ``>`` in a quoted value) is told apart, as it may have to be rewritten;
    * a ``<script`` or ``<!--`` that does not complete in the data (Python takes over);
    * a ``</body``, ``<head`` (with its whole start tag if there), ``<body`` or ``</head``
      token still of interest.

    Every alternative ends with an empty group, so ``lastindex`` tells them apart (these are
    the only groups; the ``src`` script alternative has another one right after its start
    tag). The alternatives after ``<`` each start with a literal byte, one per letter case,
    which the regex engine checks before entering them: most ``<`` in a page cost one look.
    """
    kinds = [_SKIP]

    def mark(kind: int) -> bytes:
        kinds.append(kind)
        return b"()"

    delim = b"(?=" + _DELIM + b")"

    def either_case(token: bytes, then: Callable[[], bytes]) -> list[bytes]:
        # One alternative per case of the first letter (each with its own groups).
        return [
            bytes([first]) + _ci(token[1:]) + delim + then() for first in (token[0], token[0] - 32)
        ]

    def script() -> bytes:
        if hosts:
            parts = [_NO_SRC, _tag_rest(False), _SCRIPT_TEXT, mark(_SKIP), b"|"]
            parts += [_tag_rest(True), mark(_SKIP), _SCRIPT_TEXT, mark(_SRC_SCRIPT)]
        else:
            parts = [_tag_rest(True), _SCRIPT_TEXT, mark(_SKIP)]
        return b"(?:" + b"".join(parts) + b"|" + mark(_SCRIPT_START) + b")"

    def head_tag() -> bytes:
        return b"(?:" + _tag_rest(True) + mark(_HEAD_TAG) + b"|" + mark(_HEAD_START) + b")"

    alts = either_case(b"script", script)
    alts.append(b"!(?:" + _COMMENT_REST + mark(_SKIP) + b"|--" + mark(_COMMENT_START) + b")")
    ends: list[bytes] = []
    if body:
        ends += either_case(b"body", lambda: mark(_END_BODY))
    if head:
        ends += either_case(b"head", lambda: mark(_END_HEAD))
    if ends:
        alts.append(b"/(?:" + b"|".join(ends) + b")")
    if head:
        alts += either_case(b"head", head_tag)
        alts += either_case(b"body", lambda: mark(_BODY_START))
    regex = re.compile(b"<(?:" + b"|".join(alts) + b")")
    assert regex.groups == len(kinds) - 1
    return regex, tuple(kinds)


class _TextRegexes(dict[tuple[bool, bool, bool], _TextRx]):
    """``_text_regex(head, body, hosts)`` by its arguments, each compiled on first use."""

    def __missing__(self, key: tuple[bool, bool, bool]) -> _TextRx:
        value = self[key] = _text_regex(*key)
        return value


_TEXT_RX = _TextRegexes()


def _skip_tag(data: bytes, pos: int, state: int) -> tuple[int, int]:
    """Tokenise start-tag attributes from ``pos`` in ``state``.

    Returns ``(index just past the closing ">", state)``, or ``(-1, state)`` when ``data``
    ends inside the tag; the state then resumes the scan on the next chunk.
    """
    if state == _BEFORE_NAME:
        # Common case first: the whole tag is there.
        m = _TAG_REST.match(data, pos)
        if m is not None:
            return m.end(), state
    n = len(data)
    while pos < n:
        if state == _BEFORE_NAME:
            pos = _SPACE_SLASH.match(data, pos).end()  # type: ignore[union-attr]
            if pos >= n:
                break
            if data[pos] == 0x3E:
                return pos + 1, state
            # Anything else starts a name, even "=" (as in browsers).
            state, pos = _NAME, pos + 1
        elif state == _NAME:
            m = _NAME_STOP.search(data, pos)
            if m is None:
                break
            c, pos = data[m.start()], m.end()
            if c == 0x3E:
                return pos, state
            state = _BEFORE_VALUE if c == 0x3D else _BEFORE_NAME if c == 0x2F else _AFTER_NAME
        elif state == _AFTER_NAME:
            pos = _SPACE.match(data, pos).end()  # type: ignore[union-attr]
            if pos >= n:
                break
            c = data[pos]
            if c == 0x3E:
                return pos + 1, state
            state = _BEFORE_VALUE if c == 0x3D else _BEFORE_NAME if c == 0x2F else _NAME
            pos += 1
        elif state == _BEFORE_VALUE:
            pos = _SPACE.match(data, pos).end()  # type: ignore[union-attr]
            if pos >= n:
                break
            c = data[pos]
            if c == 0x3E:
                return pos + 1, state
            if c == 0x22 or c == 0x27:
                state, pos = (_DQ if c == 0x22 else _SQ), pos + 1
            else:
                state = _UNQUOTED
        elif state in (_DQ, _SQ):
            i = data.find(b'"' if state == _DQ else b"'", pos)
            if i < 0:
                break
            state, pos = _BEFORE_NAME, i + 1
        else:
            m = _UNQUOTED_STOP.search(data, pos)
            if m is None:
                break
            pos = m.end()
            if data[m.start()] == 0x3E:
                return pos, state
            state = _BEFORE_NAME
    return -1, state


@functools.lru_cache(maxsize=1024)
def _url_host(raw: bytes) -> str | None:
    """The host a ``src`` URL points to, or ``None`` for a relative URL (fail-closed parse).

    Any ``scheme:`` followed by any number of ``/`` or ``\\`` counts as absolute, entities and
    percent-escapes are decoded, and IDNA dots and full-width letters are folded. Cached:
    pages keep loading the same few script URLs.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    url = html.unescape(text)
    if "\t" in url or "\n" in url or "\r" in url:
        url = url.translate(_URL_DROP)
    url = url.strip(_URL_TRIM)
    m = _URL_SCHEME.match(url)
    if m is not None:
        rest = url[m.end() :]
    elif url.startswith(("//", "\\\\", "/\\", "\\/")):
        rest = url
    else:
        return None
    authority = _AUTHORITY_END.split(rest.lstrip("/\\"), maxsplit=1)[0]
    host = authority.rpartition("@")[2]
    host = host.partition("]")[0] + "]" if host.startswith("[") else host.partition(":")[0]
    host = unquote(host)
    if not host.isascii():
        # Browsers map these to ASCII before resolving, so must we.
        host = unicodedata.normalize("NFKC", host).translate(_IDNA_DOTS)
    host = host.strip().lower().rstrip(".")
    return host or None


class InertHosts(Mapping[str, str]):
    """Tracker hosts and their consent categories, prepared once for :class:`StreamInjector`.

    A read-only mapping from normalised host (stripped of whitespace and dots, lowercase;
    empty names dropped, the last of duplicates winning) to category. Building it does all
    the per-map work (normalising, HTML-escaping each category for the attribute it will be
    written into), so an injector given one starts at no cost: build it once per set of
    hosts (for example per set of granted categories) and share it between requests and
    threads. Script start tags it has judged are remembered (a bounded memo), as pages keep
    sending the same ones.

    Instances cannot be changed (assigning an attribute raises :class:`AttributeError`);
    they compare equal to any mapping with the same items, and copy and pickle as such.
    """

    __slots__ = ("_categories", "_escaped", "_memo")

    _categories: dict[str, str]
    #: Host to category as the bytes written into ``data-consentgate-category="..."``.
    _escaped: dict[str, bytes]
    #: Script start tag to its rewrite (``b""`` when it stays as it is).
    _memo: dict[bytes, bytes]

    def __init__(self, hosts: Mapping[str, str] | None = None) -> None:
        """Normalise ``hosts`` (host to category)."""
        categories: dict[str, str] = {}
        for host, category in (hosts or {}).items():
            key = host.strip().strip(".").lower()
            if key:
                categories[key] = category
        escaped = {
            key: html.escape(category, quote=True).encode("ascii", "xmlcharrefreplace")
            for key, category in categories.items()
        }
        setattr_ = object.__setattr__
        setattr_(self, "_categories", categories)
        setattr_(self, "_escaped", escaped)
        setattr_(self, "_memo", {})

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"InertHosts is immutable: cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"InertHosts is immutable: cannot delete {name!r}")

    def __reduce__(self) -> tuple[type[InertHosts], tuple[dict[str, str]]]:
        return InertHosts, (self._categories,)

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

    def _category(self, src: bytes) -> bytes | None:
        """The escaped category of the host ``src`` points to, most specific host first."""
        host = _url_host(src)
        escaped = self._escaped
        while host:
            category = escaped.get(host)
            if category is not None:
                return category
            host = host.partition(".")[2]
        return None

    def _neutralise(self, tag: bytes) -> bytes:
        """A complete ``<script ...>`` start tag made inert if its ``src`` is a tracker.

        Returns ``tag`` itself when it stays as it is.
        """
        memo = self._memo
        new = memo.get(tag)
        if new is None:
            new = self._rewrite(tag)
            if len(tag) <= _MEMO_TAG:
                if len(memo) >= _MEMO_SIZE:
                    memo.clear()
                memo[tag] = b"" if new is tag else new
            return new
        return new or tag

    def _rewrite(self, tag: bytes) -> bytes:
        """:meth:`_neutralise` without the memo."""
        if b"src" not in tag.lower():
            return tag
        renames: list[tuple[int, int, bytes]] = []
        src: bytes | None = None
        type_: bytes | None = None
        pos = 7  # len(b"<script")
        while (m := _ATTRIBUTE.match(tag, pos)) is not None:
            name = m.group(1).lower()
            if name == b"src" or name == b"type":
                # The value is in whichever of groups 2-4 matched last, if any.
                last = m.lastindex or 1
                value = m.group(last) if last > 1 else b""
                if name == b"src":
                    src = value if src is None else src
                    renames.append((m.start(1), m.end(1), b"data-consentgate-src"))
                else:
                    type_ = value if type_ is None else type_
                    renames.append((m.start(1), m.end(1), b"data-consentgate-type"))
            pos = m.end()
        if src is None:
            return tag
        # Browsers use the first of duplicate attributes; a text/plain script never runs.
        if type_ is not None:
            essence = html.unescape(type_.decode("latin-1")).partition(";")[0]
            if essence.strip("\t\n\f\r ").lower() == "text/plain":
                return tag
        category = self._category(src)
        if category is None:
            return tag
        # Every src/type is renamed, not just the first: a duplicate would otherwise win.
        parts = [tag[:7], _INERT_TYPE, category, b'"']
        last = 7
        for start, end, new in renames:
            parts += (tag[last:start], new)
            last = end
        parts.append(tag[last:])
        return b"".join(parts)


_converted: dict[tuple[tuple[str, str], ...], InertHosts] = {}


def _inert_hosts(hosts: Mapping[str, str]) -> InertHosts:
    """``InertHosts(hosts)``, shared with earlier calls given the same items in the same order.

    Callers that pass plain mappings tend to pass the same few again and again; sharing also
    shares the memo of judged script tags.
    """
    try:
        key = tuple(hosts.items())
        found = _converted.get(key)
    except TypeError:  # Unhashable values: no sharing.
        return InertHosts(hosts)
    if found is None:
        found = InertHosts(hosts)
        if len(_converted) >= _CONVERTED_SIZE:
            _converted.clear()
        _converted[key] = found
    return found


class StreamInjector:
    """Inserts snippets into an HTML byte stream, chunk by chunk, never buffering the body.

    * ``head`` goes right after the first ``<head ...>`` start tag, if one comes before any
      ``<body``, ``</head`` or ``</body`` tag; otherwise it goes right before ``body``.
    * ``body`` goes right before the last ``</body``. On meeting ``</body`` the injector holds
      the stream back from there; a later ``</body`` releases the held part up to itself.
      The hold is bounded: when ``max_tag`` bytes have passed since the held ``</body``
      without another one, ``body`` is committed before the held tag and ``</body`` is no
      longer looked for. Without any ``</body``, both pending snippets are appended by
      :meth:`finish`.
    * ``<script>`` start tags whose ``src`` host is, or is a subdomain of, a key of
      ``inert_hosts`` are made inert: ``src`` is renamed ``data-consentgate-src``, ``type``
      is renamed ``data-consentgate-type``, and ``type="text/plain"
      data-consentgate-category="<category>"`` is added right after the tag name; every other
      byte of the tag is kept. A tag whose effective ``type`` is already ``text/plain`` is left
      alone, and so is a script tag longer than ``max_tag`` bytes (it is not held back any
      longer than that).
    * Snippets are inserted verbatim, never scanned.

    Apart from the held ``</body`` tail and a possible token or script tag in progress (each
    at most ``max_tag`` bytes between calls), every byte fed is returned by that :meth:`feed`
    call or the next, and the output does not depend on how the stream is cut into chunks.
    """

    __slots__ = (
        "_base",
        "_body",
        "_body_done",
        "_carry",
        "_finished",
        "_head",
        "_head_state",
        "_held_at",
        "_inert",
        "_max_tag",
        "_mode",
        "_out",
        "_rx",
        "_sink",
        "_tag_after",
        "_tag_capture",
        "_tag_scan",
        "_tag_start",
        "_tag_state",
        "_tail",
    )

    _inert: InertHosts | None
    #: The text-mode regex, ``None`` once idle.
    _rx: _TextRx | None
    _out: list[bytes]
    #: Where output goes: ``_out``, or ``_tail`` while holding.
    _sink: list[bytes]
    #: Output from the held ``</body`` on, or ``None`` when not holding.
    _tail: list[bytes] | None
    #: Stream offset of the held ``</body`` (only while holding).
    _held_at: int
    # The start tag being skipped (only in tag mode): whether it is held back to be
    # rewritten, what comes after it, tokenizer state, where to resume, where it starts.
    _tag_capture: bool
    _tag_after: int
    _tag_state: int
    _tag_scan: int
    _tag_start: int

    def __init__(
        self,
        head: bytes,
        body: bytes,
        *,
        inert_hosts: Mapping[str, str] | InertHosts | None = None,
        max_tag: int = 8192,
    ) -> None:
        """Prepare to inject ``head`` and ``body``; ``inert_hosts`` maps host to category.

        ``inert_hosts`` may be a ready :class:`InertHosts` (used as is, at no cost) or any
        mapping, converted to one (a small cache shares the conversion between calls given
        equal items). ``max_tag`` bounds what is ever held back (at least 16; a
        :class:`ValueError` else).
        """
        if max_tag < 16:
            raise ValueError("max_tag must be at least 16")
        self._head = bytes(head)
        self._body = bytes(body)
        self._max_tag = max_tag
        if inert_hosts is not None:
            if not isinstance(inert_hosts, InertHosts):
                inert_hosts = _inert_hosts(inert_hosts)
            if not inert_hosts._escaped:
                # An empty map is no map: only None is tested for below.
                inert_hosts = None
        self._inert = inert_hosts
        self._mode = _TEXT
        self._head_state = _PENDING
        self._body_done = False
        self._finished = False
        #: Bytes held back until the next chunk: a token or script tag in progress.
        self._carry = b""
        #: Stream offset of the first byte of the next ``data`` (carry included).
        self._base = 0
        self._sink = self._out = []
        self._tail = None
        self._rx = _TEXT_RX[True, True, inert_hosts is not None]

    def feed(self, chunk: bytes) -> bytes:
        """Scan the next chunk of the stream; return the bytes that can be sent on now."""
        self._scan(chunk)
        return self._drain()

    def finish(self) -> bytes:
        """At end of stream: what is still held back, with any snippet not yet inserted."""
        if self._finished:
            return b""
        self._close()
        return self._drain()

    def feed_last(self, chunk: bytes) -> bytes:
        """``feed(chunk) + finish()`` with one output copy (a body sent in one message)."""
        self._scan(chunk)
        self._close()
        return self._drain()

    def _scan(self, chunk: bytes) -> None:
        if self._finished:
            raise RuntimeError("feed() after finish()")
        if self._carry:
            data = self._carry + chunk
        else:
            data = chunk if type(chunk) is bytes else bytes(chunk)  # no copy of the page
        self._carry = b""
        if self._rx is None:
            # Nothing left to insert or rewrite: pass through untouched.
            self._sink.append(data)
            return
        n = len(data)
        pos = 0
        while pos < n:
            mode = self._mode
            if mode == _TEXT:
                pos = self._text(data, pos)
            elif mode == _SCRIPT:
                pos = self._script(data, pos)
            elif mode == _COMMENT:
                pos = self._comment(data, pos)
            else:
                pos = self._tag(data, pos)
        self._base += n - len(self._carry)
        # Any later "</body" would start too far from the held one: commit now.
        if self._tail is not None and self._base - self._held_at > self._max_tag:
            self._commit()

    def _close(self) -> None:
        self._finished = True
        # A token or tag still in progress at EOF is plain text (or a broken tag) after all.
        self._sink.append(self._carry)
        self._carry = b""
        out = self._out
        if not self._body_done:
            # As _commit(), less what no later call needs.
            out.append(self._body if self._head_state == _DONE else self._head + self._body)
            if self._tail is not None:
                out += self._tail
                self._tail = None
                self._sink = out

    def _drain(self) -> bytes:
        out = self._out
        result = out[0] if len(out) == 1 else b"".join(out)
        out.clear()
        return result

    def _update_rx(self) -> None:
        """Choose the text-mode regex for what is still to be done."""
        head = self._head_state == _PENDING
        body = not self._body_done
        hosts = self._inert is not None
        # Scripts and comments are always tracked so that their text is never scanned; with
        # nothing left to insert or rewrite, there is no regex: the injector is idle.
        self._rx = _TEXT_RX[head, body, hosts] if head or body or hosts else None

    def _commit(self) -> None:
        """Insert the pending snippets before the held ``</body`` (or here) and release it."""
        snippet = self._body if self._head_state == _DONE else self._head + self._body
        self._head_state = _DONE
        self._out.append(snippet)
        if self._tail is not None:
            self._out.extend(self._tail)
            self._tail = None
            self._sink = self._out
        self._body_done = True
        self._update_rx()

    def _end_body(self, data: bytes, pos: int, start: int) -> None:
        """Handle a ``</body`` token at ``start`` (output is done up to ``pos``)."""
        tail = self._tail
        if tail is None:
            self._out.append(data[pos:start])
            if self._head_state == _PENDING:
                self._head_state = _DEFERRED
                self._update_rx()
            self._tail = tail = []
            self._sink = tail
        else:
            tail.append(data[pos:start])
            if self._base + start - self._held_at > self._max_tag:
                # Too far from the held one: that one was the last; this one is just text.
                self._commit()
                return
            self._out.extend(tail)
            tail.clear()
        self._held_at = self._base + start

    def _enter_tag(self, capture: bool, after: int, start: int, scan: int, state: int) -> None:
        """Continue skipping (and, if ``capture``, holding) a start tag on the next chunk."""
        self._mode = _TAG
        self._tag_capture = capture
        self._tag_after = after
        self._tag_state = state
        self._tag_start = start
        self._tag_scan = scan

    def _text(self, data: bytes, pos: int) -> int:
        """Scan markup from ``pos``; return where the next mode starts (or ``len(data)``).

        Complete script elements and comments are skipped by the regex itself, so Python
        only sees tokens, script tags that may need rewriting, and constructs that run past
        the end of ``data`` (where the other modes take over).
        """
        n = len(data)
        at = pos
        while True:
            rx = self._rx
            if rx is None:
                self._sink.append(data[pos:])
                return n
            regex, kinds = rx
            for m in regex.finditer(data, at):
                group = m.lastindex or 0
                kind = kinds[group]
                if kind == _SKIP:
                    continue
                start = m.start()
                if kind == _SRC_SCRIPT:
                    # A complete script element; its start tag ends at the group before.
                    tag_end = m.start(group - 1)
                    if tag_end - start <= self._max_tag:
                        tag = data[start:tag_end]
                        new = self._inert._neutralise(tag)  # type: ignore[union-attr]
                        if new is not tag:
                            self._sink += (data[pos:start], new)
                            pos = tag_end
                    continue
                end = m.end()
                if kind == _END_BODY:
                    self._end_body(data, pos, start)
                    pos, at = start, end
                    if self._rx is rx:
                        # Same regex: the search goes on from ``end`` as it is.
                        continue
                elif kind == _SCRIPT_START:
                    # The element does not complete in ``data`` (or needs the slow tokenizer).
                    tag_end, state = _skip_tag(data, end, _BEFORE_NAME)
                    if self._inert is not None:
                        if tag_end < 0:
                            # Hold the whole tag back: it may have to be rewritten.
                            self._sink.append(data[pos:start])
                            self._enter_tag(True, _AFTER_SCRIPT, start, n, state)
                            return start
                        if tag_end - start <= self._max_tag:
                            tag = data[start:tag_end]
                            new = self._inert._neutralise(tag)
                            if new is not tag:
                                self._sink += (data[pos:start], new)
                                pos = tag_end
                    elif tag_end < 0:
                        self._sink.append(data[pos:])
                        self._enter_tag(False, _AFTER_SCRIPT, 0, 0, state)
                        return n
                    found = _SCRIPT_END.search(data, tag_end)
                    if found is None:
                        self._sink.append(data[pos:tag_end])
                        self._mode = _SCRIPT
                        return tag_end
                    # The closing "</script" is plain text from here on (as its ">" is).
                    at = found.end()
                elif kind == _COMMENT_START:
                    # Search from the "--" of "<!--" so that "<!-->" and "<!--->" close at once.
                    i = data.find(b"-->", start + 2)
                    if i < 0:
                        self._sink.append(data[pos : start + 2])
                        self._mode = _COMMENT
                        return start + 2
                    at = i + 3
                elif kind in (_HEAD_TAG, _HEAD_START):
                    tag_end = end
                    if kind == _HEAD_START:
                        # Not complete in ``data`` (or needs the slow tokenizer).
                        tag_end, state = _skip_tag(data, end, _BEFORE_NAME)
                        if tag_end < 0:
                            self._head_state = _IN_TAG
                            self._update_rx()
                            self._sink.append(data[pos:])
                            self._enter_tag(False, _AFTER_HEAD, 0, 0, state)
                            return n
                    self._sink += (data[pos:tag_end], self._head)
                    self._head_state = _DONE
                    self._update_rx()
                    pos = at = tag_end
                else:
                    # "<body" or "</head" before any "<head": head goes with the body snippet.
                    self._head_state = _DEFERRED
                    self._update_rx()
                    at = end
                # Position or regex changed: search again from ``at``.
                break
            else:
                # Hold back a "<" near the end that the next chunk may turn into a token. (A
                # "<" inside a skipped element or comment never qualifies: what follows it
                # has a ">" or "/script".)
                k = data.rfind(b"<", max(at, pos, n - 8))
                if k >= 0 and data[k + 1 :].lower() in _TOKEN_PREFIXES:
                    self._sink.append(data[pos:k])
                    self._carry = data[k:]
                else:
                    self._sink.append(data[pos:])
                return n

    def _script(self, data: bytes, pos: int) -> int:
        """Skip script text up to and including the ``</script`` name."""
        found = _SCRIPT_END.search(data, pos)
        if found is None:
            n = len(data)
            k = data.rfind(b"<", max(pos, n - 8))
            if k >= 0 and b"/script".startswith(data[k + 1 :].lower()):
                self._sink.append(data[pos:k])
                self._carry = data[k:]
            else:
                self._sink.append(data[pos:])
            return n
        end = found.end()
        self._sink.append(data[pos:end])
        self._mode = _TEXT
        return end

    def _comment(self, data: bytes, pos: int) -> int:
        """Skip comment text up to and including ``-->``."""
        i = data.find(b"-->", pos)
        if i < 0:
            n = len(data)
            # Only trailing dashes can start the "-->" in the next chunk.
            keep = n - 2 if data.endswith(b"--") else n - 1 if data.endswith(b"-") else n
            keep = max(pos, keep)
            self._sink.append(data[pos:keep])
            self._carry = data[keep:]
            return n
        self._sink.append(data[pos : i + 3])
        self._mode = _TEXT
        return i + 3

    def _tag(self, data: bytes, pos: int) -> int:
        """Skip (or capture) a start tag's attributes up to its closing ``>``."""
        n = len(data)
        start = self._tag_start if self._tag_capture else pos
        end, state = _skip_tag(data, self._tag_scan, self._tag_state)
        if end < 0:
            self._tag_state = state
            if not self._tag_capture:
                self._sink.append(data[pos:])
                self._tag_scan = 0
            elif n - start > self._max_tag:
                # Too long to hold: send it unchanged and just skip to its end.
                self._sink.append(data[start:])
                self._tag_capture = False
                self._tag_scan = 0
            else:
                self._carry = data[start:]
                self._tag_scan = n - start
                self._tag_start = 0
            return n
        if not self._tag_capture:
            self._sink.append(data[pos:end])
        elif end - start > self._max_tag:
            self._sink.append(data[start:end])
        else:
            self._sink.append(self._inert._neutralise(data[start:end]))  # type: ignore[union-attr]
        if self._tag_after == _AFTER_HEAD:
            self._sink.append(self._head)
            self._head_state = _DONE
            self._update_rx()
            self._mode = _TEXT
        else:
            self._mode = _SCRIPT
        return end


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
    """

    __slots__ = ("_entries", "_max_bytes", "_max_page", "_seen", "_size")

    def __init__(self, *, max_bytes: int = 8 << 20, max_page: int = 512 << 10) -> None:
        """Keep at most ``max_bytes`` of pages and results; skip pages over ``max_page``."""
        self._max_bytes = max_bytes
        self._max_page = max_page
        #: (page, head, body, id of the hosts) to (result, the hosts). The hosts are held so
        #: that their id cannot be reused by another object while the entry lives.
        self._entries: OrderedDict[
            tuple[bytes, bytes, bytes, int], tuple[bytes, InertHosts | None]
        ] = OrderedDict()
        #: Hashes of keys seen once (a collision only lets a page in one sighting early).
        self._seen: set[int] = set()
        self._size = 0

    def inject(
        self, page: bytes, head: bytes, body: bytes, inert_hosts: InertHosts | None
    ) -> bytes:
        """``StreamInjector(head, body, inert_hosts=inert_hosts).feed_last(page)``, remembered."""
        key = (page, head, body, id(inert_hosts))
        small = len(page) <= self._max_page
        entry = self._entries.get(key) if small else None
        if entry is not None and entry[1] is inert_hosts:
            return entry[0]
        result = StreamInjector(head, body, inert_hosts=inert_hosts).feed_last(page)
        if not small:
            return result
        signature = hash(key)
        if signature not in self._seen:
            if len(self._seen) >= 4096:
                self._seen.clear()
            self._seen.add(signature)
            return result
        self._seen.discard(signature)
        cost = len(page) + len(result)
        if cost > self._max_bytes:
            return result
        entries = self._entries
        while entries and self._size + cost > self._max_bytes:
            (old, _, _, _), (old_result, _) = entries.popitem(last=False)
            self._size -= len(old) + len(old_result)
        entries[key] = (result, inert_hosts)
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
