"""The client's IP address, scheme and host, believing proxy headers only from trusted proxies.

``X-Forwarded-For`` and RFC 7239 ``Forwarded`` are read right to left and the first hop that
is not a trusted proxy is the client, as uvicorn does; a header from an untrusted peer is
ignored, so a visitor cannot choose their own country by spoofing it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any, NamedTuple

__all__ = ["ClientInfo", "ProxyResolver", "header_map", "normalize_ip", "parse_forwarded"]


class ClientInfo(NamedTuple):
    """Who is asking, as far as the trusted-proxy rules let us know."""

    #: The client's IP address (IPv4-mapped IPv6 normalised to IPv4); ``None`` when unknown.
    ip: str | None
    #: ``"http"`` or ``"https"`` as the visitor's browser sees the site.
    scheme: str
    #: The ``Host`` the visitor used (lowercase, with port when one was given), if known.
    host: str | None
    #: The direct peer is a trusted proxy, so its forwarding headers were believed.
    via_proxy: bool = False
    #: The peer is a trusted proxy and no forwarded header named anybody else.
    peer_is_proxy: bool = False


def header_map(headers: Iterable[tuple[bytes, bytes]]) -> dict[bytes, bytes]:
    """Request headers as a dict (lowercase names; repeated ones joined as HTTP allows)."""
    out: dict[bytes, bytes] = {}
    for key, value in headers:  # ASGI header names are lowercase already
        if key in out:
            out[key] += (b"; " if key == b"cookie" else b", ") + value
        else:
            out[key] = value
    return out


def normalize_ip(value: str) -> str | None:
    """A valid IP address in canonical form, IPv4-mapped IPv6 as IPv4; ``None`` if invalid."""
    return _normalize_cached(value.strip())


@lru_cache(maxsize=4096)
def _normalize_cached(value: str) -> str | None:
    if value.startswith("[") and "]" in value:  # "[2001:db8::1]:443"
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:  # "1.2.3.4:5678"
        value = value.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


_PEERS: dict[str, str | None] = {}


def _peer(value: str) -> str | None:
    # Servers hand over canonical addresses; a dict hit is far cheaper than parsing each time.
    try:
        return _PEERS[value]
    except KeyError:
        if len(_PEERS) >= 65_536:
            _PEERS.clear()
        ip = _PEERS[value] = normalize_ip(value)
        return ip


def parse_forwarded(value: str) -> list[dict[str, str]]:
    """Parse an RFC 7239 ``Forwarded`` header into one dict per element (keys lowercase)."""
    elements: list[dict[str, str]] = []
    for element in _split_outside_quotes(value, ","):
        pairs: dict[str, str] = {}
        for pair in _split_outside_quotes(element, ";"):
            key, sep, val = pair.partition("=")
            if not sep:
                continue
            val = val.strip()
            if len(val) >= 2 and val[0] == val[-1] == '"':
                val = val[1:-1].replace('\\"', '"')
            pairs[key.strip().lower()] = val
        elements.append(pairs)
    return elements


def _split_outside_quotes(text: str, separator: str) -> list[str]:
    if '"' not in text:
        return [part for part in text.split(separator) if part.strip()]
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for char in text:
        if char == '"':
            quoted = not quoted
        if char == separator and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [part for part in parts if part.strip()]


class ProxyResolver:
    """Resolves :class:`ClientInfo` from an ASGI scope under a fixed list of trusted proxies."""

    def __init__(self, trusted: Iterable[str] = ()) -> None:
        networks = [ipaddress.ip_network(item, strict=False) for item in trusted]
        self._networks = tuple(networks)
        self._exact = frozenset(str(n.network_address) for n in networks if n.num_addresses == 1)
        self._ranges = tuple(n for n in networks if n.num_addresses > 1)
        self.enabled = bool(networks)

    def is_trusted(self, ip: str | None) -> bool:
        """Whether ``ip`` (already normalised) belongs to a trusted proxy."""
        if ip is None or not self.enabled:
            return False
        if ip in self._exact:
            return True
        return bool(self._ranges) and _in_ranges(ip, self._ranges)

    def resolve(
        self, scope: Mapping[str, Any], headers: Mapping[bytes, bytes] | None = None
    ) -> ClientInfo:
        """The client of an ASGI HTTP or WebSocket ``scope`` (``headers``: its header map)."""
        client = scope.get("client")
        peer = _peer(client[0]) if client and isinstance(client[0], str) else None
        scheme = "https" if scope.get("scheme") in ("https", "wss") else "http"
        if headers is None:
            headers = header_map(scope.get("headers") or ())
        host = _text(headers.get(b"host"))
        if not self.enabled or not self.is_trusted(peer):
            return ClientInfo(peer, scheme, host.lower() if host else None)
        forwarded = _text(headers.get(b"forwarded"))
        proto = fwd_host = None
        if forwarded is not None:
            elements = parse_forwarded(forwarded)
            hops = [element.get("for", "") for element in elements if "for" in element]
            if elements:
                proto = elements[-1].get("proto")
                fwd_host = elements[-1].get("host")
        else:
            xff = _text(headers.get(b"x-forwarded-for"))
            hops = [hop.strip() for hop in xff.split(",")] if xff else []
            proto = _last(_text(headers.get(b"x-forwarded-proto")))
            fwd_host = _last(_text(headers.get(b"x-forwarded-host")))
        ip = self._client_from_hops(hops, peer)
        if proto and proto.lower() in ("http", "https"):
            scheme = proto.lower()
        if fwd_host:
            host = fwd_host
        return ClientInfo(
            ip,
            scheme,
            host.lower() if host else None,
            via_proxy=True,
            peer_is_proxy=not hops,
        )

    def _client_from_hops(self, hops: list[str], peer: str | None) -> str | None:
        if not hops:
            return peer
        client: str | None = None
        for hop in reversed(hops):
            client = normalize_ip(hop)
            if not self.is_trusted(client):
                return client
        # Every hop is a trusted proxy: the leftmost one is the best we know.
        return client


def _in_ranges(ip: str, ranges: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]) -> bool:
    address = ipaddress.ip_address(ip)
    return any(address in network for network in ranges)


def _last(value: str | None) -> str | None:
    if not value:
        return None
    return value.rsplit(",", 1)[-1].strip() or None


def _text(value: bytes | None) -> str | None:
    return value.decode("latin-1") if value is not None else None
