"""Exceptions raised by consentgate; catch :class:`ConsentGateError` to catch them all."""

from __future__ import annotations

__all__ = ["ConfigError", "ConsentGateError", "GeoIPError", "LedgerError", "TCStringError"]


class ConsentGateError(Exception):
    """Base class of every exception consentgate raises on purpose."""


class ConfigError(ConsentGateError, ValueError):
    """A setting is missing or invalid; the message names it, its value and the fix.

    ``problems`` holds one line per problem, in the order they were found.
    """

    def __init__(self, problems: str | list[str]) -> None:
        self.problems: list[str] = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


class GeoIPError(ConsentGateError):
    """The country database cannot be opened (missing or corrupt file)."""


class LedgerError(ConsentGateError):
    """The consent ledger cannot do what was asked (bad URL, unreachable database, ...)."""


class TCStringError(ConsentGateError, ValueError):
    """A TCF TC string cannot be encoded or decoded; the message says which field and why."""
