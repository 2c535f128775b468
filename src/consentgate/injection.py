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

Cost per chunk is one ``bytes.lower()`` plus a literal-prefix regex scan of it, and a little
Python work per ``<script``, comment or ``</body`` met; there is no per-byte Python loop.
Once both snippets are in and no hosts are to be neutralised, chunks pass through untouched.

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
from collections.abc import Iterable, Mapping
from urllib.parse import unquote

__all__ = [
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

# Token kinds found in markup.
_SCRIPT_START, _END_BODY, _COMMENT_START, _HEAD_START, _BODY_START, _END_HEAD = range(6)
_KINDS = {
    b"<script": _SCRIPT_START,
    b"</body": _END_BODY,
    b"<!--": _COMMENT_START,
    b"<head": _HEAD_START,
    b"<body": _BODY_START,
    b"</head": _END_HEAD,
}
#: Bytes that end a tag name.
_DELIMS = frozenset(b"\t\n\f\r />")
#: Token names that may still be completed by the next chunk (``<`` already seen).
_TOKENS = (b"head", b"body", b"/head", b"/body", b"script", b"!--")
_NAME_STOP = re.compile(rb"[\t\n\f\r />=]")
_UNQUOTED_STOP = re.compile(rb"[\t\n\f\r >]")
#: A whole start tag after its name, in one go; fails, rather than guess, on incomplete data.
_TAG_REST = re.compile(
    rb"(?:[\t\n\f\r /]*+[^\t\n\f\r />][^\t\n\f\r />=]*+[\t\n\f\r ]*+"
    rb"""(?:=[\t\n\f\r ]*+(?:"[^"]*+"|'[^']*+'|[^\t\n\f\r >"'][^\t\n\f\r >]*+|(?=>))|(?!=)))*+"""
    rb"[\t\n\f\r /]*+>"
)
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


def _text_regex(head: bool, body: bool) -> re.Pattern[bytes]:
    """The tokens worth stopping at in (lowercased) markup, given what is still to be done."""
    names = [b"script", b"!--"]
    if head:
        names += [b"head", b"body", b"/head"]
    if body:
        names.append(b"/body")
    # Plain literals after one "<": the fastest form for the regex engine's prefix scan.
    return re.compile(b"<(?:" + b"|".join(re.escape(name) for name in names) + b")")


_TEXT_RX = {(h, b): _text_regex(h, b) for h in (False, True) for b in (False, True)}


def _maybe_token(rest: bytes) -> bool:
    """Whether ``<`` + lowercased ``rest`` at the end of a chunk may still become a token."""
    return any(token.startswith(rest) for token in _TOKENS)


def _script_end(low: bytes, pos: int) -> int:
    """Index just past the first ``</script`` name from ``pos`` in lowercased ``low``, or -1."""
    n = len(low)
    i = low.find(b"</script", pos)
    while i >= 0:
        end = i + 8
        if end >= n:
            return -1
        if low[end] in _DELIMS:
            return end
        i = low.find(b"</script", i + 1)
    return -1


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
        "_hosts",
        "_idle",
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

    def __init__(
        self,
        head: bytes,
        body: bytes,
        *,
        inert_hosts: Mapping[str, str] | None = None,
        max_tag: int = 8192,
    ) -> None:
        """Prepare to inject ``head`` and ``body``; ``inert_hosts`` maps host to category.

        ``max_tag`` bounds what is ever held back (at least 16; a :class:`ValueError` else).
        """
        if max_tag < 16:
            raise ValueError("max_tag must be at least 16")
        self._head = bytes(head)
        self._body = bytes(body)
        self._max_tag = max_tag
        self._hosts: dict[str, bytes] = {}
        for host, category in (inert_hosts or {}).items():
            key = host.strip().strip(".").lower()
            if key:
                # Escaped once here: the category lands inside a double-quoted attribute.
                value = html.escape(category, quote=True).encode("ascii", "xmlcharrefreplace")
                self._hosts[key] = value
        self._mode = _TEXT
        self._head_state = _PENDING
        self._body_done = False
        self._finished = False
        #: Bytes held back until the next chunk: a token or script tag in progress.
        self._carry = b""
        #: Stream offset of the first byte of the next ``data`` (carry included).
        self._base = 0
        self._out: list[bytes] = []
        #: Output from the held ``</body`` on, or ``None`` when not holding.
        self._tail: list[bytes] | None = None
        self._sink = self._out
        self._held_at = 0
        self._tag_capture = False
        self._tag_after = _AFTER_SCRIPT
        self._tag_state = _BEFORE_NAME
        self._tag_scan = 0
        self._tag_start = 0
        self._rx: re.Pattern[bytes] | None = None
        self._idle = False
        self._update_rx()

    def feed(self, chunk: bytes) -> bytes:
        """Scan the next chunk of the stream; return the bytes that can be sent on now."""
        if self._finished:
            raise RuntimeError("feed() after finish()")
        data = self._carry + chunk if self._carry else bytes(chunk)
        self._carry = b""
        if self._idle:
            # Nothing left to insert or rewrite: pass through untouched.
            return data
        n = len(data)
        # Token search runs on a lowercased copy: literal finds beat case-insensitive regexes.
        low = data.lower()
        pos = 0
        while pos < n:
            mode = self._mode
            if mode == _TEXT:
                pos = self._text(data, low, pos)
            elif mode == _SCRIPT:
                pos = self._script(data, low, pos)
            elif mode == _COMMENT:
                pos = self._comment(data, pos)
            else:
                pos = self._tag(data, pos)
        self._base += n - len(self._carry)
        # Any later "</body" would start too far from the held one: commit now.
        if self._tail is not None and self._base - self._held_at > self._max_tag:
            self._commit()
        result = b"".join(self._out)
        self._out.clear()
        return result

    def finish(self) -> bytes:
        """At end of stream: what is still held back, with any snippet not yet inserted."""
        if self._finished:
            return b""
        self._finished = True
        # A token or tag still in progress at EOF is plain text (or a broken tag) after all.
        self._sink.append(self._carry)
        self._carry = b""
        if not self._body_done:
            self._commit()
        result = b"".join(self._out)
        self._out.clear()
        return result

    def _update_rx(self) -> None:
        """Choose the text-mode regex for what is still to be done."""
        head = self._head_state == _PENDING
        body = not self._body_done
        self._idle = not (head or body or self._hosts)
        # Scripts and comments are always tracked so that their text is never scanned.
        self._rx = None if self._idle else _TEXT_RX[head, body]

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

    def _text(self, data: bytes, low: bytes, pos: int) -> int:
        """Scan markup from ``pos``; return where the next mode starts (or ``len(data)``).

        Complete script tags, script texts and comments are skipped inline; the other modes
        only take over where one of them runs past the end of ``data``.
        """
        n = len(data)
        at = pos
        while True:
            rx = self._rx
            if rx is None:
                self._sink.append(data[pos:])
                return n
            m = rx.search(low, at)
            if m is None:
                # Hold back a "<" near the end that the next chunk may turn into a token.
                k = low.rfind(b"<", max(at, n - 8))
                if k >= 0 and _maybe_token(low[k + 1 :]):
                    self._sink.append(data[pos:k])
                    self._carry = data[k:]
                else:
                    self._sink.append(data[pos:])
                return n
            start, end = m.span()
            kind = _KINDS[m.group()]
            if kind != _COMMENT_START:
                if end >= n:
                    # The next byte decides whether the name ends here.
                    self._sink.append(data[pos:start])
                    self._carry = data[start:]
                    return n
                if low[end] not in _DELIMS:
                    at = start + 1
                    continue
            if kind == _END_BODY:
                self._end_body(data, pos, start)
                pos, at = start, end
            elif kind == _SCRIPT_START:
                tag_end, state = _skip_tag(data, end, _BEFORE_NAME)
                if self._hosts:
                    if tag_end < 0:
                        # Hold the whole tag back: it may have to be rewritten.
                        self._sink.append(data[pos:start])
                        self._enter_tag(True, _AFTER_SCRIPT, start, n, state)
                        return start
                    if tag_end - start <= self._max_tag:
                        tag = data[start:tag_end]
                        new = self._neutralise(tag)
                        if new is not tag:
                            self._sink.append(data[pos:start])
                            self._sink.append(new)
                            pos = tag_end
                elif tag_end < 0:
                    self._sink.append(data[pos:])
                    self._enter_tag(False, _AFTER_SCRIPT, 0, 0, state)
                    return n
                at = _script_end(low, tag_end)
                if at < 0:
                    self._sink.append(data[pos:tag_end])
                    self._mode = _SCRIPT
                    return tag_end
                # The closing "</script" is plain text from here on (as its ">" is).
            elif kind == _COMMENT_START:
                # Search from the "--" of "<!--" so that "<!-->" and "<!--->" close at once.
                i = data.find(b"-->", start + 2)
                if i < 0:
                    self._sink.append(data[pos : start + 2])
                    self._mode = _COMMENT
                    return start + 2
                at = i + 3
            elif kind == _HEAD_START:
                self._head_state = _IN_TAG
                self._update_rx()
                tag_end, state = _skip_tag(data, end, _BEFORE_NAME)
                if tag_end < 0:
                    self._sink.append(data[pos:])
                    self._enter_tag(False, _AFTER_HEAD, 0, 0, state)
                    return n
                self._sink.append(data[pos:tag_end])
                self._sink.append(self._head)
                self._head_state = _DONE
                self._update_rx()
                pos = at = tag_end
            else:
                # "<body" or "</head" before any "<head": head goes with the body snippet.
                self._head_state = _DEFERRED
                self._update_rx()
                at = end

    def _script(self, data: bytes, low: bytes, pos: int) -> int:
        """Skip script text up to and including the ``</script`` name."""
        end = _script_end(low, pos)
        if end < 0:
            n = len(data)
            k = low.rfind(b"<", max(pos, n - 8))
            if k >= 0 and b"/script".startswith(low[k + 1 :]):
                self._sink.append(data[pos:k])
                self._carry = data[k:]
            else:
                self._sink.append(data[pos:])
            return n
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
            self._sink.append(self._neutralise(data[start:end]))
        if self._tag_after == _AFTER_HEAD:
            self._sink.append(self._head)
            self._head_state = _DONE
            self._update_rx()
            self._mode = _TEXT
        else:
            self._mode = _SCRIPT
        return end

    def _category(self, src: bytes) -> bytes | None:
        """The category of the inert host ``src`` points to, most specific host first."""
        host = _url_host(src)
        while host:
            category = self._hosts.get(host)
            if category is not None:
                return category
            host = host.partition(".")[2]
        return None

    def _neutralise(self, tag: bytes) -> bytes:
        """Rewrite a complete ``<script ...>`` start tag inert if its ``src`` is a tracker."""
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


# --- Content-Security-Policy -------------------------------------------------------------

_CSP_WS = "\t\n\f\r "
_CSP_SPLIT = re.compile(r"[\t\n\f\r ]+")
_NONCE = re.compile(r"'nonce-([A-Za-z0-9+/_=-]+)'", re.IGNORECASE)
#: Directives governing ``<script>`` elements, most specific first (CSP level 3 fallback).
_SCRIPT_DIRECTIVES = ("script-src-elem", "script-src", "default-src")
_HASH_PREFIXES = ("'sha256-", "'sha384-", "'sha512-")


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
