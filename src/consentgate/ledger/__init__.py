"""Proofs of consent: the :class:`Ledger` protocol and its backends."""

from __future__ import annotations

from contextlib import suppress
from typing import Any

from ..paths import data_dir, default_ledger_url
from .base import ConsentRecord, Ledger, MemoryLedger, NullLedger, erase_hash, truncate_ip
from .sql import SqlLedger

__all__ = [
    "ConsentRecord",
    "Ledger",
    "MemoryLedger",
    "NullLedger",
    "SqlLedger",
    "erase_hash",
    "open_ledger",
    "truncate_ip",
]


def open_ledger(url: str | None, **options: Any) -> Ledger:
    """The ledger for a ``ledger_url``: None or ``""`` keeps nothing (:class:`NullLedger`),
    ``"memory://"`` keeps records in memory (:class:`MemoryLedger`), anything else is a
    database URL (:class:`SqlLedger`, which alone takes ``options``; the others ignore them).
    """
    if not url:
        return NullLedger()
    if url == "memory://":
        return MemoryLedger()
    if url == default_ledger_url():
        with suppress(OSError):  # unwritable: the ledger logs it and keeps retrying
            data_dir().mkdir(parents=True, exist_ok=True)  # the default's directory may be new
    return SqlLedger(url, **options)
