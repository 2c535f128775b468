"""Proofs of consent: the :class:`Ledger` protocol and its backends."""

from __future__ import annotations

from .base import ConsentRecord, Ledger, MemoryLedger, NullLedger, erase_hash, truncate_ip

__all__ = [
    "ConsentRecord",
    "Ledger",
    "MemoryLedger",
    "NullLedger",
    "erase_hash",
    "truncate_ip",
]
