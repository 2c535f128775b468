"""The ledger interface: :class:`ConsentRecord`, the :class:`Ledger` protocol, simple ledgers."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable

__all__ = [
    "ConsentRecord",
    "Ledger",
    "MemoryLedger",
    "NullLedger",
    "erase_hash",
    "truncate_ip",
]


def truncate_ip(ip: str | None) -> str | None:
    """The network prefix kept after the full IP is erased: IPv4 /24, IPv6 /48."""
    if not ip:
        return None
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return None
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def erase_hash(key: bytes, consent_id: str) -> str:
    """The keyed hash of a consent id kept in an ``erase`` record (the id itself is gone)."""
    return hmac.new(key, consent_id.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class ConsentRecord:
    """One decision, as proof of consent. No user agent, no other personal data."""

    consent_id: str
    #: ``accept_all``, ``reject_all``, ``save``, ``withdraw`` (``erase`` records are made by
    #: :meth:`Ledger.erase`).
    action: str
    granted: tuple[str, ...]
    revision: int
    country: str | None
    regulated: bool
    ip: str | None
    gpc: bool
    language: str | None
    #: Hash of the exact banner texts shown (stored once via :meth:`Ledger.store_bundle`).
    bundle_hash: str | None
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    ip_prefix: str | None = None
    #: The IAB TCF TC string the decision made (TCF mode only).
    tc_string: str | None = None

    def __post_init__(self) -> None:
        if self.ip_prefix is None and self.ip is not None:
            object.__setattr__(self, "ip_prefix", truncate_ip(self.ip))

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (times in ISO 8601 UTC)."""
        # Every field is immutable, so no deep copy (dataclasses.asdict) is needed: 10x faster.
        data = {name: getattr(self, name) for name in _RECORD_FIELDS}
        data["granted"] = list(self.granted)
        data["created_at"] = self.created_at.astimezone(UTC).isoformat()
        return data


_RECORD_FIELDS = tuple(f.name for f in fields(ConsentRecord))


@runtime_checkable
class Ledger(Protocol):
    """Where proofs of consent go. ``record`` and ``store_bundle`` must never block."""

    async def start(self) -> None:
        """Prepare (schema, background tasks); must not fail when the database is down."""
        ...

    async def close(self, drain_seconds: float = 5.0) -> None:
        """Drain pending records (at most ``drain_seconds``) and release resources."""
        ...

    def record(self, record: ConsentRecord) -> None:
        """Queue one record; returns at once."""
        ...

    def store_bundle(self, bundle_hash: str, texts: Mapping[str, Any]) -> None:
        """Queue one text bundle (stored once per hash); returns at once."""
        ...

    async def records_for(self, consent_id: str) -> list[dict[str, Any]]:
        """The records of one consent id, oldest first, as JSON-ready dicts."""
        ...

    async def erase(self, consent_id: str) -> int:
        """Delete a consent id's records, leave one ``erase`` record; the number deleted."""
        ...


class NullLedger:
    """Keeps nothing (``ledger_url = ""``)."""

    async def start(self) -> None:
        """Nothing to prepare."""

    async def close(self, drain_seconds: float = 5.0) -> None:
        """Nothing to drain."""

    def record(self, record: ConsentRecord) -> None:
        """Drop the record."""

    def store_bundle(self, bundle_hash: str, texts: Mapping[str, Any]) -> None:
        """Drop the bundle."""

    async def records_for(self, consent_id: str) -> list[dict[str, Any]]:
        """Always empty."""
        return []

    async def erase(self, consent_id: str) -> int:
        """Nothing to erase."""
        return 0


class MemoryLedger:
    """Keeps records in a list (tests, demos without a database)."""

    def __init__(self, *, erase_key: bytes = b"consentgate-memory") -> None:
        self.records: list[ConsentRecord] = []
        self.bundles: dict[str, Mapping[str, Any]] = {}
        self.erasures: list[dict[str, Any]] = []
        self._erase_key = erase_key

    async def start(self) -> None:
        """Nothing to prepare."""

    async def close(self, drain_seconds: float = 5.0) -> None:
        """Nothing to drain."""

    def record(self, record: ConsentRecord) -> None:
        """Append the record."""
        self.records.append(record)

    def store_bundle(self, bundle_hash: str, texts: Mapping[str, Any]) -> None:
        """Keep the first bundle seen for a hash."""
        self.bundles.setdefault(bundle_hash, texts)

    async def records_for(self, consent_id: str) -> list[dict[str, Any]]:
        """The records of ``consent_id``, oldest first."""
        return [r.as_dict() for r in self.records if r.consent_id == consent_id]

    async def erase(self, consent_id: str) -> int:
        """Remove the records, keep an ``erase`` marker with a keyed hash of the id."""
        before = len(self.records)
        self.records = [r for r in self.records if r.consent_id != consent_id]
        self.erasures.append(
            {
                "action": "erase",
                "created_at": datetime.now(UTC).isoformat(),
                "id_hash": erase_hash(self._erase_key, consent_id),
            }
        )
        return before - len(self.records)
