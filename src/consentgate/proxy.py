"""The client's IP address, scheme and host, believing proxy headers only from trusted proxies.

Exactly one header family is read, the one the operator configures: ``X-Forwarded-For`` /
``-Proto`` / ``-Host`` (the default, as uvicorn) or RFC 7239 ``Forwarded``; the other family is
ignored, so a client cannot add one that the proxy passes through. Hops are read right to left
and the first one that is not a trusted proxy is the client, as uvicorn does; a header from an
untrusted peer is ignored, so a visitor cannot choose their own country by spoofing it. A
forwarded header that names no usable client (``for=unknown``, an obfuscated or garbled hop,
no ``for=``) leaves the client unknown: it never makes the request look as if the proxy itself
had sent it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any, Literal, NamedTuple

__all__ = [
    "FORWARDED_HEADERS",
    "ClientInfo",
    "ForwardedHeaders",
    "ProxyResolver",
    "header_map",
    "normalize_ip",
    "parse_forwarded",
]

#: The header families a trusted proxy may use to name the client.
ForwardedHeaders = Literal["x-forwarded", "forwarded"]
FORWARDED_HEADERS: tuple[ForwardedHeaders, ...] = ("x-forwarded", "forwarded")

# The longest address with a port: "[ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255]:65535".
_MAX_ADDRESS = 53
_MAX_PEERS = 65_536


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
    #: The peer is a trusted proxy and sent no forwarded header at all: the proxy itself asks.
    peer_is_proxy: bool = False
    #: The direct peer's address (the proxy's, behind one); ``None`` when the server gave none.
    peer: str | None = None


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
    value = value.strip()
    if len(value) > _MAX_ADDRESS:
        return None  # longer than any address: invalid, and never cached
    return _normalize_cached(value)


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
        pass
    ip = normalize_ip(value)
    if len(value) <= _MAX_ADDRESS:
        if len(_PEERS) >= _MAX_PEERS:
            del _PEERS[next(iter(_PEERS))]  # oldest out: the table never grows past the cap
        _PEERS[value] = ip
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
    """Resolves :class:`ClientInfo` from an ASGI scope under a fixed list of trusted proxies.

    ``headers`` names the one header family a trusted proxy's answer is read from:
    ``"x-forwarded"`` (``X-Forwarded-For``/``-Proto``/``-Host``) or ``"forwarded"`` (RFC 7239).
    """

    def __init__(
        self, trusted: Iterable[str] = (), *, headers: ForwardedHeaders = "x-forwarded"
    ) -> None:
        if headers not in FORWARDED_HEADERS:
            raise ValueError(f"headers must be one of {', '.join(FORWARDED_HEADERS)}")
        self.headers = headers
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
            return ClientInfo(peer, scheme, host.lower() if host else None, peer=peer)
        hops: list[str] | None = None  # None: no header of the family was sent at all
        proto = fwd_host = None
        if self.headers == "forwarded":
            forwarded = _text(headers.get(b"forwarded"))
            if forwarded is not None:
                elements = parse_forwarded(forwarded)
                hops = [element["for"] for element in elements if "for" in element]
                if elements:
                    proto = elements[-1].get("proto")
                    fwd_host = elements[-1].get("host")
        else:
            xff = _text(headers.get(b"x-forwarded-for"))
            proto = _last(_text(headers.get(b"x-forwarded-proto")))
            fwd_host = _last(_text(headers.get(b"x-forwarded-host")))
            if xff is not None:
                hops = [hop.strip() for hop in xff.split(",")]
            elif proto is not None or fwd_host is not None:
                hops = []
        ip = peer if hops is None else self._client_from_hops(hops)
        if proto and proto.lower() in ("http", "https"):
            scheme = proto.lower()
        if fwd_host:
            host = fwd_host
        return ClientInfo(
            ip,
            scheme,
            host.lower() if host else None,
            via_proxy=True,
            peer_is_proxy=hops is None,
            peer=peer,
        )

    def _client_from_hops(self, hops: list[str]) -> str | None:
        """The rightmost hop that is not a trusted proxy; ``None`` when it names nobody usable."""
        client: str | None = None
        for hop in reversed(hops):
            client = normalize_ip(hop)
            if not self.is_trusted(client):
                return client  # None for "unknown", an obfuscated name or garbage
        # Every hop is a trusted proxy (or none was named): the leftmost one is the best we know.
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
