"""Vendor integrations: the tags each consent state allows, and how to hold back the others.

A tag that the visitor's consent does not allow is sent *inert*: ``<script type="text/plain"
data-consentgate-category="…">`` with ``src`` renamed ``data-consentgate-src``. The banner
script activates it in place once the category is granted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["ServiceSpec", "inert_scripts", "inline_scripts", "script_tag"]

_SCRIPT_START = re.compile(rb"<script\b([^>]*)>", re.IGNORECASE)
_ATTR = re.compile(
    rb"""(\s+)([^\s=/>]+)(\s*=\s*(?:"[^"]*"|'[^']*'|[^\s>]+))?""",
)
_INLINE = re.compile(r"<script\b[^>]*>(.*?)</script\s*>", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    """A service as the banner, the policy page and the cookie rules see it."""

    name: str
    category: str
    description: str
    vendor: str | None
    privacy_url: str | None
    cookies: tuple[str, ...]
    cookie_path: str
    hosts: tuple[str, ...]
    scripts: tuple[str, ...]
    #: Banner text key translating ``description`` (built-in services).
    description_key: str | None = None


def inert_scripts(html: str, category: str) -> str:
    """Make every ``<script>`` in ``html`` inert until ``category`` is granted."""
    tag = category.encode()

    def rewrite(match: re.Match[bytes]) -> bytes:
        out = []
        for attr in _ATTR.finditer(match.group(1)):
            space, name, value = attr.group(1), attr.group(2), attr.group(3) or b""
            lowered = name.lower()
            if lowered == b"src":
                name = b"data-consentgate-src"
            elif lowered == b"type":
                name = b"data-consentgate-type"
            out.append(space + name + value)
        attrs = b"".join(out)
        return b'<script type="text/plain" data-consentgate-category="' + tag + b'"' + attrs + b">"

    return _SCRIPT_START.sub(rewrite, html.encode()).decode()


def script_tag(body: str = "", *, src: str | None = None, attrs: str = "") -> str:
    """A ``<script>`` element; ``body`` is trusted code, ``src`` an already safe URL."""
    source = f' src="{src}"' if src else ""
    return f"<script{source}{attrs}>{body}</script>"


def inline_scripts(html: str) -> list[str]:
    """The text of each inline script in ``html`` (for Content-Security-Policy hashes)."""
    return [body for body in _INLINE.findall(html) if body]
