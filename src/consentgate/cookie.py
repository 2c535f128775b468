"""The signed consent cookie: a compact payload signed with itsdangerous, with key rotation.

Payload fields, separated by ``.``: format version, consent id, policy revision, granted
category codes, refused category codes (``-`` separated), decision time (base 36 seconds),
offer hash, GPC-at-grant flag. The signature covers all of it; any key of the list verifies,
the newest signs. Anything wrong with a cookie makes :meth:`ConsentCookie.loads` return
``None`` ("no consent yet"), never raise.
"""

from __future__ import annotations

import hashlib
import math
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from itsdangerous import BadSignature, Signer

from .cache import LRUCache, size_of

__all__ = ["MAX_COOKIE_LENGTH", "ConsentCookie", "CookieState", "new_consent_id", "offer_hash"]

FORMAT = "1"
SALT = "consentgate.consent-cookie"
#: Longer values are rejected unread (a real one is about 100 bytes).
MAX_COOKIE_LENGTH = 300
#: Tolerated clock skew for a decision time in the future.
_SKEW = 300


def new_consent_id() -> str:
    """A fresh random consent id (96 bits, URL-safe, 16 characters)."""
    return secrets.token_urlsafe(12)


@dataclass(frozen=True, slots=True)
class CookieState:
    """What a verified consent cookie says."""

    consent_id: str
    revision: int
    granted: frozenset[str]
    refused: frozenset[str]
    decided_at: int
    offer: str
    gpc: bool
    #: The banner language the choice was made in, kept where it matters (TCF: the TC
    #: string's ConsentLanguage); None in other cookies.
    language: str | None = None


_LANGUAGE = re.compile(r"[a-z]{2,3}(?:-[a-z0-9]{1,8})?")


def _b36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rem = divmod(number, 36)
        out = digits[rem] + out
        if not number:
            return out


class ConsentCookie:
    """Signs and verifies consent cookies; verified values are cached (expiry still checked)."""

    def __init__(
        self, keys: Sequence[str], *, max_age: int, cache_bytes: int = 1 << 20, salt: str = SALT
    ) -> None:
        if not keys:
            raise ValueError("at least one signing key is needed")
        # Newest key first: it signs, and most cookies carry its signature.
        self._signers = [
            Signer(key, salt=salt, key_derivation="hmac", digest_method=hashlib.sha256)
            for key in reversed(keys)
        ]
        self.max_age = max_age
        self._cache: LRUCache[str, tuple[CookieState, bool]] = LRUCache(
            cache_bytes, name="verified cookies"
        )

    def dumps(self, state: CookieState) -> str:
        """The signed cookie value for ``state`` (always signed with the newest key)."""
        payload = ".".join(
            (
                FORMAT,
                state.consent_id,
                str(state.revision),
                "-".join(sorted(state.granted)),
                "-".join(sorted(state.refused)),
                _b36(state.decided_at),
                state.offer,
                "1" if state.gpc else "0",
                *((state.language,) if state.language else ()),
            )
        )
        return self._signers[0].sign(payload).decode("ascii")

    def loads(self, value: str, *, now: float) -> tuple[CookieState, bool] | None:
        """``(state, signed_with_old_key)`` for a valid, unexpired cookie, else ``None``."""
        cached = self._cache.get(value)
        if cached is None:
            cached = self._verify(value)
            if cached is None:
                return None
            self._cache.put(value, cached, size_of(value) + 400)
        if not self.is_fresh(cached[0], now):
            return None
        return cached

    def holds_until(self, value: str, now: float) -> float:
        """Until when :meth:`loads`' answer for ``value`` at ``now`` stays the same.

        A valid cookie holds until it expires; a validly signed one dated in the future becomes
        valid once the clock reaches it (minus the tolerated skew); anything else never changes.
        """
        verified = self._cache.get(value) or self._verify(value)
        if verified is None:
            return math.inf
        state = verified[0]
        if now < state.decided_at - _SKEW:
            return float(state.decided_at - _SKEW)
        end = float(state.decided_at + self.max_age)
        return end if now < end else math.inf

    def is_fresh(self, state: CookieState, now: float) -> bool:
        """Whether the decision is younger than ``max_age`` (and not from the future)."""
        return state.decided_at - _SKEW <= now < state.decided_at + self.max_age

    def remaining(self, state: CookieState, now: float) -> int:
        """Seconds of lifetime left, counted from the decision (re-signing never extends it)."""
        return max(0, int(state.decided_at + self.max_age - now))

    def _verify(self, value: str) -> tuple[CookieState, bool] | None:
        if len(value) > MAX_COOKIE_LENGTH or not value.isascii():
            return None
        raw = value.encode("ascii")
        for index, signer in enumerate(self._signers):
            try:
                payload = signer.unsign(raw).decode("ascii")
            except BadSignature:
                continue
            state = _parse(payload)
            return None if state is None else (state, index > 0)
        return None


def _parse(payload: str) -> CookieState | None:
    parts = payload.split(".")
    if len(parts) not in (8, 9) or parts[0] != FORMAT:
        return None
    _, consent_id, revision, granted, refused, decided, offer, gpc, *rest = parts
    language = rest[0] if rest else None
    if language is not None and not _LANGUAGE.fullmatch(language):
        return None
    try:
        return CookieState(
            consent_id=consent_id,
            revision=int(revision),
            granted=_codes(granted),
            refused=_codes(refused),
            decided_at=int(decided, 36),
            offer=offer,
            gpc=gpc == "1",
            language=language,
        )
    except ValueError:
        return None


def _codes(text: str) -> frozenset[str]:
    return frozenset(text.split("-")) if text else frozenset()


def offer_hash(
    categories: Iterable[str], services: Iterable[tuple[str, str, Iterable[str]]]
) -> str:
    """A short hash of what is offered: category names, their services and cookie names."""
    lines = [f"c:{name}" for name in categories]
    lines += sorted(
        f"s:{cat}:{name}:{','.join(sorted(cookies))}" for name, cat, cookies in services
    )
    digest = hashlib.sha256("\n".join(lines).encode()).hexdigest()
    return digest[:8]
