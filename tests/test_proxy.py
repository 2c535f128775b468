"""Client IP, scheme and host from an ASGI scope; proxy headers count only from trusted peers."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consentgate import proxy
from consentgate.proxy import (
    ClientInfo,
    ForwardedHeaders,
    ProxyResolver,
    normalize_ip,
    parse_forwarded,
)

PROXY = "10.0.0.1"
VISITOR = "203.0.113.7"
SPOOFED = "198.51.100.1"


def make_scope(
    headers: list[tuple[str, str]] | None = None,
    *,
    peer: str | None = PROXY,
    scheme: str = "http",
    host: str | None = "example.com",
) -> dict[str, Any]:
    raw = [
        (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers or []
    ]
    if host is not None:
        raw.insert(0, (b"host", host.encode("latin-1")))
    return {
        "type": "http",
        "scheme": scheme,
        "client": (peer, 54321) if peer is not None else None,
        "headers": raw,
    }


def resolve(
    headers: list[tuple[str, str]] | None = None,
    *,
    trusted: tuple[str, ...] = (PROXY,),
    family: ForwardedHeaders | None = None,
    **scope: Any,
) -> ClientInfo:
    # The family follows the headers given unless a test says otherwise.
    if family is None:
        names = {name.lower() for name, _ in headers or []}
        family = "forwarded" if "forwarded" in names else "x-forwarded"
    return ProxyResolver(trusted, headers=family).resolve(make_scope(headers, **scope))


# -- untrusted peers --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        ("X-Forwarded-For", SPOOFED),
        ("Forwarded", f"for={SPOOFED}"),
    ],
    ids=["x-forwarded-for", "forwarded"],
)
def test_untrusted_peer_cannot_spoof_its_ip(header: tuple[str, str]) -> None:
    assert resolve([header], peer=VISITOR).ip == VISITOR


@pytest.mark.parametrize(
    "header",
    [("X-Forwarded-Proto", "https"), ("Forwarded", f"for={SPOOFED};proto=https")],
    ids=["x-forwarded-proto", "forwarded"],
)
def test_untrusted_peer_cannot_spoof_the_scheme(header: tuple[str, str]) -> None:
    assert resolve([header], peer=VISITOR).scheme == "http"


@pytest.mark.parametrize(
    "header",
    [("X-Forwarded-Host", "evil.example"), ("Forwarded", "host=evil.example")],
    ids=["x-forwarded-host", "forwarded"],
)
def test_untrusted_peer_cannot_spoof_the_host(header: tuple[str, str]) -> None:
    assert resolve([header], peer=VISITOR).host == "example.com"


def test_headers_are_ignored_when_no_proxy_is_trusted() -> None:
    info = resolve([("X-Forwarded-For", SPOOFED)], trusted=(), peer=PROXY)
    assert info.ip == PROXY


def test_untrusted_peer_is_not_via_proxy() -> None:
    info = resolve([("X-Forwarded-For", SPOOFED)], peer=VISITOR)
    assert (info.via_proxy, info.peer_is_proxy) == (False, False)


def test_scheme_comes_from_the_scope_without_a_proxy() -> None:
    assert resolve(peer=VISITOR, scheme="https").scheme == "https"


def test_host_comes_from_the_host_header_lowercased() -> None:
    assert resolve(peer=VISITOR, host="WWW.Example.COM:8443").host == "www.example.com:8443"


def test_scope_without_client_has_no_ip() -> None:
    assert resolve(peer=None).ip is None


def test_untrusted_ipv4_mapped_peer_is_normalised() -> None:
    assert resolve(peer="::ffff:81.2.69.160").ip == "81.2.69.160"


# -- X-Forwarded-For from a trusted proxy -----------------------------------------------------


def test_trusted_proxy_x_forwarded_for_names_the_client() -> None:
    info = resolve([("X-Forwarded-For", VISITOR)])
    assert (info.ip, info.via_proxy) == (VISITOR, True)


def test_x_forwarded_for_is_read_right_to_left_stopping_at_first_untrusted_hop() -> None:
    info = resolve(
        [("X-Forwarded-For", f"{SPOOFED}, {VISITOR}, 10.0.0.2")],
        trusted=("10.0.0.0/8",),
        peer="10.0.0.3",
    )
    assert info.ip == VISITOR


def test_all_hops_trusted_gives_the_leftmost() -> None:
    info = resolve(
        [("X-Forwarded-For", "10.0.0.5, 10.0.0.4")], trusted=("10.0.0.0/8",), peer="10.0.0.3"
    )
    assert info.ip == "10.0.0.5"


def test_repeated_x_forwarded_for_headers_are_joined_in_order() -> None:
    info = resolve([("X-Forwarded-For", SPOOFED), ("X-Forwarded-For", VISITOR)])
    assert info.ip == VISITOR


def test_x_forwarded_for_hop_with_port_is_stripped() -> None:
    assert resolve([("X-Forwarded-For", f"{VISITOR}:5555")]).ip == VISITOR


def test_x_forwarded_for_ipv4_mapped_hop_is_normalised() -> None:
    assert resolve([("X-Forwarded-For", "::ffff:81.2.69.160")]).ip == "81.2.69.160"


def test_x_forwarded_for_ipv6_hop_is_canonical() -> None:
    assert resolve([("X-Forwarded-For", "2001:DB8:0::1")]).ip == "2001:db8::1"


@pytest.mark.parametrize("hop", ["garbage", "unknown", "999.1.1.1"])
def test_garbage_x_forwarded_for_hop_gives_no_ip(hop: str) -> None:
    assert resolve([("X-Forwarded-For", hop)]).ip is None


def test_x_forwarded_proto_from_trusted_proxy_sets_the_scheme() -> None:
    assert resolve([("X-Forwarded-Proto", "https")]).scheme == "https"


def test_x_forwarded_proto_is_case_insensitive() -> None:
    assert resolve([("X-Forwarded-Proto", "HTTPS")]).scheme == "https"


def test_x_forwarded_proto_other_than_http_or_https_is_ignored() -> None:
    assert resolve([("X-Forwarded-Proto", "gopher")], scheme="https").scheme == "https"


def test_x_forwarded_host_from_trusted_proxy_sets_the_host() -> None:
    assert resolve([("X-Forwarded-Host", "WWW.Example.com")]).host == "www.example.com"


# -- RFC 7239 Forwarded from a trusted proxy --------------------------------------------------


def test_forwarded_for_names_the_client() -> None:
    assert resolve([("Forwarded", f"for={VISITOR}")]).ip == VISITOR


def test_forwarded_quoted_ipv6_with_port() -> None:
    assert resolve([("Forwarded", 'for="[2001:db8:cafe::17]:4711"')]).ip == "2001:db8:cafe::17"


def test_forwarded_quoted_ipv4_with_port() -> None:
    assert resolve([("Forwarded", f'for="{VISITOR}:4711"')]).ip == VISITOR


def test_forwarded_key_is_case_insensitive() -> None:
    assert resolve([("Forwarded", f"For={VISITOR}")]).ip == VISITOR


def test_forwarded_elements_are_read_right_to_left_stopping_at_first_untrusted_hop() -> None:
    info = resolve(
        [("Forwarded", f"for={SPOOFED}, for={VISITOR}, for=10.0.0.2")],
        trusted=("10.0.0.0/8",),
        peer="10.0.0.3",
    )
    assert info.ip == VISITOR


def test_forwarded_proto_sets_the_scheme() -> None:
    assert resolve([("Forwarded", f"for={VISITOR};proto=https")]).scheme == "https"


def test_forwarded_host_sets_the_host() -> None:
    assert resolve([("Forwarded", f"for={VISITOR};host=Shop.Example")]).host == "shop.example"


def test_forwarded_parameters_of_the_nearest_proxy_are_used() -> None:
    header = (
        f"for={SPOOFED};proto=http;host=evil.example, for={VISITOR};proto=https;host=shop.example"
    )
    info = resolve([("Forwarded", header)])
    assert (info.ip, info.scheme, info.host) == (VISITOR, "https", "shop.example")


@pytest.mark.parametrize("node", ["unknown", "_hidden", '"[not-ipv6]"'])
def test_forwarded_obfuscated_or_garbage_node_gives_no_ip(node: str) -> None:
    assert resolve([("Forwarded", f"for={node}")]).ip is None


# -- trusted ranges ---------------------------------------------------------------------------


def test_peer_inside_a_trusted_ipv4_cidr_is_believed() -> None:
    info = resolve([("X-Forwarded-For", VISITOR)], trusted=("10.0.0.0/8",), peer="10.20.30.40")
    assert info.ip == VISITOR


def test_peer_outside_a_trusted_cidr_is_not_believed() -> None:
    info = resolve([("X-Forwarded-For", VISITOR)], trusted=("10.0.0.0/8",), peer="11.0.0.1")
    assert info.ip == "11.0.0.1"


def test_peer_inside_a_trusted_ipv6_cidr_is_believed() -> None:
    info = resolve([("X-Forwarded-For", VISITOR)], trusted=("2001:db8::/32",), peer="2001:db8::5")
    assert info.ip == VISITOR


def test_ipv4_mapped_peer_matches_a_trusted_ipv4_proxy() -> None:
    assert resolve([("X-Forwarded-For", VISITOR)], peer=f"::ffff:{PROXY}").ip == VISITOR


@pytest.mark.parametrize(
    ("ip", "trusted"),
    [
        ("10.0.0.1", True),
        ("10.9.9.9", True),
        ("11.0.0.1", False),
        ("192.0.2.1", True),
        (None, False),
    ],
)
def test_is_trusted(ip: str | None, trusted: bool) -> None:
    resolver = ProxyResolver(["10.0.0.0/8", "192.0.2.1"])
    assert resolver.is_trusted(ip) is trusted


# -- peer_is_proxy ----------------------------------------------------------------------------


def test_trusted_peer_without_forwarded_header_is_the_proxy_itself() -> None:
    info = resolve()
    assert (info.ip, info.via_proxy, info.peer_is_proxy) == (PROXY, True, True)


def test_trusted_peer_that_forwards_a_client_is_not_flagged_as_the_proxy_itself() -> None:
    assert resolve([("X-Forwarded-For", VISITOR)]).peer_is_proxy is False


# -- the parsers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("81.2.69.160", "81.2.69.160"),
        ("  81.2.69.160 ", "81.2.69.160"),
        ("::ffff:81.2.69.160", "81.2.69.160"),
        ("[2001:db8::1]:443", "2001:db8::1"),
        ("1.2.3.4:5678", "1.2.3.4"),
        ("2001:DB8:0:0::1", "2001:db8::1"),
        ("garbage", None),
        ("", None),
        ("999.1.1.1", None),
        ("[]", None),
    ],
)
def test_normalize_ip(raw: str, expected: str | None) -> None:
    assert normalize_ip(raw) == expected


def test_parse_forwarded_keeps_separators_inside_quotes() -> None:
    assert parse_forwarded('for="[2001:db8::1]:80";host="a;b,c", for=1.2.3.4') == [
        {"for": "[2001:db8::1]:80", "host": "a;b,c"},
        {"for": "1.2.3.4"},
    ]


def test_parse_forwarded_lowercases_keys() -> None:
    assert parse_forwarded("For=1.2.3.4;PROTO=https") == [{"for": "1.2.3.4", "proto": "https"}]


header_values = st.binary(max_size=80)
header_names = st.sampled_from(
    [b"x-forwarded-for", b"forwarded", b"x-forwarded-proto", b"x-forwarded-host", b"host"]
)


@given(
    headers=st.lists(st.tuples(header_names, header_values), max_size=6),
    peer=st.sampled_from([PROXY, "10.1.2.3", VISITOR, "::ffff:10.0.0.1", "2001:db8::9"]),
)
def test_arbitrary_proxy_headers_never_raise(headers: list[tuple[bytes, bytes]], peer: str) -> None:
    resolver = ProxyResolver(["10.0.0.0/8", "2001:db8::/32"])
    info = resolver.resolve({"type": "http", "client": (peer, 1), "headers": headers})
    assert info.scheme in ("http", "https")
    assert info.ip is None or ipaddress.ip_address(info.ip)


@given(st.text(max_size=80))
def test_normalize_ip_never_raises_and_returns_a_valid_address_or_none(raw: str) -> None:
    result = normalize_ip(raw)
    assert result is None or str(ipaddress.ip_address(result)) == result


@given(st.text(max_size=120))
def test_parse_forwarded_never_raises(raw: str) -> None:
    assert all(isinstance(element, dict) for element in parse_forwarded(raw))


@given(headers=st.lists(st.tuples(header_names, header_values), max_size=6))
def test_arbitrary_forwarding_headers_from_an_untrusted_peer_change_nothing(
    headers: list[tuple[bytes, bytes]],
) -> None:
    resolver = ProxyResolver(["10.0.0.0/8"])
    forwarding = [(name, value) for name, value in headers if name != b"host"]
    scope = {"type": "http", "scheme": "http", "client": (VISITOR, 1), "headers": forwarding}
    info = resolver.resolve(scope)
    assert (info.ip, info.scheme, info.host, info.via_proxy) == (VISITOR, "http", None, False)


# -- one header family, and forwarded headers that name nobody ------------------------------


def test_x_forwarded_family_ignores_a_forwarded_header_the_proxy_passed_through() -> None:
    headers = [("Forwarded", f"for={SPOOFED};proto=https;host=evil.example")]
    headers.append(("X-Forwarded-For", f"{SPOOFED}, {VISITOR}"))
    info = resolve(headers, family="x-forwarded")
    assert (info.ip, info.scheme, info.host) == (VISITOR, "http", "example.com")


def test_forwarded_family_ignores_x_forwarded_headers() -> None:
    headers = [("X-Forwarded-For", SPOOFED), ("X-Forwarded-Proto", "https")]
    headers.append(("Forwarded", f"for={VISITOR}"))
    info = resolve(headers, family="forwarded")
    assert (info.ip, info.scheme) == (VISITOR, "http")


def test_x_forwarded_family_with_only_a_forwarded_header_is_the_proxy_itself() -> None:
    # A client's own Forwarded header, passed through, is not the configured family at all.
    info = resolve([("Forwarded", f"for={SPOOFED}")], family="x-forwarded")
    assert (info.ip, info.peer_is_proxy) == (PROXY, True)


@pytest.mark.parametrize(
    "value",
    [
        "for=unknown",
        "for=_hidden",
        "proto=http",
        "for=garbage",
        "",
        'for="[::1"',
        "for=" + "9" * 60,
    ],
)
def test_forwarded_naming_nobody_leaves_the_client_unknown_not_the_proxy(value: str) -> None:
    info = resolve([("Forwarded", value)], family="forwarded")
    assert (info.ip, info.peer_is_proxy, info.peer) == (None, False, PROXY)


@pytest.mark.parametrize(
    "headers",
    [
        [("X-Forwarded-For", "unknown")],
        [("X-Forwarded-For", "")],
        [("X-Forwarded-For", f"garbage, {PROXY}")],
        [("X-Forwarded-Proto", "http")],
        [("X-Forwarded-Host", "example.com")],
    ],
)
def test_x_forwarded_naming_nobody_leaves_the_client_unknown_not_the_proxy(
    headers: list[tuple[str, str]],
) -> None:
    info = resolve(headers, family="x-forwarded")
    assert (info.ip, info.peer_is_proxy, info.peer) == (None, False, PROXY)


def test_the_peer_is_reported_with_and_without_a_proxy() -> None:
    assert resolve([("X-Forwarded-For", VISITOR)]).peer == PROXY
    assert resolve(peer=VISITOR).peer == VISITOR


def test_an_unknown_header_family_is_refused() -> None:
    with pytest.raises(ValueError, match="x-forwarded"):
        ProxyResolver([PROXY], headers="x-real-ip")  # type: ignore[arg-type]


# -- bounded caches -----------------------------------------------------------------------------


def test_hops_longer_than_any_address_are_invalid_and_not_cached() -> None:
    proxy._normalize_cached.cache_clear()
    long_hop = "1" * 54
    assert normalize_ip(long_hop) is None
    assert normalize_ip("[ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255]:65535") is not None
    assert proxy._normalize_cached.cache_info().currsize == 1


def test_peer_table_drops_its_oldest_entries_instead_of_emptying(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(proxy, "_PEERS", {})
    monkeypatch.setattr(proxy, "_MAX_PEERS", 4)
    resolver = ProxyResolver()
    for last in range(10):
        resolver.resolve(make_scope(peer=f"192.0.2.{last}"))
    assert list(proxy._PEERS) == [f"192.0.2.{last}" for last in range(6, 10)]
