"""The streaming HTML scanner: snippets into whole documents, trackers held back everywhere.

:class:`StreamInjector` reads an HTML byte stream chunk by chunk, as the WHATWG HTML tokenizer
does where it matters (comments with ``--!>``, ``<!-->`` and ``<!--->``; attribute values;
RCDATA ``title``/``textarea``; RAWTEXT ``style``/``xmp``/``iframe``/``noembed``/``noframes``/
``noscript``; script data with its escaped states; ``plaintext``; ``<svg>``/``<math>`` foreign
content with its break-out tags, integration points and the end tags that close it; CDATA in
foreign content; an open ``<select>``, inside which the tree builder of most parsers ignores
those tags: there they are renamed ``consentgate-inert-NAME``, unknown elements every parser
reads alike, and their content is scanned as markup). Where the tree builder's answer depends
on markup opened before the outermost ``<svg>``/``<math>`` (which is not tracked), that content
is closed with explicit end tags first, so the browser pops exactly what the scanner does. It
never buffers the body: only a construct in progress is held back, up to a bound, and a
construct that does not complete within it is made inert (its ``<`` is sent as ``&lt;``, so
the browser reads the rest as text just as the scanner goes on to).

Snippets go only into whole documents (a doctype, ``<html>``, ``<head>`` or ``<body>`` first,
after white space and comments): ``head`` right after ``<head>`` and a ``<meta charset>`` (or
``http-equiv=content-type``) that follows it, or before the first other tag; ``body`` before
the last ``</body``. Fragments, and every stream in ``rewrite_only`` mode, only get trackers
held back (see :class:`consentgate.failclosed.InertHosts`).

Most of a page is consumed by one regex: text, comments, end tags and start tags that neither
switch the tokenizer's state nor carry a URL attribute that could leave the site. Python runs
per tag of interest. The optional C module ``consentgate._scanfast`` returns exactly where
that regex's match ends, faster; the regexes are used when it is not built or when the
environment sets ``CONSENTGATE_PURE_PYTHON=1`` (:data:`ACCELERATED` tells which).
"""

from __future__ import annotations

import html
import os
import re
from collections.abc import Callable, Mapping

from .failclosed import InertHosts, _attributes, _first

__all__ = ["ACCELERATED", "StreamInjector"]

_DATA, _RAW, _SCRIPT, _COMMENT, _PLAINTEXT = range(5)
_PLAIN, _ESCAPED, _DOUBLE = range(3)
_PENDING, _AFTER_HEAD, _DONE = range(3)
_UNDECIDED, _DOCUMENT, _FRAGMENT = range(3)
_HTML, _SVG, _MATH, _MATH_HTML = range(4)
_KNOWN, _UNKNOWN, _CLOSE_AFTER = range(3)

_WS = rb"[\t\n\f\r ]"
_ATTR_NAME = rb"[^\t\n\f\r />][^\t\n\f\r />=]*+"
_VALUE = rb"""(?:"[^"]*+"|'[^']*+'|[^\t\n\f\r >"'][^\t\n\f\r >]*+|(?=>))"""
_ATTR = rb"[\t\n\f\r /]*+" + _ATTR_NAME + _WS + rb"*+(?:=" + _WS + rb"*+" + _VALUE + rb"|(?!=))"
_TAG_END = rb"[\t\n\f\r /]*+>"
_TAG = re.compile(rb"<(/?)([a-zA-Z][^\t\n\f\r />]*+)(?:" + _ATTR + rb")*+" + _TAG_END)


def _ci(name: bytes) -> bytes:
    """``name`` in any ASCII letter case, as explicit classes (faster than ``(?i:…)``)."""
    return b"".join(
        b"[%c%c]" % (c, c - 32) if 0x61 <= c <= 0x7A else re.escape(bytes([c])) for c in name
    )


def _names(*names: bytes) -> bytes:
    return b"(?:" + b"|".join(map(_ci, names)) + b")"


_DELIM = rb"(?=[\t\n\f\r />])"


def _trie(*names: bytes) -> bytes:
    """An alternation of ``names`` (any case) grouped by first letter, each then ending."""
    groups: dict[int, list[bytes]] = {}
    for name in names:
        groups.setdefault(name[0], []).append(name[1:])
    return (
        b"(?:"
        + b"|".join(
            _ci(bytes([first])) + b"(?:" + b"|".join(map(_ci, rests)) + b")"
            for first, rests in groups.items()
        )
        + b")"
    )


#: Attributes whose URL a browser may fetch, on elements other than ``a`` and ``area``.
_FETCH_NAMES = (
    b"src", b"srcset", b"srcdoc", b"href", b"poster", b"ping", b"data", b"background",
    b"imagesrcset", b"xlink:href",
)  # fmt: skip
_FETCH = _trie(*_FETCH_NAMES)
#: URL attributes whose value is plainly relative (no scheme, no authority) stay boring.
_RELATIVE_NAME = _trie(b"src", b"href", b"poster", b"background", b"data")
_RELATIVE_START = rb"(?:[A-Za-z0-9_.~-]++(?=[/?#]|\Z)|/[A-Za-z0-9_.~%-]|[?#])"
_RELATIVE_VALUE = (
    rb'(?:"(?:[A-Za-z0-9_.~-]++(?:[/?#][^"]*+)?|/[A-Za-z0-9_.~%-][^"]*+|[?#][^"]*+)?"'
    rb"|'(?:[A-Za-z0-9_.~-]++(?:[/?#][^']*+)?|/[A-Za-z0-9_.~%-][^']*+|[?#][^']*+)?'"
    rb"|(?:[A-Za-z0-9_.~-]++(?:[/?#][^\t\n\f\r >]*+)?|/[A-Za-z0-9_.~%-][^\t\n\f\r >]*+"
    rb"|[?#][^\t\n\f\r >]*+)(?=[\t\n\f\r >]))"
)


def _relative_attr(names: bytes) -> bytes:
    return names + _WS + rb"*+=" + _WS + rb"*+" + _RELATIVE_VALUE


def _boring_attr(forbidden: bytes, relative_names: bytes = _RELATIVE_NAME) -> bytes:
    plain = rb"(?!" + forbidden + rb"[\t\n\f\r />=])" + _ATTR_NAME
    plain += _WS + rb"*+(?:=" + _WS + rb"*+" + _VALUE + rb"|(?!=))"
    return rb"[\t\n\f\r /]*+(?:" + plain + rb"|" + _relative_attr(relative_names) + rb")"


#: Start tags that switch the tokenizer's state, enter foreign content or open a select.
_SPECIAL = _trie(
    b"script", b"style", b"svg", b"title", b"textarea", b"xmp", b"iframe", b"noembed",
    b"noframes", b"noscript", b"plaintext", b"math", b"select",
)  # fmt: skip
#: Start tags renamed ``consentgate-inert-NAME`` while a select is open (see ``_select_start``).
_SELECT_INERT = frozenset(
    b"style title xmp iframe noembed noframes noscript plaintext svg math".split()
)
_INERT_PREFIX = b"consentgate-inert-"
#: Start tags of interest while a select is open: those above, and what closes or nests it.
_SPECIAL_IN_SELECT = _trie(
    b"script", b"style", b"svg", b"title", b"textarea", b"xmp", b"iframe", b"noembed",
    b"noframes", b"noscript", b"plaintext", b"math", b"select", b"input", b"template",
)  # fmt: skip


def _boring_start(special: bytes) -> bytes:
    return (
        rb"(?!" + special + _DELIM + rb")"
        rb"(?:" + _names(b"a", b"area") + _DELIM + rb"(?:" + _boring_attr(_names(b"ping"))
        + rb")*+|[a-zA-Z][^\t\n\f\r />]*+(?:" + _boring_attr(_FETCH) + rb")*+)" + _TAG_END
    )  # fmt: skip


_BORING_START = _boring_start(_SPECIAL)
_COMMENT_REST = rb"!--(?:>|->|(?:[^-]++|-(?!-!?>))*+--!?>)"
_COMMON = [
    _COMMENT_REST,
    rb"!(?!--|\[CDATA\[)[^>]*+>",  # doctype, bogus comment
    rb"\?[^>]*+>",
    rb"/(?![a-zA-Z])[^>]*+>",
    rb"(?=[^a-zA-Z!/?])",  # a "<" that is text
]


def _scan_regex(alternatives: list[bytes]) -> re.Pattern[bytes]:
    return re.compile(rb"(?:[^<]++|<(?:" + b"|".join(alternatives) + rb"))*+")


#: Everything of interest: every tag (head snippet pending, foreign content).
_RX_ALL = _scan_regex(_COMMON)
#: The commonest tags first: an end tag, a start tag without attributes.
_NO_ATTRIBUTES = rb"(?!" + _SPECIAL + _DELIM + rb")[a-zA-Z][^\t\n\f\r />]*+>"


def _end_tags(but: bytes) -> bytes:
    return rb"/" + but + rb"[a-zA-Z][^\t\n\f\r />]*+(?:>|(?:" + _ATTR + rb")*+" + _TAG_END + rb")"


def _whole_element(name: bytes, start_attrs: bytes, text: bytes, *, group: bool = False) -> bytes:
    """An element ``name`` with a boring start tag, its text up to its end tag, the end tag.

    The text stops at the first ``</name`` + delimiter (the tokenizer's "appropriate end
    tag") or, as an alternative in ``text``, another construct; the element matches only when
    its end tag completes. With ``group`` the text is group 1.
    """
    end = rb"/" + _ci(name) + _DELIM
    body = rb"(?:[^<]++|<(?!" + text + end + rb"))*+"
    return (
        _ci(name) + _DELIM + start_attrs + _TAG_END
        + (b"(" + body + b")" if group else body) + b"<" + end
        + rb"(?:" + _ATTR + rb")*+" + _TAG_END
    )  # fmt: skip


#: Raw-text and RCDATA elements the scanner sends unchanged once no tag before ``</body`` is
#: of interest: a boring start tag (no URL that could leave the site), text, the end tag.
_PLAIN_RAW = [
    _whole_element(name, rb"(?:" + _boring_attr(_FETCH) + rb")*+", b"")
    for name in (b"title", b"style", b"textarea")
]
#: An external script with a relative ``src`` whose text never enters the escaped states (no
#: ``<!--``): sent unchanged too. Its start tag takes boring attributes, one of them ``src``.
_NOT_SRC = _trie(b"href", b"poster", b"background", b"data")
_EXTERNAL_SCRIPT = _whole_element(
    b"script",
    rb"(?:" + _boring_attr(_FETCH, _NOT_SRC) + rb")*+"
    + rb"[\t\n\f\r /]*+" + _relative_attr(_ci(b"src"))
    + rb"(?:" + _boring_attr(_FETCH) + rb")*+",
    rb"!--|",
)  # fmt: skip
#: An inline script (no ``src``, no ``type``: the gate holds its text to judge it) with boring
#: attributes and text that never enters the escaped states, whole; its text is group 1.
_INLINE_SCRIPT = re.compile(
    b"<"
    + _whole_element(
        b"script",
        rb"(?:" + _boring_attr(_trie(*_FETCH_NAMES, b"type"), _NOT_SRC) + rb")*+",
        rb"!--|",
        group=True,
    )
)
#: Boring tags and elements skipped; ``</body`` of interest.
_RX_BODY = _scan_regex(
    [_end_tags(rb"(?!" + _names(b"body") + _DELIM + rb")"), _NO_ATTRIBUTES, _BORING_START,
     *_PLAIN_RAW, _EXTERNAL_SCRIPT, *_COMMON]
)  # fmt: skip
#: Boring tags and elements skipped; no end tag of interest.
_RX_PLAIN = _scan_regex(
    [_end_tags(b""), _NO_ATTRIBUTES, _BORING_START, *_PLAIN_RAW, _EXTERNAL_SCRIPT, *_COMMON]
)
_LEAD_SKIP = rb"(?:[^<]++|<(?:" + b"|".join(_COMMON) + rb"))*+"
#: A document's start up to its ``<head>`` start tag, with a ``<meta charset>`` right after it
#: (group ``meta``): what the scanner would pass through token by token before the head
#: snippet, in one match (an ``<html>`` start tag only when boring, as the gate leaves it).
_PROLOGUE = re.compile(
    _LEAD_SKIP
    + rb"(?:<" + _ci(b"html") + _DELIM + rb"(?:" + _boring_attr(_FETCH) + rb")*+" + _TAG_END
    + _LEAD_SKIP + rb")?"
    + rb"<" + _ci(b"head") + _DELIM + rb"(?:" + _ATTR + rb")*+" + _TAG_END
    + rb"(?P<meta>" + _WS + rb"*+<" + _ci(b"meta") + rb"[\t\n\f\r /]++" + _ci(b"charset")
    + _WS + rb"*+=" + _WS + rb"*+" + _VALUE + rb"[\t\n\f\r /]*+>)?"
)  # fmt: skip
#: A select open: ``</body``, the tags that close or nest it, and those it renames of interest.
_RX_SELECT = _scan_regex(
    [
        _end_tags(
            rb"(?!" + _names(b"body", b"select", b"template", *sorted(_SELECT_INERT)) + _DELIM
            + rb")"
        ),
        rb"(?!" + _SPECIAL_IN_SELECT + _DELIM + rb")[a-zA-Z][^\t\n\f\r />]*+>",
        _boring_start(_SPECIAL_IN_SELECT),
        *_COMMON,
    ]
)  # fmt: skip
#: The skip regexes by kind, as the C module numbers them (none: no tag is of interest).
_RX = (_RX_ALL, _RX_BODY, _RX_PLAIN, _RX_SELECT)
_SKIP_ALL, _SKIP_BODY, _SKIP_PLAIN, _SKIP_SELECT = range(4)


def _regex_end(data: bytes, pos: int, kind: int) -> int:
    """Where the bytes that ``_RX[kind]`` skips from ``pos`` end (the reference)."""
    return _RX[kind].match(data, pos).end()  # type: ignore[union-attr]


def _regex_inline(data: bytes, pos: int) -> tuple[int, int, int] | None:
    """``_INLINE_SCRIPT`` at ``pos``: its text's start and end, and its end (the reference)."""
    m = _INLINE_SCRIPT.match(data, pos)
    return None if m is None else (m.start(1), m.end(1), m.end())


_Skip = Callable[[bytes, int, int], int]
_Inline = Callable[[bytes, int], "tuple[int, int, int] | None"]


def _accelerator() -> tuple[_Skip, _Inline] | None:
    if os.environ.get("CONSENTGATE_PURE_PYTHON") == "1":
        return None
    try:
        from ._scanfast import boring_end, inline_script
    except ImportError:
        return None
    return boring_end, inline_script


_fast = _accelerator()
#: Whether the C skip is in use (False: the regexes, by choice or because it is not built).
ACCELERATED = _fast is not None
_boring_end, _inline_script = _fast or (_regex_end, _regex_inline)

_COMMENT_CLOSE = re.compile(rb"--!?>")
_CDATA_CLOSE = re.compile(rb"\]\]>")
_COMPLETE_COMMENT = re.compile(b"<" + _COMMENT_REST)
_SCRIPT_RX = {
    _PLAIN: re.compile(rb"<!--|</(?i:script)" + _DELIM),
    _ESCAPED: re.compile(rb"-->|</(?i:script)" + _DELIM + rb"|<(?i:script)[\t\n\f\r />]"),
    _DOUBLE: re.compile(rb"-->|</(?i:script)[\t\n\f\r />]"),
}
_RAW_NAMES = frozenset(
    {b"style", b"title", b"textarea", b"xmp", b"iframe", b"noembed", b"noframes", b"noscript"}
)
_RAW_END = {name: re.compile(b"</(?i:" + name + b")" + _DELIM) for name in _RAW_NAMES}
_BREAKOUT = frozenset(
    b"b big blockquote body br center code dd div dl dt em embed h1 h2 h3 h4 h5 h6 head hr i "
    b"img li listing menu meta nobr ol p pre ruby s small span strong strike sub sup table tt "
    b"u ul var".split()
)
_VOID = frozenset(
    b"area base basefont bgsound br col embed frame hr image img input keygen link meta param "
    b"source track wbr".split()
)
_SVG_HTML_POINTS = frozenset({b"foreignobject", b"desc", b"title"})
_MATH_TEXT_POINTS = frozenset({b"mi", b"mo", b"mn", b"ms", b"mtext"})
#: HTML elements that bound "an element in scope" (the foreign integration points do too).
_SCOPE_LIMITS = frozenset(b"applet caption html table td th marquee object template".split())
#: HTML elements of the "special" category: an unmatched end tag is ignored when it meets one.
_SPECIAL_HTML = frozenset(
    b"address applet area article aside base basefont bgsound blockquote body br button caption "
    b"center col colgroup dd details dir div dl dt embed fieldset figcaption figure footer form "
    b"frame frameset h1 h2 h3 h4 h5 h6 head header hgroup hr html iframe img input keygen li link "
    b"listing main marquee menu meta nav noembed noframes noscript object ol p param plaintext "
    b"pre script search section select source style summary table tbody td template textarea "
    b"tfoot th thead title tr track ul wbr xmp".split()
)
#: End tags that close the element of their name when it is in scope ("in body").
_SCOPED_END = frozenset(
    b"address applet article aside blockquote button center details dialog dir div dl dd dt "
    b"fieldset figcaption figure footer header hgroup listing main marquee menu nav object ol "
    b"pre search section summary template ul".split()
)
#: Start tags that close an open ``p`` first.
_CLOSES_P = frozenset(
    b"address article aside blockquote center dd details dialog dir div dl dt fieldset "
    b"figcaption figure footer form h1 h2 h3 h4 h5 h6 header hgroup hr li listing main menu nav "
    b"ol p plaintext pre search section summary ul xmp".split()
)
_HEADINGS = frozenset(b"h1 h2 h3 h4 h5 h6".split())
_FORMATTING = frozenset(b"a b big code em font i nobr s small strike strong tt u".split())
_TABLE_PARTS = frozenset(b"caption col colgroup tbody td tfoot th thead tr".split())
#: Start tags that never open an element of their own in the body.
_NOT_OPENED = frozenset({b"html", b"head", b"body", b"frameset"})
_LEAD = re.compile(rb"(?:\xef\xbb\xbf)?(?:[\t\n\f\r ]++|<" + _COMMENT_REST + rb"|<\?[^>]*+>)*+")
_DOC_START = re.compile(rb"<(?:!(?i:doctype)|(?i:html|head|body)" + _DELIM + rb")")
_LEAD_MAX = 4096
_SPACE = re.compile(rb"[\t\n\f\r ]*+")
_META = re.compile(rb"<(?i:meta)[\t\n\f\r />]")
_MAX_STACK = 512


class StreamInjector:
    """Inserts snippets into an HTML byte stream and holds trackers back, chunk by chunk.

    * Snippets go only into whole documents (see the module's docstring); with
      ``rewrite_only`` never. ``head`` goes right after the first ``<head ...>`` start tag and
      a ``<meta charset>`` / ``<meta http-equiv=content-type>`` right after it, else before
      the first other tag; ``body`` right before the last ``</body``. The ``</body`` hold is
      bounded: when ``max_tag`` bytes have passed since a held ``</body`` without another one,
      ``body`` is committed there. Without any ``</body``, :meth:`finish` appends what is
      still pending. Snippets are inserted verbatim, never scanned.
    * With ``inert_hosts``, every form that would reach a held-back tracker is made inert
      (:class:`~consentgate.failclosed.InertHosts`): ``<script src>`` and inline loader
      scripts become ``type="text/plain" data-consentgate-category="…"``; URL attributes are
      renamed ``data-consentgate-…``; ``<noscript>`` content that would reach one is dropped;
      iframes of embed providers become click-to-load placeholders.
    * A construct that does not complete within ``max_tag`` bytes (a tag, a comment opener,
      an end tag), or that is cut by the end of the stream, is made inert: its ``<`` is sent
      as ``&lt;``. An inline script or ``<noscript>`` longer than ``max_hold`` cannot be
      judged: the script is sent inert with no category (it never runs), the noscript
      content is dropped.

    The output does not depend on how the stream is cut into chunks.
    """

    __slots__ = (
        "_at",
        "_base",
        "_body",
        "_body_done",
        "_carry",
        "_close_after",
        "_depth",
        "_discard",
        "_doc",
        "_finished",
        "_gate",
        "_head",
        "_head_state",
        "_held_at",
        "_hold",
        "_hold_size",
        "_hold_tag",
        "_lead",
        "_max_hold",
        "_max_tag",
        "_mode",
        "_out",
        "_raw_name",
        "_rx",
        "_script_state",
        "_select",
        "_select_templates",
        "_sink",
        "_stack",
        "_tail",
        "_terminator",
    )

    def __init__(
        self,
        head: bytes,
        body: bytes,
        *,
        inert_hosts: Mapping[str, str] | InertHosts | None = None,
        max_tag: int = 8192,
        max_hold: int = 256 << 10,
        rewrite_only: bool = False,
        _depth: int = 0,
    ) -> None:
        """Prepare to inject ``head`` and ``body`` and hold back ``inert_hosts``.

        ``inert_hosts`` is an :class:`~consentgate.failclosed.InertHosts` (used as is) or a
        mapping of host to category (converted). ``max_tag`` (at least 16) bounds what is
        held back for a tag or token, ``max_hold`` what is held for an inline script or a
        ``<noscript>`` being judged.
        """
        if max_tag < 16:
            raise ValueError("max_tag must be at least 16")
        self._head = bytes(head)
        self._body = bytes(body)
        self._max_tag = max_tag
        self._max_hold = max(max_hold, max_tag)
        if inert_hosts is not None and not isinstance(inert_hosts, InertHosts):
            inert_hosts = InertHosts(inert_hosts)
        self._gate = inert_hosts if inert_hosts else None
        self._depth = _depth
        self._mode = _DATA
        self._doc = _FRAGMENT if rewrite_only else _UNDECIDED
        self._head_state = _DONE if rewrite_only else _PENDING
        self._body_done = rewrite_only
        self._finished = False
        self._carry = b""
        self._base = 0
        self._out: list[bytes] = []
        self._sink = self._out
        self._tail: list[bytes] | None = None
        self._held_at = 0
        self._at = 0
        self._lead = b""
        self._stack: list[tuple[bytes, int]] = []
        self._hold: list[bytes] | None = None
        self._hold_size = 0
        self._hold_tag = b""
        self._discard = False
        self._raw_name = b""
        self._close_after = b""
        self._script_state = _PLAIN
        self._select = False
        self._select_templates = 0
        self._terminator: re.Pattern[bytes] = _COMMENT_CLOSE
        self._rx: int | None = _SKIP_ALL
        self._update_rx()

    # -- public ------------------------------------------------------------------------------

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
        """``feed(chunk) + finish()`` (a body sent in one message)."""
        self._scan(chunk)
        self._close()
        return self._drain()

    @property
    def is_document(self) -> bool | None:
        """Whether the stream is a whole document; ``None`` while undecided."""
        return None if self._doc == _UNDECIDED else self._doc == _DOCUMENT

    # -- driving -----------------------------------------------------------------------------

    def _scan(self, chunk: bytes) -> None:
        if self._finished:
            raise RuntimeError("feed() after finish()")
        if self._doc == _UNDECIDED:
            self._decide(chunk, final=False)
        data = self._carry + chunk if self._carry else bytes(chunk)
        self._carry = b""
        if self._rx is None and self._mode == _DATA:
            self._sink.append(data)
            self._base += len(data)
            return
        n = len(data)
        pos = 0
        while pos < n:
            mode = self._mode
            if mode == _DATA:
                pos = self._data(data, pos)
            elif mode == _RAW:
                pos = self._raw(data, pos)
            elif mode == _SCRIPT:
                pos = self._script(data, pos)
            elif mode == _COMMENT:
                pos = self._comment(data, pos)
            else:
                self._sink.append(data[pos:])
                pos = n
        self._base += n - len(self._carry)
        if self._tail is not None and self._base - self._held_at > self._max_tag:
            self._commit()

    def _decide(self, chunk: bytes, *, final: bool) -> None:
        """Tell a whole document from a fragment by what comes first."""
        # The first _LEAD_MAX bytes decide (read in place: most documents decide at once).
        lead = self._lead + chunk if self._lead else chunk
        start = _LEAD.match(lead, 0, _LEAD_MAX).end()  # type: ignore[union-attr]
        if _DOC_START.match(lead, start, _LEAD_MAX):
            self._doc = _DOCUMENT
        elif (
            final
            or len(lead) >= _LEAD_MAX
            or not _may_start_document(bytes(lead[start : start + 16]))
        ):
            self._doc = _FRAGMENT
        else:
            self._lead = bytes(lead)
            return
        self._lead = b""
        if self._doc == _FRAGMENT:
            self._head_state = _DONE
            self._body_done = True
        self._update_rx()

    def _close(self) -> None:
        self._finished = True
        if self._doc == _UNDECIDED:
            self._decide(b"", final=True)
        carry, self._carry = self._carry, b""
        if carry:
            if self._mode == _DATA and carry.startswith(b"<"):
                # Cut by the end of the stream: inert, so that nothing appended completes it.
                carry = b"&lt;" + carry[1:]
            self._text(carry)
        if self._hold is not None:
            self._release_hold()
        out = self._out
        if not self._body_done:
            if self._tail is None:
                self._close_select()
            out.append(self._body if self._head_state == _DONE else self._head + self._body)
            self._head_state = _DONE
            self._body_done = True
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
        doc = self._doc
        if doc == _UNDECIDED or self._stack or (doc == _DOCUMENT and self._head_state != _DONE):
            self._rx = _SKIP_ALL
        elif self._select:
            self._rx = _SKIP_SELECT
        elif doc == _DOCUMENT and not self._body_done:
            self._rx = _SKIP_BODY
        elif self._gate is not None:
            self._rx = _SKIP_PLAIN
        else:
            self._rx = None

    def _text(self, data: bytes) -> None:
        """Send (or hold, or drop) element text."""
        if self._hold is not None:
            self._hold.append(data)
            self._hold_size += len(data)
            if self._hold_size > self._max_hold:
                self._overflow()
        elif not self._discard:
            self._sink.append(data)

    # -- data state --------------------------------------------------------------------------

    def _data(self, data: bytes, pos: int) -> int:
        n = len(data)
        while True:
            head_state = self._head_state
            if head_state == _AFTER_HEAD:
                pos = self._after_head(data, pos)
                if pos < 0:
                    return n
            elif head_state == _PENDING and self._doc == _DOCUMENT and not self._stack:
                m = _PROLOGUE.match(data, pos)
                if m is not None:
                    pos = m.end()
                    self._sink.append(data[m.pos : pos])
                    if m.start("meta") < 0:
                        self._head_state = _AFTER_HEAD
                        continue
                    self._sink.append(self._head)
                    self._done_head()
            rx = self._rx
            if rx is None:
                self._sink.append(data[pos:])
                return n
            i = _boring_end(data, pos, rx)
            if i > pos:
                self._sink.append(data[pos:i])
            if i >= n:
                return n
            if rx in (_SKIP_BODY, _SKIP_PLAIN) and data[i + 1 : i + 2] in b"sS":
                found = _inline_script(data, i)
                if found is not None and found[1] - found[0] <= self._max_hold:
                    # Held and judged whole, as the tag-by-tag path would.
                    start, stop, pos = found
                    self._sink += (self._judged(data[i:start], data[start:stop]), data[start:pos])
                    continue
            self._at = self._base + i
            end = self._token(data, i)
            if end < 0:
                if n - i > self._max_tag:
                    self._sink.append(b"&lt;")
                    pos = i + 1
                    continue
                self._carry = data[i:]
                return n
            pos = end
            if self._mode != _DATA:
                return pos

    def _token(self, data: bytes, i: int) -> int:
        """Handle the construct at ``data[i] == "<"``; its end, or -1 when it is incomplete."""
        c = data[i + 1 : i + 2]
        if not c:
            return -1
        if c == b"!":
            if data.startswith(b"<!--", i):
                return self._comment_start(data, i)
            if self._stack and not self._html_context(False, b""):
                if data.startswith(b"<![CDATA[", i):
                    return self._cdata_start(data, i)
                if b"<![CDATA[".startswith(data[i : i + 9]):
                    return -1
            if len(data) - i < 4 and b"<!--".startswith(data[i:]):
                return -1
            return self._bogus(data, i)
        if c == b"?":
            return self._bogus(data, i)
        if c == b"/":
            d = data[i + 2 : i + 3]
            if not d:
                return -1
            if not d.isalpha():
                return self._bogus(data, i)
        elif not c.isalpha():
            self._sink.append(b"<")
            return i + 1
        m = _TAG.match(data, i)
        if m is None:
            return -1
        tag = m.group(0)
        name = m.group(2).lower()
        if m.group(1):
            self._end_tag(tag, name)
        else:
            self._start_tag(tag, name)
        return m.end()

    def _after_head(self, data: bytes, pos: int) -> int:
        """Right after ``<head>``: the head snippet goes here unless a ``<meta>`` follows.

        Returns where to go on, or -1 (the rest carried) when the data ends too soon to tell.
        """
        j = _SPACE.match(data, pos).end()  # type: ignore[union-attr]
        rest = data[j : j + 6]
        short = len(rest) < 6 and len(data) - pos < self._max_tag
        if short and b"<meta ".startswith(rest.lower()):
            self._carry = data[pos:]
            return -1
        if _META.match(rest) is None:
            self._sink += (data[pos:j], self._head)
            self._done_head()
            return j
        return pos

    def _bogus(self, data: bytes, i: int) -> int:
        j = data.find(b">", i)
        if j < 0:
            return -1
        self._sink.append(data[i : j + 1])
        return j + 1

    def _comment_start(self, data: bytes, i: int) -> int:
        m = _COMPLETE_COMMENT.match(data, i)
        if m is not None:
            self._sink.append(m.group(0))
            return m.end()
        if len(data) - i < 6:
            return -1  # "<!-->" and "<!--->" close at once: wait for two more bytes
        self._sink.append(data[i : i + 4])
        self._mode = _COMMENT
        self._terminator = _COMMENT_CLOSE
        return i + 4

    def _cdata_start(self, data: bytes, i: int) -> int:
        self._sink.append(data[i : i + 9])
        self._mode = _COMMENT
        self._terminator = _CDATA_CLOSE
        return i + 9

    def _comment(self, data: bytes, pos: int) -> int:
        m = self._terminator.search(data, pos)
        if m is None:
            n = len(data)
            keep = max(pos, n - 3)
            self._sink.append(data[pos:keep])
            self._carry = data[keep:]
            return n
        self._sink.append(data[pos : m.end()])
        self._mode = _DATA
        return m.end()

    # -- tags --------------------------------------------------------------------------------

    def _html_context(self, start: bool, name: bytes) -> bool:
        """Whether a token is read by the HTML rules (not as foreign content)."""
        stack = self._stack
        if not stack:
            return True
        top, ns = stack[-1]
        if ns == _HTML:
            return True
        if not start:
            return False  # end tags and CDATA at an integration point are foreign content's
        if ns == _MATH_HTML:
            return True
        if ns == _SVG:
            return top in _SVG_HTML_POINTS
        if top in _MATH_TEXT_POINTS:
            return name not in (b"mglyph", b"malignmark")
        return top == b"annotation-xml" and name == b"svg"

    def _head_snippet(self, tag: bytes, name: bytes, start: bool) -> bool:
        """Insert the pending head snippet around this tag; True when the tag is sent too."""
        if self._head_state == _PENDING and start and name == b"head":
            self._sink.append(tag)
            self._head_state = _AFTER_HEAD
            return True
        if self._head_state == _PENDING and start and name == b"html":
            return False
        if start and name == b"meta" and _declares_charset(tag):
            self._sink += (tag, self._head)
            self._done_head()
            return True
        self._sink.append(self._head)
        self._done_head()
        return False

    def _done_head(self) -> None:
        self._head_state = _DONE
        self._update_rx()

    def _start_tag(self, tag: bytes, name: bytes) -> None:
        head = self._doc == _DOCUMENT and self._head_state != _DONE and not self._stack
        if head and self._head_snippet(tag, name, True):
            return
        if self._select and self._select_start(name):
            tag = tag[:1] + _INERT_PREFIX + tag[1:]
            name = _INERT_PREFIX + name
        stack = self._stack
        if stack and not self._html_context(True, name):
            if name in _BREAKOUT or (name == b"font" and _font_breaks_out(tag)):
                while stack and not self._html_context(True, name):
                    stack.pop()
                if not stack:
                    self._update_rx()
            else:
                self._foreign_start(tag, name)
                return
        if stack:
            if name == b"select" and self._gate is not None:
                self._close_foreign()  # see _select_start
            else:
                self._html_opens(name)
        self._html_start(tag, name)
        if name == b"select" and self._gate is not None and not self._select:
            self._select = True
            self._select_templates = 0
            self._update_rx()

    def _foreign_start(self, tag: bytes, name: bytes) -> None:
        gate = self._gate
        new = gate.start_tag(tag, name, foreign=True).tag if gate is not None else b""
        self._sink.append(new or tag)
        _, self_closing = _attributes(tag, 1 + len(name))
        if not self_closing:
            ns = self._stack[-1][1]
            if name == b"annotation-xml" and ns == _MATH and _html_annotation(tag):
                ns = _MATH_HTML
            self._push(name, ns)

    def _push(self, name: bytes, ns: int) -> None:
        stack = self._stack
        if len(stack) < _MAX_STACK:
            stack.append((name, ns))
            if len(stack) == 1:
                self._update_rx()

    def _html_start(self, tag: bytes, name: bytes) -> None:
        gate = self._gate
        rewrite = gate.start_tag(tag, name, foreign=False) if gate is not None else None
        if name == b"svg" or name == b"math":
            self._sink.append(rewrite.tag or tag if rewrite is not None else tag)
            if not _attributes(tag, 1 + len(name))[1]:
                self._push(name, _SVG if name == b"svg" else _MATH)
            return
        if self._stack and name not in _VOID and name not in _NOT_OPENED:
            self._push(name, _HTML)
        if name == b"script":
            self._mode = _SCRIPT
            self._script_state = _PLAIN
            if rewrite is not None and rewrite.hold:
                self._start_hold(tag)
            else:
                self._sink.append(rewrite.tag or tag if rewrite is not None else tag)
            return
        self._sink.append(rewrite.tag or tag if rewrite is not None else tag)
        if name in _RAW_NAMES:
            self._mode = _RAW
            self._raw_name = name
            self._close_after = rewrite.close if rewrite is not None else b""
            if name == b"noscript" and gate is not None:
                self._start_hold(b"")
        elif name == b"plaintext":
            self._mode = _PLAINTEXT

    def _end_tag(self, tag: bytes, name: bytes) -> None:
        if self._select:
            tag = self._select_end(tag, name)
        after = self._foreign_end(name) if self._stack else _KNOWN
        if self._doc == _DOCUMENT and not self._stack:
            if self._head_state != _DONE:
                self._head_snippet(tag, name, False)
            if name == b"body" and not self._body_done:
                self._end_body(tag)
                return
        self._sink.append(tag)
        if after == _CLOSE_AFTER:
            self._close_foreign()

    # -- an open select ------------------------------------------------------------------
    #
    # Inside a select the tree builder's "in select" insertion mode (html5lib, and browsers
    # before the customizable select) ignores most start tags, among them style, title, xmp,
    # iframe, noembed, noframes, noscript, plaintext, svg and math: their content stays in the
    # data state, markup, where a parser without that mode reads RAWTEXT, RCDATA or foreign
    # content. Both read an unknown element alike, so while a select is open these are renamed
    # consentgate-inert-NAME (attributes kept, URL attributes held back as usual; their end
    # tags renamed too) and their content is scanned as markup. Tracked only with trackers to
    # hold back (the rename changes nothing otherwise worth it).
    #
    # The scanner's select must never be closed while the parser's is open; one open longer
    # than the parser's only renames more. So it opens with an HTML <select> start tag (with
    # foreign content open, at an integration point, the foreign content is closed first: a
    # select is never tracked inside it, and inside a select svg and math are renamed, so
    # foreign content never opens) and closes only where every parser closes it:
    #
    # * ``</select>``, and a textarea or input start tag (the parser closes the select and
    #   reads the tag again outside; textarea is RCDATA either way);
    # * not inside a template opened inside the select (the template's rules apply there, and
    #   only its ``</template>`` pops it), counted: nothing closes the select until every such
    #   template is closed;
    # * not a keygen start tag (not every parser still knows it), nor a ``<select>`` start tag
    #   (it closes the open select, but opens one where the parser's was already closed by
    #   what is not tracked: a table part or table end tag in a table, the ``</template>`` of
    #   a template opened before the select), nor any of those: the select stays open.

    def _select_start(self, name: bytes) -> bool:
        """A start tag with a select open: True when it is to be renamed."""
        if name in _SELECT_INERT:
            return True
        if name == b"template":
            self._select_templates += 1
        elif name in (b"textarea", b"input"):
            self._leave_select()
        return False

    def _select_end(self, tag: bytes, name: bytes) -> bytes:
        """An end tag with a select open: the tag to send (renamed like its start tag)."""
        if name in _SELECT_INERT:
            return tag[:2] + _INERT_PREFIX + tag[2:]
        if name == b"template":
            if self._select_templates:
                self._select_templates -= 1
        elif name == b"select":
            self._leave_select()
        return tag

    def _leave_select(self) -> bool:
        """The select closes, unless a template opened inside it is still open."""
        if self._select_templates:
            return False
        self._select = False
        self._update_rx()
        return True

    # -- the open elements of foreign content ----------------------------------------------
    #
    # The stack holds what is open from the outermost <svg>/<math> on, HTML elements inside
    # integration points included; what is open below it is not tracked, nor is the list of
    # active formatting elements. When a token's effect would depend on them (an end tag that
    # no tracked element answers, a table part or a table end whose table may be outside, a
    # formatting element popped that the parser would reopen), every tracked element is
    # closed with explicit end tags (before the token, or after it when it closes the table):
    # the parser then pops exactly them, and reads what follows as HTML, as the scanner does.

    def _foreign_end(self, name: bytes) -> int:
        """An end tag with foreign content open: pop what the parser pops.

        Returns ``_CLOSE_AFTER`` when every tracked element is to be closed after the tag.
        """
        stack = self._stack
        if stack[-1][1] == _HTML:
            outcome = self._html_end(name)
        elif name in (b"br", b"p"):
            while stack and not self._html_context(True, name):
                stack.pop()
            outcome = self._html_end(name) if stack else _KNOWN
        else:
            outcome = _UNKNOWN
            for k in range(len(stack) - 1, -1, -1):
                if stack[k][0] == name:
                    del stack[k:]
                    outcome = _KNOWN
                    break
                if k and stack[k - 1][1] == _HTML:
                    outcome = self._html_end(name)
                    break
        if outcome == _UNKNOWN:
            self._close_foreign()
        elif not stack:
            self._update_rx()
        return outcome

    def _html_end(self, name: bytes) -> int:
        """An end tag read by the HTML rules ("in body") with foreign content open.

        Pops what the parser pops, or returns ``_UNKNOWN`` when the tracked elements cannot
        tell (nothing popped), ``_CLOSE_AFTER`` when it closes the outermost tracked table.
        """
        if name == b"br":
            return _KNOWN  # read as <br>
        if name in _TABLE_PARTS or name == b"table":
            k = self._in_table(name)
            if k is None:
                return _KNOWN  # ignored by the tracked table
            if k < 0 or not self._pop_to(k):
                return _UNKNOWN
            if name == b"table" and self._in_table(b"table") == -1:
                # In a table outside, its <table> start tag has closed the foreign content.
                return _CLOSE_AFTER
            return _KNOWN
        stack = self._stack
        if name == b"p":
            k = self._in_scope(name, b"button")
        elif name == b"li":
            k = self._in_scope(name, b"ol", b"ul")
        elif name in _HEADINGS:
            k = self._in_scope(*_HEADINGS)
        elif name in _SCOPED_END or name in _FORMATTING or name in (b"form", b"body", b"html"):
            k = self._in_scope(name)
            if (
                name in _FORMATTING
                and k is not None
                and k >= 0
                and any(_special(n, ns) for n, ns in stack[k + 1 :])
            ):
                return _UNKNOWN  # the adoption agency moves elements about
        else:
            for k in range(len(stack) - 1, -1, -1):
                n, ns = stack[k]
                if ns == _HTML and n == name:
                    return _KNOWN if self._pop_to(k) else _UNKNOWN
                if _special(n, ns):
                    # Ignored; an older parser goes on past an integration point other than
                    # foreignObject (not special to it): close everything, both then agree.
                    return _KNOWN if ns == _HTML or n == b"foreignobject" else _UNKNOWN
            return _UNKNOWN
        if k is None:
            return _KNOWN  # not in scope: ignored
        if k < 0:
            return _UNKNOWN
        if name == b"form":
            del stack[k]  # the form alone leaves the stack
            return _KNOWN
        return _KNOWN if self._pop_to(k) else _UNKNOWN

    def _html_opens(self, name: bytes) -> None:
        """Before an HTML start tag with foreign content open: close what the parser closes."""
        stack = self._stack
        if name in _TABLE_PARTS and self._in_table(b"table") == -1:
            # In body the parser ignores them, in a table outside they close everything.
            self._close_foreign()
            return
        if name in (b"li", b"dd", b"dt"):
            names = (b"li",) if name == b"li" else (b"dd", b"dt")
            for i in range(len(stack) - 1, -1, -1):
                n, ns = stack[i]
                if ns == _HTML and n in names:
                    if not self._pop_to(i):
                        self._close_foreign()
                        return
                    break
                if _special(n, ns) and not (ns == _HTML and n in (b"address", b"div", b"p")):
                    break
        k: int | None = None
        if name in _CLOSES_P:
            k = self._in_scope(b"p", b"button")
        elif name == b"button":
            k = self._in_scope(b"button")
        if k is not None and (k < 0 or not self._pop_to(k)):
            self._close_foreign()
            return
        top, ns = stack[-1] if stack else (b"", _SVG)
        if ns == _HTML and (
            (name in _HEADINGS and top in _HEADINGS)
            or (name in (b"option", b"optgroup") and top == b"option")
        ):
            stack.pop()
        if not stack:
            self._update_rx()

    def _pop_to(self, k: int) -> bool:
        """Pop the tracked elements from ``k`` on, unless a formatting element above ``k``
        would be popped (the parser reopens it later, which is not tracked)."""
        stack = self._stack
        if any(ns == _HTML and n in _FORMATTING for n, ns in stack[k + 1 :]):
            return False
        del stack[k:]
        return True

    def _in_scope(self, *names: bytes) -> int | None:
        """Where the nearest open HTML element named ``names[0]`` (any of ``names`` for the
        headings) is when it is in scope, ``names[1:]`` bounding the scope too (button, list
        item scopes); None when it is not in scope, -1 when the tracked elements cannot tell."""
        stack = self._stack
        wanted = names if names[0] in _HEADINGS else names[:1]
        limits = () if names[0] in _HEADINGS else names[1:]
        for k in range(len(stack) - 1, -1, -1):
            n, ns = stack[k]
            if ns == _HTML and n in wanted:
                return k
            if _scope_limit(n, ns) or (ns == _HTML and n in limits):
                return None
        return -1

    def _in_table(self, name: bytes) -> int | None:
        """Where the open element ``name`` is when it is in table scope; None when a tracked
        table (or template) bounds the scope first, -1 when no tracked one does."""
        stack = self._stack
        for k in range(len(stack) - 1, -1, -1):
            n, ns = stack[k]
            if ns == _HTML and n == name:
                return k
            if ns == _HTML and n in (b"table", b"template"):
                return None
        return -1

    def _close_foreign(self) -> None:
        """Close every tracked element with explicit end tags (innermost first)."""
        stack = self._stack
        self._sink.append(b"".join(b"</" + n + b">" for n, _ in reversed(stack)))
        stack.clear()
        self._update_rx()

    # -- the body snippet ----------------------------------------------------------------------

    def _end_body(self, tag: bytes) -> None:
        """A ``</body`` end tag: hold the stream from here until a later one or the bound."""
        at = self._at
        tail = self._tail
        if tail is not None:
            if at - self._held_at > self._max_tag:
                self._commit()
                self._sink.append(tag)
                return
            self._out.extend(tail)
            tail.clear()
        self._close_select()
        if tail is None:
            self._tail = tail = []
            self._sink = tail
        self._held_at = at
        tail.append(tag)

    def _close_select(self) -> None:
        """Before the body snippet: a select left open is closed, lest the snippet land in it
        (a parser with the "in select" mode would drop most of its tags)."""
        if self._select and self._leave_select():
            self._out.append(b"</select>")

    def _commit(self) -> None:
        snippet = self._body if self._head_state == _DONE else self._head + self._body
        self._head_state = _DONE
        self._out.append(snippet)
        if self._tail is not None:
            self._out.extend(self._tail)
            self._tail = None
            self._sink = self._out
        self._body_done = True
        self._update_rx()

    # -- element text ----------------------------------------------------------------------

    def _raw(self, data: bytes, pos: int) -> int:
        """RCDATA/RAWTEXT text up to the element's end tag."""
        m = _RAW_END[self._raw_name].search(data, pos)
        n = len(data)
        if m is None:
            keep = max(pos, n - len(self._raw_name) - 2)
            k = data.rfind(b"<", keep)
            keep = k if k >= 0 else n
            self._text(data[pos:keep])
            self._carry = data[keep:]
            return n
        return self._element_end(data, pos, m.start())

    def _element_end(self, data: bytes, pos: int, k: int) -> int:
        """The end tag at ``k`` closes the raw or script element (text from ``pos``)."""
        m = _TAG.match(data, k)
        n = len(data)
        if m is None:
            self._text(data[pos:k])
            if n - k > self._max_tag:
                self._text(b"&lt;")
                return k + 1
            self._carry = data[k:]
            return n
        self._text(data[pos:k])
        self._at = self._base + k
        if self._hold is not None:
            self._release_hold()
        self._discard = False
        self._mode = _DATA
        self._end_tag(m.group(0), m.group(2).lower())
        if self._close_after:
            self._sink.append(self._close_after)
            self._close_after = b""
        return m.end()

    def _script(self, data: bytes, pos: int) -> int:
        """Script data, with its escaped and double-escaped states."""
        n = len(data)
        while True:
            state = self._script_state
            m = _SCRIPT_RX[state].search(data, pos)
            if m is None:
                keep = max(pos, n - 9)
                self._text(data[pos:keep])
                self._carry = data[keep:]
                return n
            token = m.group(0)
            if token.startswith(b"</"):
                if state == _DOUBLE:
                    self._script_state = _ESCAPED
                else:
                    return self._element_end(data, pos, m.start())
            elif token == b"<!--":
                self._script_state = _ESCAPED
                # "<!-->" leaves the escape at once: look for "-->" from the dashes on.
                self._text(data[pos : m.start() + 2])
                pos = m.start() + 2
                continue
            elif token == b"-->":
                self._script_state = _PLAIN
            else:
                self._script_state = _DOUBLE
            self._text(data[pos : m.end()])
            pos = m.end()

    # -- holding an element's text to judge it ---------------------------------------------

    def _start_hold(self, tag: bytes) -> None:
        self._hold = []
        self._hold_size = 0
        self._hold_tag = tag

    def _overflow(self) -> None:
        """Too much to judge: an inline script goes inert, noscript content is dropped."""
        held, self._hold = self._hold or [], None
        if self._hold_tag:
            self._sink.append(InertHosts.inert_script(self._hold_tag, None, b""))
            self._sink += held
        else:
            self._discard = True

    def _release_hold(self) -> None:
        held, self._hold = self._hold or [], None
        text = b"".join(held)
        gate = self._gate
        assert gate is not None
        if self._hold_tag:
            self._sink += (self._judged(self._hold_tag, text), text)
        elif self._depth < 4 and self._judged_clean(text, gate):
            self._sink.append(text)

    def _judged(self, tag: bytes, text: bytes) -> bytes:
        """An inline script's start tag once its text is judged: inert, with the categories of
        the held-back trackers the text names, if it names any."""
        gate = self._gate
        categories = None if gate is None else gate.categories_in_text(text)
        return tag if categories is None else InertHosts.inert_script(tag, None, categories)

    def _judged_clean(self, text: bytes, gate: InertHosts) -> bool:
        """Whether noscript content, read as markup (scripting off), reaches no tracker."""
        sub = StreamInjector(b"", b"", inert_hosts=gate, rewrite_only=True, _depth=self._depth + 1)
        return sub.feed_last(text) == text


def _may_start_document(rest: bytes) -> bool:
    """Whether what follows the leading white space and comments may still open a document."""
    if not rest or rest.startswith((b"<!--", b"<?")) or b"<!--".startswith(rest):
        return True  # nothing yet, or a comment still open
    lowered = rest[:10].lower()
    return any(s.startswith(lowered) for s in (b"<!doctype", b"<html", b"<head", b"<body"))


def _declares_charset(tag: bytes) -> bool:
    attrs, _ = _attributes(tag, 5)
    if _first(attrs, b"charset") is not None:
        return True
    equiv = _first(attrs, b"http-equiv")
    if equiv is None or equiv.value is None:
        return False
    return html.unescape(equiv.value.decode("latin-1")).strip().lower() == "content-type"


def _scope_limit(name: bytes, ns: int) -> bool:
    if ns == _HTML:
        return name in _SCOPE_LIMITS
    if ns == _SVG:
        return name in _SVG_HTML_POINTS
    return name in _MATH_TEXT_POINTS or name == b"annotation-xml"


def _special(name: bytes, ns: int) -> bool:
    """Whether an open element is of the "special" category (foreign: the integration points)."""
    return name in _SPECIAL_HTML if ns == _HTML else _scope_limit(name, ns)


def _font_breaks_out(tag: bytes) -> bool:
    attrs, _ = _attributes(tag, 5)
    return any(a.name in (b"color", b"face", b"size") for a in attrs)


def _html_annotation(tag: bytes) -> bool:
    attrs, _ = _attributes(tag, 15)
    encoding = _first(attrs, b"encoding")
    if encoding is None or encoding.value is None:
        return False
    value = html.unescape(encoding.value.decode("latin-1")).strip().lower()
    return value in ("text/html", "application/xhtml+xml")
