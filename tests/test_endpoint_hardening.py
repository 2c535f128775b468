"""Attacks on the consent endpoints and the proxy rules, through the real middleware."""

from __future__ import annotations

import json
import logging
import urllib.parse

import httpx
import pytest

from consentgate.endpoints import (
    MAX_EXPIRED_NAMES,
    MAX_EXPIRING_COOKIES,
    MAX_JSON_DEPTH,
    RateLimiter,
    expire_cookies,
    parent_domains,
)
from consentgate.integrations import ServiceSpec

from .conftest import DE_IP, US_IP, client, gate

SAME = {"origin": "http://testserver"}
GA4 = {"provider": "ga4", "measurement_id": "G-TEST12345"}
PROXY = "10.0.0.1"


def expiring(response: httpx.Response) -> list[str]:
    return [h for h in response.headers.get_list("set-cookie") if not h.startswith("consentgate=")]


# -- non-Latin-1 next, deep JSON: never a 500, never a side effect and then a failure ------------


async def test_a_non_latin1_next_redirects_percent_encoded_after_recording_once() -> None:
    app, ledger = gate()
    async with client(app) as c:
        response = await c.post(
            "/_consent", data={"action": "accept_all", "next": "/ειδήσεις?q=ά#top"}, headers=SAME
        )
    assert response.status_code == 303
    location = response.headers["location"]
    assert (
        location == "/" + urllib.parse.quote("ειδήσεις") + "?q=" + urllib.parse.quote("ά") + "#top"
    )
    assert location.isascii()
    assert any(h.startswith("consentgate=") for h in response.headers.get_list("set-cookie"))
    assert [record.action for record in ledger.records] == ["accept_all"]


async def test_erase_with_a_non_latin1_next_erases_and_clears_the_cookie() -> None:
    app, ledger = gate()
    async with client(app) as c:
        await c.post("/_consent", data={"action": "accept_all"}, headers=SAME)
        response = await c.post("/_consent/erase", data={"next": "/ειδήσεις"}, headers=SAME)
    assert response.status_code == 303
    assert response.headers["location"] == "/" + urllib.parse.quote("ειδήσεις")
    assert 'consentgate=""; Max-Age=0' in response.headers["set-cookie"]
    assert ledger.records == []
    assert len(ledger.erasures) == 1


async def test_a_lone_surrogate_in_a_json_next_falls_back_to_root() -> None:
    app, ledger = gate()
    async with client(app) as c:
        response = await c.post(
            "/_consent",
            content=b'{"action": "accept_all", "next": "/\\ud800"}',
            headers={**SAME, "content-type": "application/json", "accept": "text/html"},
        )
    assert response.status_code == 200  # JSON in, JSON out
    assert len(ledger.records) == 1


@pytest.mark.parametrize("body", [b"[" * 5000, b'{"a":' * 3000, b"[" * 9 + b"]" * 9])
async def test_deeply_nested_json_is_400_and_records_nothing(body: bytes) -> None:
    app, ledger = gate()
    async with client(app) as c:
        response = await c.post(
            "/_consent", content=body, headers={**SAME, "content-type": "application/json"}
        )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_json"
    assert ledger.records == []


def nested_consent(depth: int) -> bytes:
    """A consent request whose object nests ``depth`` levels (json.loads parses it)."""
    inner = b'{"a":' * (depth - 1) + b"1" + b"}" * (depth - 1)
    return b'{"action": "accept_all", "categories": ["analytics"], "extra": ' + inner + b"}"


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 50])
async def test_an_object_nested_past_the_depth_limit_is_refused_by_the_limit(depth: int) -> None:
    # Parsed fine and an object, so only the depth limit answers invalid_json here; without
    # it the request would reach the field checks (invalid_field).
    body = nested_consent(depth)
    assert isinstance(json.loads(body), dict)
    app, ledger = gate()
    async with client(app) as c:
        response = await c.post(
            "/_consent", content=body, headers={**SAME, "content-type": "application/json"}
        )
    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_json",
        "detail": f"nested deeper than {MAX_JSON_DEPTH} levels",
    }
    assert "set-cookie" not in response.headers
    assert ledger.records == []


async def test_an_object_nested_up_to_the_depth_limit_passes_the_limit() -> None:
    app, _ = gate()
    async with client(app) as c:
        response = await c.post(
            "/_consent",
            content=nested_consent(MAX_JSON_DEPTH),
            headers={**SAME, "content-type": "application/json"},
        )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_field"  # the field check, not the depth limit


async def test_brackets_inside_json_strings_do_not_count_as_nesting() -> None:
    app, ledger = gate()
    async with client(app) as c:
        response = await c.post(
            "/_consent",
            json={"action": "accept_all", "next": "/" + "[{" * 50 + '\\"'},
            headers=SAME,
        )
    assert response.status_code == 200
    assert len(ledger.records) == 1


# -- clickjacking ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/_consent/settings", "/_consent/dialog"])
async def test_own_html_pages_refuse_framing_by_other_sites(path: str) -> None:
    app, _ = gate()
    async with client(app) as c:
        response = await c.get(path)
    assert response.status_code == 200
    assert response.headers["content-security-policy"] == "frame-ancestors 'self'"
    assert response.headers["x-frame-options"] == "SAMEORIGIN"


@pytest.mark.parametrize("dest", ["iframe", "frame", "embed", "object", "fencedframe"])
@pytest.mark.parametrize("path", ["/_consent", "/_consent/erase"])
async def test_a_consent_change_from_inside_a_frame_is_403(dest: str, path: str) -> None:
    app, ledger = gate(cookie_samesite="none")
    async with client(app) as c:
        response = await c.post(
            path,
            data={"action": "accept_all"},
            headers={**SAME, "sec-fetch-site": "same-origin", "sec-fetch-dest": dest},
        )
    assert response.status_code == 403
    assert response.json()["error"] == "framed"
    assert "set-cookie" not in response.headers
    assert ledger.records == []
    assert ledger.erasures == []


@pytest.mark.parametrize("dest", ["document", "empty"])
async def test_the_banner_form_and_fetch_are_not_frames(dest: str) -> None:
    app, ledger = gate()
    async with client(app) as c:
        response = await c.post(
            "/_consent",
            data={"action": "accept_all"},
            headers={**SAME, "sec-fetch-site": "same-origin", "sec-fetch-dest": dest},
        )
    assert response.status_code == 303
    assert len(ledger.records) == 1


# -- Set-Cookie amplification -----------------------------------------------------------------


async def test_an_11_kb_refusal_gets_a_bounded_number_of_expiring_cookies() -> None:
    app, _ = gate(analytics=GA4)
    labels = ".".join(f"l{i}" for i in range(60))  # 60 host labels
    host = f"{labels}.example.com"
    cookie = "; ".join(f"_ga_{i:05d}=GA1.1.{i}" for i in range(600))  # 600 GA4 cookie names
    assert len(cookie) + len(host) > 11_000
    async with client(app, base_url=f"http://{host}") as c:
        response = await c.post(
            "/_consent",
            data={"action": "reject_all"},
            headers={"origin": f"http://{host}", "cookie": cookie},
        )
    assert response.status_code == 303
    headers = expiring(response)
    assert 0 < len(headers) <= MAX_EXPIRING_COOKIES
    assert len(headers) == len(set(headers))
    assert len({h.split("=", 1)[0] for h in headers}) <= MAX_EXPIRED_NAMES


def test_parent_domains_stop_at_the_registrable_domain() -> None:
    assert parent_domains("www.shop.example.co.uk") == [
        "www.shop.example.co.uk",
        "shop.example.co.uk",
        "example.co.uk",
    ]
    assert parent_domains("alice.github.io") == ["alice.github.io"]  # a private suffix
    assert parent_domains("co.uk") == []
    assert parent_domains("WWW.Example.COM.:8080") == ["www.example.com", "example.com"]


def test_parent_domains_never_go_above_the_cookie_domain() -> None:
    domains = parent_domains("a.www.shop.example.com", cookie_domain="shop.example.com")
    assert domains == ["a.www.shop.example.com", "www.shop.example.com", "shop.example.com"]
    assert parent_domains("other.example.org", cookie_domain="shop.example.com") == []


@pytest.mark.parametrize(
    "host",
    [
        "exa mple.com",
        "evil_host.example.com",
        "-bad.example.com",
        "x" * 64 + ".example.com",
        ("a." * 127) + "example.com",
        "[2001:db8::1]:443",
        "10.0.0.1:80",
        "example.com:port",
        "ex\u00e4mple.com",
        "",
        None,
    ],
)
def test_parent_domains_only_for_valid_hostnames(host: str | None) -> None:
    assert parent_domains(host) == []


def service(name: str, *cookies: str) -> ServiceSpec:
    return ServiceSpec(
        name=name,
        category="analytics",
        description="",
        vendor=None,
        privacy_url=None,
        cookies=cookies,
        cookie_path="/",
        hosts=(),
        scripts=(),
    )


def test_expiring_cookies_are_deduplicated() -> None:
    services = [service("a", "_ga", "_ga*"), service("b", "_ga")]
    headers = expire_cookies(
        ["_ga", "_ga", "keep"], services, frozenset({"analytics"}), "www.example.com"
    )
    assert len(headers) == len(set(headers)) == 3  # host-only, www.example.com, example.com


def test_cookie_names_that_are_not_tokens_get_no_header() -> None:
    services = [service("a", "_ga*")]
    headers = expire_cookies(["_ga x", "_ga\x01"], services, frozenset({"analytics"}), None)
    assert headers == []


# -- rate limiting --------------------------------------------------------------------------------


async def test_one_ipv6_64_shares_one_bucket() -> None:
    app, ledger = gate(rate_limit_per_minute=3)
    codes = []
    for host in range(1, 9):
        async with client(app, ip=f"2001:db8:1:2::{host:x}") as c:
            codes.append((await c.post("/_consent", data={"action": "accept_all"})).status_code)
    async with client(app, ip="2001:db8:1:3::1") as c:  # the next /64
        other = (await c.post("/_consent", data={"action": "accept_all"})).status_code
    assert codes == [303, 303, 303, 429, 429, 429, 429, 429]
    assert other == 303
    assert len(ledger.records) == 4


def test_a_full_rate_table_drops_only_its_least_recently_used_bucket() -> None:
    limiter = RateLimiter(1, clock=lambda: 0.0, max_keys=3)
    assert limiter.allow("192.0.2.1")
    for key in ("192.0.2.2", "192.0.2.3"):
        limiter.allow(key)
    assert not limiter.allow("192.0.2.1")  # used again: now the most recent
    limiter.allow("192.0.2.4")  # the table is full: 192.0.2.2 goes
    assert len(limiter) == 3
    assert not limiter.allow("192.0.2.1")
    assert limiter.allow("192.0.2.2")  # forgotten, so a fresh bucket


# -- the proxy rules, end to end ------------------------------------------------------------------


async def test_a_passed_through_forwarded_header_cannot_choose_the_country() -> None:
    app, ledger = gate(trusted_proxies=[PROXY])
    headers = {"forwarded": f"for={US_IP}", "x-forwarded-for": DE_IP}
    async with client(app, ip=PROXY) as c:
        state = (await c.get("/_consent", headers=headers)).json()
        await c.post("/_consent", data={"action": "reject_all"}, headers=headers)
    assert (state["consent"]["country"], state["consent"]["show_banner"]) == ("DE", True)
    assert ledger.records[0].ip == DE_IP


@pytest.mark.parametrize(
    ("family", "headers"),
    [
        ("forwarded", {"forwarded": "proto=http"}),
        ("forwarded", {"forwarded": "for=unknown"}),
        ("x-forwarded", {"x-forwarded-for": "unknown"}),
        ("x-forwarded", {"x-forwarded-for": "_hidden"}),
    ],
)
async def test_an_unusable_forwarded_header_is_rate_limited_and_records_no_ip(
    family: str, headers: dict[str, str]
) -> None:
    app, ledger = gate(trusted_proxies=[PROXY], forwarded_headers=family, rate_limit_per_minute=3)
    async with client(app, ip=PROXY) as c:
        codes = [
            (await c.post("/_consent", data={"action": "accept_all"}, headers=headers)).status_code
            for _ in range(5)
        ]
    assert codes == [303, 303, 303, 429, 429]
    assert [record.ip for record in ledger.records] == [None, None, None]


async def test_the_proxy_itself_without_forwarded_headers_is_exempt() -> None:
    app, _ = gate(trusted_proxies=[PROXY], rate_limit_per_minute=1)
    async with client(app, ip=PROXY) as c:
        codes = [
            (await c.post("/_consent", data={"action": "accept_all"})).status_code for _ in range(3)
        ]
    assert codes == [303, 303, 303]


# -- an untrusted TLS proxy ---------------------------------------------------------------------


async def test_an_https_origin_over_plain_http_logs_the_fix_once_without_ips(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app, _ = gate()
    headers = {"origin": "https://shop.example.com"}
    with caplog.at_level(logging.WARNING, logger="consentgate"):
        async with client(app, base_url="http://shop.example.com") as c:
            codes = [
                (
                    await c.post("/_consent", data={"action": "accept_all"}, headers=headers)
                ).status_code
                for _ in range(2)
            ]
    hints = [r for r in caplog.records if "trusted_proxies" in r.getMessage()]
    assert codes == [403, 403]
    assert len(hints) == 1
    assert hints[0].levelno == logging.WARNING
    assert DE_IP not in hints[0].getMessage()


@pytest.mark.parametrize(
    "origin", ["https://evil.example", "http://evil.example", "https://shop.example.com.evil"]
)
async def test_other_cross_origin_refusals_give_no_proxy_hint(
    origin: str, caplog: pytest.LogCaptureFixture
) -> None:
    app, _ = gate()
    with caplog.at_level(logging.WARNING, logger="consentgate"):
        async with client(app, base_url="http://shop.example.com") as c:
            response = await c.post(
                "/_consent", data={"action": "accept_all"}, headers={"origin": origin}
            )
    assert response.status_code == 403
    assert not [r for r in caplog.records if "trusted_proxies" in r.getMessage()]
