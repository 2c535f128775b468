"""The tracker catalogue: which hosts third-party tags use, and the consent each one needs.

The built-in entries live in ``trackers.toml`` (package data), each with the vendor
documentation its hosts come from. A host pattern matches the host itself and every subdomain
of it; a few patterns also carry a path prefix (``www.google.com/maps``) where the host serves
much more than the tracker, and only :meth:`Catalogue.lookup_url` reads those. Declared
services add to and override the built-in entries (:meth:`Catalogue.with_services`).

This module knows nothing about settings, ASGI or HTML.
"""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

__all__ = ["Catalogue", "Tracker", "normalise_pattern"]

#: Labels looked at, at most, when matching a host against its parent domains.
_MAX_LABELS = 127


@dataclass(frozen=True, slots=True)
class Tracker:
    """A tracking service as the catalogue knows it."""

    #: The service's name, e.g. ``"Google Analytics"``, ``"Meta Pixel"``, ``"YouTube"``.
    service: str
    #: The consent category it needs, e.g. ``"analytics"``, ``"advertising"``, ``"functional"``.
    category: str
    #: An embed provider: its ``<iframe>`` elements become click-to-load placeholders.
    embed: bool = False


def normalise_pattern(pattern: str) -> str:
    """A host pattern as the catalogue keys it: lowercase, no surrounding dots or spaces.

    A path prefix, when there is one, keeps its case but loses a trailing ``/``.
    """
    host, slash, path = pattern.strip().partition("/")
    host = host.strip(".").lower()
    if not slash or not host:
        return host
    path = path.rstrip("/")
    return f"{host}/{path}" if path else host


class Catalogue:
    """An immutable map from host patterns to :class:`Tracker` entries."""

    __slots__ = ("_hosts", "_paths")

    _hosts: dict[str, Tracker]
    #: Host to ``(path prefix, tracker)`` pairs, longest prefix first.
    _paths: dict[str, tuple[tuple[str, Tracker], ...]]

    def __init__(self, entries: Mapping[str, Tracker] | Iterable[tuple[str, Tracker]] = ()) -> None:
        """Build from ``(host pattern, tracker)`` pairs; a later pattern replaces an earlier one."""
        items = entries.items() if isinstance(entries, Mapping) else entries
        hosts: dict[str, Tracker] = {}
        paths: dict[str, dict[str, Tracker]] = {}
        for pattern, tracker in items:
            key = normalise_pattern(pattern)
            if not key:
                continue
            host, slash, path = key.partition("/")
            if slash:
                paths.setdefault(host, {})["/" + path] = tracker
            else:
                hosts[host] = tracker
        self._hosts = hosts
        self._paths = {
            host: tuple(sorted(prefixes.items(), key=lambda item: -len(item[0])))
            for host, prefixes in paths.items()
        }

    @classmethod
    def builtin(cls) -> Catalogue:
        """The catalogue shipped with consentgate (``trackers.toml``), loaded once."""
        return _builtin()

    @classmethod
    def from_toml(cls, text: str) -> Catalogue:
        """A catalogue from the text of a file shaped like ``trackers.toml``.

        Raises :class:`ValueError` naming the entry when one is malformed.
        """
        data = tomllib.loads(text)
        entries: list[tuple[str, Tracker]] = []
        for index, raw in enumerate(data.get("tracker", [])):
            tracker, hosts = _entry(index, raw)
            entries.extend((host, tracker) for host in hosts)
        return cls(entries)

    def with_services(self, services: Iterable[tuple[str, str, Iterable[str]]]) -> Catalogue:
        """This catalogue plus declared services, given as ``(name, category, hosts)``.

        A declared host replaces a built-in entry for the same pattern; an embed provider keeps
        its click-to-load placeholder under the declared name and category.
        """
        merged = dict(self)
        for name, category, hosts in services:
            for host in hosts:
                key = normalise_pattern(host)
                if not key:
                    continue
                old = merged.get(key)
                merged[key] = Tracker(name, category, embed=old.embed if old else False)
        return Catalogue(merged)

    def lookup(self, host: str) -> Tracker | None:
        """The entry for ``host`` (lowercase ASCII, punycode) or its nearest parent domain.

        Only plain host patterns count here; see :meth:`lookup_url` for path prefixes.
        """
        hosts = self._hosts
        found = hosts.get(host)
        if found is not None:
            return found
        start = host.find(".")
        labels = 0
        while start >= 0 and labels < _MAX_LABELS:
            found = hosts.get(host[start + 1 :])
            if found is not None:
                return found
            start = host.find(".", start + 1)
            labels += 1
        return None

    def lookup_url(self, host: str, path: str) -> Tracker | None:
        """The entry for a URL's ``host`` and ``path``: path-prefix patterns first, then hosts.

        ``path`` is the URL's path as the URL parser gives it (starting with ``/``); a prefix
        matches whole segments (``/maps`` matches ``/maps`` and ``/maps/embed``, not
        ``/mapsfoo``).
        """
        if self._paths:
            for candidate in _self_and_parents(host):
                for prefix, tracker in self._paths.get(candidate, ()):
                    if path == prefix or path.startswith(prefix + "/"):
                        return tracker
        return self.lookup(host)

    def __iter__(self) -> Iterator[tuple[str, Tracker]]:
        """Every ``(host pattern, tracker)``; path patterns read ``host/path``."""
        yield from self._hosts.items()
        for host, prefixes in self._paths.items():
            for prefix, tracker in prefixes:
                yield host + prefix, tracker

    def __len__(self) -> int:
        """The number of host patterns."""
        return len(self._hosts) + sum(len(p) for p in self._paths.values())

    def __repr__(self) -> str:
        return f"<Catalogue of {len(self)} host patterns>"


def _self_and_parents(host: str) -> Iterator[str]:
    yield host
    start = host.find(".")
    labels = 0
    while start >= 0 and labels < _MAX_LABELS:
        yield host[start + 1 :]
        start = host.find(".", start + 1)
        labels += 1


def _entry(index: int, raw: Any) -> tuple[Tracker, list[str]]:
    """One ``[[tracker]]`` table, checked."""
    where = f"tracker #{index + 1}"
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: expected a table")
    service, category = raw.get("service"), raw.get("category")
    hosts, embed = raw.get("hosts"), raw.get("embed", False)
    if not isinstance(service, str) or not service.strip():
        raise ValueError(f"{where}: 'service' must be a non-empty string")
    where = f"tracker {service!r}"
    if not isinstance(category, str) or not category.strip():
        raise ValueError(f"{where}: 'category' must be a non-empty string")
    if not isinstance(embed, bool):
        raise ValueError(f"{where}: 'embed' must be true or false")
    if not isinstance(hosts, list) or not hosts or not all(isinstance(h, str) for h in hosts):
        raise ValueError(f"{where}: 'hosts' must be a non-empty list of strings")
    return Tracker(service, category, embed=embed), hosts


@functools.cache
def _builtin() -> Catalogue:
    text = resources.files("consentgate").joinpath("trackers.toml").read_text("utf-8")
    return Catalogue.from_toml(text)
