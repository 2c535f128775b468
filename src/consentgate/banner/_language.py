"""Choosing the banner language from ``Accept-Language`` (RFC 9110 §12.5.4, RFC 4647 lookup)."""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

__all__ = ["LANGUAGE_ALIASES", "pick_language"]

_TAG = re.compile(r"^(?:\*|[a-z]{1,8}(?:-[a-z0-9]{1,8})*)$")
_QVALUE = re.compile(r"^q=(0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?)$")
#: Norwegian: browsers send "no" (macro language) or "nn" (Nynorsk); we ship Bokmål.
LANGUAGE_ALIASES = {"no": "nb", "nn": "nb"}
# Real browsers send well under 200 characters; anything far longer is not worth parsing.
_MAX_HEADER = 1024


def pick_language(accept_language: str | None, languages: Sequence[str], default: str) -> str:
    """The best of ``languages`` for an ``Accept-Language`` header, else ``default``.

    Ranges are tried by descending q-value (header order breaks ties); each tries an exact
    tag match, then its primary subtag (``de-AT`` → ``de``; ``no``/``nn`` → ``nb``), then any
    offered regional variant of that subtag. ``q=0`` excludes a range, ``*`` means
    ``default``. Malformed parts are skipped; nothing usable gives ``default``. Results are
    cached per header value (bounded), so calling this on every request is cheap.
    """
    if not accept_language or len(accept_language) > _MAX_HEADER:
        return default
    return _pick(accept_language, tuple(languages), default)


def _parse(item: str) -> tuple[str, float] | None:
    tag, *params = (part.strip() for part in item.split(";"))
    tag = tag.lower()
    if not _TAG.match(tag) or len(params) > 1:
        return None
    if not params:
        return tag, 1.0
    q = _QVALUE.match(params[0].lower())
    return (tag, float(q.group(1))) if q else None


def _match(tag: str, offered: dict[str, str]) -> str | None:
    if tag in offered:
        return offered[tag]
    primary = tag.split("-", 1)[0]
    for candidate in (primary, LANGUAGE_ALIASES.get(primary)):
        if candidate is not None and candidate in offered:
            return offered[candidate]
    for key, lang in offered.items():
        if key.split("-", 1)[0] == primary:
            return lang
    return None


@functools.lru_cache(maxsize=1024)
def _pick(header: str, languages: tuple[str, ...], default: str) -> str:
    offered = {lang.lower(): lang for lang in languages}
    ranked: list[tuple[float, int, str]] = []
    excluded: set[str] = set()
    for index, item in enumerate(header.split(",")):
        parsed = _parse(item) if item.strip() else None
        if parsed is None:
            continue
        tag, q = parsed
        if q > 0:
            ranked.append((-q, index, tag))
        else:
            excluded.add(tag)
    for _, _, tag in sorted(ranked):
        if tag == "*":
            rest = [lang for key, lang in offered.items() if key not in excluded]
            return default if default.lower() not in excluded or not rest else rest[0]
        found = _match(tag, offered)
        if found is not None and found.lower() not in excluded:
            return found
    return default
