"""Country lookup: the embedded offline database (iptocc) or any MaxMind/DB-IP ``.mmdb`` file.

Both sit behind :class:`CountryDatabase`; a failing lookup means "unknown country", never an
error. Whether a country is regulated is decided here from its code and the configured list,
never from a database's own "is in the EU" flag.
"""

from __future__ import annotations

import importlib.metadata
import os
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Protocol

import iptocc

from .errors import ConfigError

__all__ = [
    "UNKNOWN_CODES",
    "CountryDatabase",
    "EmbeddedDatabase",
    "FixedCountry",
    "MmdbDatabase",
    "RegulatedCountries",
    "clean_country",
    "open_database",
]

#: Codes that databases and CDNs use for "no real country" (Cloudflare XX/T1, MaxMind A1/A2...).
UNKNOWN_CODES = frozenset({"XX", "ZZ", "T1", "A1", "A2", "O1", "AP"})


def clean_country(code: str | None) -> str | None:
    """An uppercase two-letter country code, or ``None`` for anything that is not one."""
    if not code or len(code) != 2 or not code.isascii():
        return None
    code = code.upper()
    if not ("A" <= code[0] <= "Z" and "A" <= code[1] <= "Z") or code in UNKNOWN_CODES:
        return None
    return code


class CountryDatabase(Protocol):
    """Anything that maps an IP address to a country code."""

    @property
    def description(self) -> str:
        """The database's name and version, for ``consentgate geoip``."""
        ...

    def country(self, ip: str) -> str | None:
        """The country of ``ip`` (a normalised address), ``None`` when unknown."""
        ...


class EmbeddedDatabase:
    """The offline database compiled into the ``iptocc`` package (RIR delegation data)."""

    @property
    def description(self) -> str:
        """``iptocc`` and its data version."""
        return f"iptocc (embedded RIR data) {importlib.metadata.version('iptocc')}"

    def country(self, ip: str) -> str | None:
        """Look ``ip`` up; private and loopback addresses have no country."""
        try:
            return clean_country(iptocc.country_code(ip))
        except (TypeError, ValueError):
            return None


class MmdbDatabase:
    """A MaxMind or DB-IP ``.mmdb`` file of any type (Country, City, Lite, custom)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        import maxminddb

        self.path = os.fspath(path)
        try:
            self._reader = maxminddb.open_database(self.path, maxminddb.MODE_AUTO)
        except FileNotFoundError:
            raise ConfigError(
                f"geoip_database: {self.path!r} does not exist — download a GeoLite2/DB-IP "
                "country .mmdb file or unset geoip_database to use the embedded database"
            ) from None
        except (maxminddb.InvalidDatabaseError, OSError, ValueError) as exc:
            raise ConfigError(
                f"geoip_database: {self.path!r} is not a valid .mmdb file ({exc}) — "
                "download it again or unset geoip_database"
            ) from None
        meta = self._reader.metadata()
        built = datetime.fromtimestamp(meta.build_epoch, tz=UTC).date().isoformat()
        self._description = f"{meta.database_type} (built {built}) at {self.path}"

    @property
    def description(self) -> str:
        """The database type and build date from the file's metadata."""
        return self._description

    def country(self, ip: str) -> str | None:
        """The record's ``country``, else its ``registered_country``; ``None`` when absent."""
        try:
            record: Any = self._reader.get(ip)
        except (ValueError, TypeError, OSError, RuntimeError):
            return None  # e.g. IPv6 address in an IPv4-only file
        if not isinstance(record, dict):
            return None
        for key in ("country", "registered_country"):
            entry = record.get(key)
            if isinstance(entry, dict):
                code = clean_country(entry.get("iso_code"))
                if code:
                    return code
        return None

    def close(self) -> None:
        """Release the file."""
        self._reader.close()


class FixedCountry:
    """Every visitor is from one country (``force_country``, development only)."""

    def __init__(self, code: str) -> None:
        self.code = clean_country(code)

    @property
    def description(self) -> str:
        """Says that the country is forced."""
        return f"forced country {self.code}"

    def country(self, ip: str) -> str | None:
        """Always the forced code."""
        return self.code


def open_database(path: str | os.PathLike[str] | None) -> CountryDatabase:
    """The ``.mmdb`` at ``path``, or the embedded database when ``path`` is ``None``.

    A missing or corrupt file raises :class:`~consentgate.ConfigError` naming
    ``geoip_database`` and the fix, so a server stops at start-up rather than guessing.
    """
    if path is None:
        return EmbeddedDatabase()
    return MmdbDatabase(path)


class RegulatedCountries:
    """Which countries' visitors get the banner, and what to do with unknown countries."""

    def __init__(self, codes: Iterable[str], *, unknown_regulated: bool = True) -> None:
        codes = [code.upper() for code in codes]
        self.everyone = "*" in codes
        self.codes = frozenset(codes)
        self.unknown_regulated = unknown_regulated

    def __call__(self, country: str | None) -> bool:
        """Whether a visitor from ``country`` (``None`` = unknown) is regulated."""
        if self.everyone:
            return True
        if country is None:
            return self.unknown_regulated
        return country in self.codes
