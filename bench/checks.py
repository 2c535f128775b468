"""What a response must look like for a benchmark of it to mean anything (fail loudly if not)."""

from __future__ import annotations

import re

_BANNER_TAG = re.compile(rb'<[a-z]+ id="consentgate-banner"[^>]*>')
_ACTIVE_GA4 = b'<script src="https://www.googletagmanager.com/gtag/js'
_INERT_GA4 = b'data-consentgate-src="https://www.googletagmanager.com/gtag/js'

#: What each visitor kind must get in an HTML page.
EXPECTED = {
    "unregulated": "tags",
    "regulated": "banner",
    "decided": "tags",
    "pasted": "banner",
}


def page_kind(body: bytes) -> str:
    """``"banner"`` (dialog open, tags inert), ``"tags"`` (tags run, dialog hidden), ``"plain"``."""
    tag = _BANNER_TAG.search(body)
    if tag is None:
        return "plain"
    is_open = not tag.group().endswith(b" hidden>")
    if is_open and _INERT_GA4 in body and _ACTIVE_GA4 not in body:
        return "banner"
    if not is_open and _ACTIVE_GA4 in body:
        return "tags"
    return "unexpected"


def expect_page(what: str, body: bytes, visitor: str | None) -> None:
    """Raise ``SystemExit`` unless ``body`` is what ``visitor`` (``None`` = no consentgate) gets."""
    want = EXPECTED[visitor] if visitor is not None else "plain"
    got = page_kind(body)
    if got != want:
        raise SystemExit(f"bench: {what}: expected a {want!r} page, got {got!r}")
