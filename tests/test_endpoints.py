"""The consent endpoints: success paths, every failure code, CSRF rules, cookies, ledger."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from consentgate.cookie import ConsentCookie
from consentgate.endpoints import is_same_origin, parent_domains, safe_next
from consentgate.proxy import ClientInfo

from .conftest import DE_IP, KEY, US_IP, client, gate

SAME = {"origin": "http://testserver"}


def consent_cookie(response: httpx.Response) -> str:
    for header in response.headers.get_list("set-cookie"):
        if header.startswith("consentgate="):
            return header.split(";")[0].split("=", 1)[1]
    raise AssertionError("no consent cookie set")


async def post(c: httpx.AsyncClient, data: dict[str, Any], **kw: Any) -> httpx.Response:
    headers = {**SAME, **kw.pop("headers", {})}
    return await c.post("/_consent", data=data, headers=headers, **kw)


async def test_form_accept_all_sets_cookie_and_redirects_to_next() -> None:
    app, ledger = gate()
    async with client(app) as c:
        response = await post(c, {"action": "accept_all", "next": "/article/1?x=1"})
        assert response.status_code == 303
        assert response.headers["location"] == "/article/1?x=1"
        header = next(h for h in response.headers.get_list("set-cookie") if "consentgate=" in h)
        assert "HttpOnly" in header
        assert "SameSite=Lax" in header
        assert "Path=/" in header
        assert "Secure" not in header  # plain http
        assert f"Max-Age={182 * 86400}" in header
        assert len(consent_cookie(response)) < 200
        state = (await c.get("/_consent")).json()
    assert state["consent"]["decided"] is True
    assert set(state["consent"]["granted"]) == {
        "necessary",
        "functional",
        "analytics",
        "advertising",
    }
    assert ledger.records[0].action == "accept_all"
    assert ledger.records[0].country == "DE"
    assert ledger.records[0].ip == DE_IP
    assert ledger.records[0].ip_prefix == "1.2.3.0/24"
    assert ledger.records[0].bundle_hash in ledger.bundles


async def test_cookie_is_secure_over_https() -> None:
    app, _ = gate()
    async with client(app, base_url="https://testserver") as c:
        response = await c.post(
            "/_consent", data={"action": "reject_all"}, headers={"origin": "https://testserver"}
        )
    assert response.status_code == 303
    assert "Secure" in response.headers["set-cookie"]


async def test_json_save_returns_state_with_chosen_categories() -> None:
    app, ledger = gate()
    async with client(app) as c:
        response = await c.post(
            "/_consent",
            json={"action": "save", "categories": ["analytics"]},
            headers=SAME,
        )
    assert response.status_code == 200
    body = response.json()
    assert set(body["consent"]["granted"]) == {"necessary", "analytics"}
    assert body["consent"]["ads"] == "non_personalized"
    assert body["consent"]["google_consent_mode"]["analytics_storage"] == "granted"
    assert {c["name"]: c["granted"] for c in body["categories"]}["advertising"] is False
    assert ledger.records[0].granted == ("necessary", "analytics")


async def test_form_post_with_accept_json_gets_json() -> None:
    app, _ = gate()
    async with client(app) as c:
        response = await post(c, {"action": "reject_all"}, headers={"accept": "application/json"})
    assert response.status_code == 200
    assert response.json()["consent"]["granted"] == ["necessary"]


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example",
        "javascript:alert(1)",
        "/ok\r\nSet-Cookie: x=1",
        "relative/path",
        "",
    ],
)
async def test_unsafe_next_becomes_root(target: str) -> None:
    app, _ = gate()
    async with client(app) as c:
        response = await post(c, {"action": "reject_all", "next": target})
    assert response.headers["location"] == "/"


def test_safe_next_keeps_local_paths() -> None:
    assert safe_next("/a/b?c=d#e") == "/a/b?c=d#e"
    assert safe_next("/") == "/"


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "https://evil.example"},
        {"origin": "null"},
        {"referer": "https://evil.example/page"},
        {"sec-fetch-site": "cross-site"},
        {"origin": "http://testserver", "sec-fetch-site": "cross-site"},
        {"origin": "https://testserver"},  # other scheme is another origin
    ],
)
async def test_cross_origin_post_is_refused_and_changes_nothing(headers: dict[str, str]) -> None:
    app, ledger = gate()
    async with client(app) as c:
        response = await c.post("/_consent", data={"action": "accept_all"}, headers=headers)
    assert response.status_code == 403
    assert "set-cookie" not in response.headers
    assert ledger.records == []


async def test_request_without_origin_headers_is_allowed() -> None:
    app, _ = gate()
    async with client(app) as c:
        response = await c.post("/_consent", data={"action": "accept_all"})
    assert response.status_code == 303


async def test_same_origin_referer_and_fetch_site_are_allowed() -> None:
    app, _ = gate()
    async with client(app) as c:
        response = await c.post(
            "/_consent",
            data={"action": "accept_all"},
            headers={"referer": "http://testserver/page", "sec-fetch-site": "same-origin"},
        )
    assert response.status_code == 303


async def test_allowed_origins_are_accepted_even_cross_site() -> None:
    app, _ = gate(allowed_origins=["https://www.example.com"])
    async with client(app) as c:
        response = await c.post(
            "/_consent",
            data={"action": "accept_all"},
            headers={"origin": "https://www.example.com", "sec-fetch-site": "cross-site"},
        )
    assert response.status_code == 303


async def test_same_origin_behind_trusted_proxy_uses_forwarded_scheme_and_host() -> None:
    app, _ = gate(trusted_proxies=["10.0.0.1"])
    headers = {
        "origin": "https://shop.example.com",
        "x-forwarded-proto": "https",
        "x-forwarded-host": "shop.example.com",
        "x-forwarded-for": US_IP,
    }
    async with client(app, ip="10.0.0.1") as c:
        ok = await c.post("/_consent", data={"action": "accept_all"}, headers=headers)
    assert ok.status_code == 303
    assert "Secure" in ok.headers["set-cookie"]
    async with client(app, ip=DE_IP) as c:  # same headers from an untrusted peer
        refused = await c.post("/_consent", data={"action": "accept_all"}, headers=headers)
    assert refused.status_code == 403


def test_same_origin_ignores_default_ports() -> None:
    client_info = ClientInfo("1.2.3.4", "https", "example.com:443")
    assert is_same_origin({b"origin": b"https://example.com"}, client_info, frozenset())


async def test_rate_limit_answers_429_and_records_nothing() -> None:
    app, ledger = gate(rate_limit_per_minute=3)
    async with client(app) as c:
        codes = [(await post(c, {"action": "accept_all"})).status_code for _ in range(5)]
    assert codes == [303, 303, 303, 429, 429]
    assert len(ledger.records) == 3


async def test_rate_limit_exempts_loopback() -> None:
    app, _ = gate(rate_limit_per_minute=1)
    async with client(app, ip="127.0.0.1") as c:
        codes = [(await post(c, {"action": "accept_all"})).status_code for _ in range(3)]
    assert codes == [303, 303, 303]


async def test_oversized_body_is_413() -> None:
    app, ledger = gate()
    async with client(app) as c:
        response = await post(c, {"action": "accept_all", "pad": "x" * 20_000})
    assert response.status_code == 413
    assert ledger.records == []


async def test_unknown_action_is_400_json() -> None:
    app, _ = gate()
    async with client(app) as c:
        response = await post(c, {"action": "sell_my_data"})
    assert response.status_code == 400
    assert response.json()["error"] == "unknown_action"


async def test_unknown_category_is_400_json() -> None:
    app, _ = gate()
    async with client(app) as c:
        response = await c.post(
            "/_consent", json={"action": "save", "categories": ["telepathy"]}, headers=SAME
        )
    assert response.status_code == 400
    assert response.json() == {"error": "unknown_category", "detail": "telepathy"}


async def test_invalid_json_is_400() -> None:
    app, _ = gate()
    async with client(app) as c:
        response = await c.post(
            "/_consent",
            content=b"{not json",
            headers={**SAME, "content-type": "application/json"},
        )
    assert response.status_code == 400


async def test_wrong_method_is_405_and_unknown_path_404() -> None:
    app, _ = gate()
    async with client(app) as c:
        put = await c.put("/_consent", content=b"", headers=SAME)
        missing = await c.get("/_consent/nothing")
    assert put.status_code == 405
    assert "POST" in put.headers["allow"]
    assert missing.status_code == 404


async def test_get_state_is_no_store() -> None:
    app, _ = gate()
    async with client(app, ip=US_IP) as c:
        response = await c.get("/_consent")
    assert response.headers["cache-control"] == "no-store"
    assert response.json()["consent"]["regulated"] is False


async def test_withdraw_keeps_consent_id_and_shows_no_banner() -> None:
    app, ledger = gate()
    async with client(app) as c:
        first = (await c.post("/_consent", json={"action": "accept_all"}, headers=SAME)).json()
        withdrawn = await c.delete("/_consent", headers=SAME)
        assert withdrawn.status_code == 200
        after = (await c.get("/_consent")).json()
    assert after["consent"]["consent_id"] == first["consent"]["consent_id"]
    assert after["consent"]["granted"] == ["necessary"]
    assert after["consent"]["decided"] is True
    assert after["consent"]["show_banner"] is False
    assert [r.action for r in ledger.records] == ["accept_all", "withdraw"]


async def test_refusal_expires_cookies_of_refused_categories_on_every_parent_domain() -> None:
    app, _ = gate(analytics={"provider": "ga4", "measurement_id": "G-TEST12345"})
    async with client(app, base_url="http://www.example.test") as c:
        response = await c.post(
            "/_consent",
            data={"action": "reject_all"},
            headers={"origin": "http://www.example.test", "cookie": "_ga=GA1; _ga_ABC=x; keep=1"},
        )
    expiring = [
        h for h in response.headers.get_list("set-cookie") if not h.startswith("consentgate")
    ]
    assert "_ga=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/" in expiring
    assert any(h.startswith("_ga=;") and "Domain=example.test" in h for h in expiring)
    assert any(h.startswith("_ga=;") and "Domain=www.example.test" in h for h in expiring)
    assert any(h.startswith("_ga_ABC=;") for h in expiring)
    assert not any(h.startswith("keep=") for h in expiring)


def test_parent_domains() -> None:
    assert parent_domains("a.b.example.co:8000") == ["a.b.example.co", "b.example.co", "example.co"]
    assert parent_domains("localhost") == []
    assert parent_domains("127.0.0.1") == []


async def test_settings_page_works_without_javascript() -> None:
    app, _ = gate()
    async with client(app) as c:
        await post(c, {"action": "accept_all"})
        consent_id = (await c.get("/_consent")).json()["consent"]["consent_id"]
        page = await c.get("/_consent/settings", headers={"accept-language": "de-DE,de;q=0.9"})
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<form method="post" action="/_consent"' in page.text
    assert consent_id in page.text
    assert 'lang="de"' in page.text


async def test_dialog_fragment_for_a_page_that_carries_only_its_empty_element() -> None:
    app, _ = gate()
    async with client(app) as c:
        page = await c.get("/")
        assert '<form method="post"' in page.text  # undecided: the whole dialog, open
        await post(c, {"action": "save", "categories": ["analytics"]})
        page = await c.get("/article?id=7")
        stub = page.text.split('id="consentgate-banner"')[1].split("</div>")[0]
        assert "<form" not in stub
        assert 'data-dialog="/_consent/dialog?next=%2Farticle%3Fid%3D7"' in stub
        assert 'data-granted="analytics necessary"' in stub
        dialog = await c.get(
            "/_consent/dialog?next=/article%3Fid%3D7", headers={"accept-language": "fr"}
        )
        evil = await c.get("/_consent/dialog?next=//evil.example/")
        head = await c.head("/_consent/dialog")
    assert dialog.status_code == 200
    assert dialog.headers["content-type"] == "text/html; charset=utf-8"
    assert dialog.headers["cache-control"] == "no-store"
    assert "Cookie" in dialog.headers["vary"]
    assert dialog.text.startswith('<div id="consentgate-banner"')
    assert 'lang="fr"' in dialog.text
    assert " hidden>" in dialog.text.split(">")[0] + ">"
    assert '<input type="hidden" name="next" value="/article?id=7">' in dialog.text
    assert 'value="analytics" checked' not in dialog.text  # toggles are set by the script
    assert 'data-granted="analytics necessary"' in dialog.text
    assert 'name="next" value="/"' in evil.text
    assert "evil.example" not in evil.text
    assert head.status_code == 200
    assert head.content == b""


async def test_receipt_lists_only_the_visitors_own_records() -> None:
    app, _ = gate()
    async with client(app) as c:
        await post(c, {"action": "accept_all"})
        await post(c, {"action": "reject_all"})
        mine = (await c.get("/_consent/receipt")).json()
    async with client(app) as other:
        await post(other, {"action": "accept_all"})
        theirs = (await other.get("/_consent/receipt")).json()
    assert [r["action"] for r in mine["records"]] == ["accept_all", "reject_all"]
    assert len(theirs["records"]) == 1
    assert mine["consent_id"] != theirs["consent_id"]


async def test_receipt_ignores_query_parameters_and_bad_cookies() -> None:
    app, _ = gate()
    async with client(app) as c:
        await post(c, {"action": "accept_all"})
        consent_id = (await c.get("/_consent")).json()["consent"]["consent_id"]
    async with client(app) as stranger:
        stranger.cookies.set("consentgate", "forged.value")
        response = await stranger.get(f"/_consent/receipt?consent_id={consent_id}")
    assert response.json() == {"consent_id": None, "records": []}


async def test_erase_deletes_records_and_clears_cookie() -> None:
    app, ledger = gate()
    async with client(app) as c:
        await post(c, {"action": "accept_all"})
        response = await c.post("/_consent/erase", json={}, headers=SAME)
        assert response.json() == {"erased": 1}
        assert 'consentgate=""; Max-Age=0' in response.headers["set-cookie"]
        c.cookies.clear()
        after = (await c.get("/_consent")).json()
    assert ledger.records == []
    assert len(ledger.erasures) == 1
    assert after["consent"]["show_banner"] is True


async def test_erase_is_csrf_protected() -> None:
    app, ledger = gate()
    async with client(app) as c:
        await post(c, {"action": "accept_all"})
        response = await c.post(
            "/_consent/erase", data={}, headers={"origin": "https://evil.example"}
        )
    assert response.status_code == 403
    assert len(ledger.records) == 1


async def test_erase_form_redirects() -> None:
    app, _ = gate()
    async with client(app) as c:
        await post(c, {"action": "accept_all"})
        response = await c.post("/_consent/erase", data={"next": "/privacy"}, headers=SAME)
    assert response.status_code == 303
    assert response.headers["location"] == "/privacy"


async def test_assets_are_served_with_immutable_caching() -> None:
    app, _ = gate()
    async with client(app) as c:
        script = await c.get(f"/_consent/assets/{app.banner.script_name}")
        style = await c.get(f"/_consent/assets/{app.banner.style_name}")
        missing = await c.get("/_consent/assets/banner.js")
    assert script.status_code == 200
    assert "javascript" in script.headers["content-type"]
    assert "immutable" in script.headers["cache-control"]
    assert style.headers["content-type"].startswith("text/css")
    assert missing.status_code == 404


async def test_consent_survives_a_decision_cookie_round_trip_in_a_new_client() -> None:
    app, _ = gate()
    async with client(app) as c:
        response = await post(c, {"action": "reject_all"})
    value = consent_cookie(response)
    loaded = ConsentCookie([KEY], max_age=182 * 86400).loads(value, now=time.time())
    assert loaded is not None
    assert loaded[0].granted == frozenset()
    assert loaded[0].refused == frozenset({"f", "a", "d"})
