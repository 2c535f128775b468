"""TCF mode end to end over ASGI: the CMP API in <head>, TC strings from choices, the cookie."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from consentgate import ConfigError, ConsentMiddleware
from consentgate.ledger import MemoryLedger
from consentgate.tcf import decode
from consentgate.tcf.cmp import CmpState, cmp_script
from consentgate.tcf.gvl import load_gvl, synthetic_gvl_path
from consentgate.tcf.offer import TcfOffer
from consentgate.tcf.setup import prepare_tcf

from .conftest import DE_IP, US_IP, FakeGeo, client, html_app, make_settings

SYNTHETIC = synthetic_gvl_path()
ORIGIN = {"origin": "http://testserver"}
PAGE_HEADERS = {"accept": "text/html"}


def tcf_settings(**values: Any) -> dict[str, Any]:
    return {
        "enabled": True,
        "cmp_id": 300,
        "cmp_version": 3,
        "vendors": [1, 2, 755],
        "gvl_path": str(SYNTHETIC),
        "publisher_country": "DE",
        "google_atps": [89, 70],
    } | values


def tcf_gate(**overrides: Any) -> tuple[ConsentMiddleware, MemoryLedger]:
    ledger = MemoryLedger()
    values: dict[str, Any] = {"tcf": tcf_settings(), "banner": {"languages": ["en", "de"]}}
    values.update(overrides)
    middleware = ConsentMiddleware(
        html_app(), settings=make_settings(**values), ledger=ledger, country_database=FakeGeo()
    )
    return middleware, ledger


def cmp_config(page: str) -> dict[str, Any]:
    found = re.search(r"\}\)\(window, document, (\{.*?\})\);</script>", page)
    assert found, "no CMP API script in the page"
    config: dict[str, Any] = json.loads(found.group(1))
    return config


async def choose(middleware: ConsentMiddleware, **form: Any) -> dict[str, Any]:
    async with client(middleware) as c:
        answer = await c.post(
            "/_consent",
            json=form,
            headers=ORIGIN | {"accept": "application/json"},
        )
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        body["_cookies"] = answer.headers.get_list("set-cookie")
        return body


async def test_regulated_undecided_page_gets_the_cmp_api_first_in_head() -> None:
    middleware, _ = tcf_gate()
    async with client(middleware) as c:
        page = (await c.get("/", headers=PAGE_HEADERS)).text
    head = page[page.index("<head>") : page.index("</head>")]
    assert head.index("__tcfapi") < head.index("gtag") if "gtag" in head else "__tcfapi" in head
    config = cmp_config(page)
    assert config["tc"] is None
    assert config["gdpr"] is True
    assert config["shown"] is True
    assert config["id"] == 300
    assert config["ver"] == 3
    assert config["atps"] == "70.89"


async def test_unregulated_visitors_get_gdpr_applies_false() -> None:
    middleware, _ = tcf_gate()
    async with client(middleware, ip=US_IP) as c:
        page = (await c.get("/", headers=PAGE_HEADERS)).text
    config = cmp_config(page)
    assert config["gdpr"] is False
    assert config["tc"] is None


async def test_the_banner_lists_purposes_from_the_gvl_in_the_visitors_language() -> None:
    middleware, _ = tcf_gate()
    async with client(middleware) as c:
        page = (await c.get("/", headers=PAGE_HEADERS | {"accept-language": "de"})).text
    assert "Wir und unsere 3 Partner" in page
    assert 'value="tcf_p1"' in page
    assert "Informationen auf einem Gerät speichern und/oder abrufen" in page
    assert 'value="tcf_o2"' in page  # LI objection for purpose 2 (Google claims LI)
    assert 'value="tcf_v755"' in page
    assert 'value="tcf_sf1"' in page  # vendor 1 uses precise geolocation
    assert "https://vendor755.example/privacy" in page


async def test_accept_all_makes_a_tc_string_with_every_consent() -> None:
    middleware, ledger = tcf_gate()
    body = await choose(middleware, action="accept_all")
    tc_string = body["consent"]["tc_string"]
    model = decode(tc_string)
    assert model.cmp_id == 300
    assert model.cmp_version == 3
    assert model.vendor_list_version == 1
    assert model.policy_version == 5
    assert model.publisher_country == "DE"
    assert model.purpose_consents == frozenset({1, 2, 3, 4, 7, 8, 9, 10})  # 10: flexible
    assert model.vendor_consents == frozenset({1, 2, 755})
    assert model.special_feature_opt_ins == frozenset({1})
    assert model.purpose_li_transparency == frozenset({2, 7, 9, 10})
    assert model.vendor_li == frozenset({2, 755})
    assert model.disclosed_vendors == frozenset({1, 2, 755})
    assert model.created == model.last_updated
    assert model.created.time() == datetime.min.time()  # day precision
    assert f"euconsent-v2={tc_string}; Path=/" in " ".join(body["_cookies"])
    assert "advertising" in body["consent"]["granted"]
    assert ledger.records[-1].granted[-1] == "tcf_v755"
    assert ledger.records[-1].tc_string == tc_string


async def test_the_tc_string_names_the_language_the_banner_was_shown_in() -> None:
    middleware, ledger = tcf_gate()
    async with client(middleware) as c:
        answer = await c.post(
            "/_consent",
            json={"action": "accept_all"},
            headers=ORIGIN | {"accept": "application/json", "accept-language": "de-AT,de;q=0.9"},
        )
        tc_string = answer.json()["consent"]["tc_string"]
        assert decode(tc_string).consent_language == "DE"
        assert ledger.records[-1].tc_string == tc_string
        cookie = answer.cookies["consentgate"]
        assert len(cookie) < 200
        # Later pages, whatever their Accept-Language, rebuild the same string from the cookie.
        page = (await c.get("/", headers=PAGE_HEADERS | {"accept-language": "en"})).text
        assert cmp_config(page)["tc"] == tc_string
    # Without Accept-Language: the default banner language.
    body = await choose(tcf_gate()[0], action="accept_all")
    assert decode(body["consent"]["tc_string"]).consent_language == "EN"


async def test_reject_all_keeps_legitimate_interest_and_refuses_consents() -> None:
    middleware, _ = tcf_gate()
    body = await choose(middleware, action="reject_all")
    model = decode(body["consent"]["tc_string"])
    assert model.purpose_consents == frozenset()
    assert model.vendor_consents == frozenset()
    assert model.special_feature_opt_ins == frozenset()
    assert model.purpose_li_transparency == frozenset({2, 7, 9, 10})
    assert "advertising" not in body["consent"]["granted"]


async def test_a_custom_choice_with_objections() -> None:
    middleware, _ = tcf_gate()
    body = await choose(
        middleware,
        action="save",
        categories=["advertising", "tcf_p1", "tcf_p3", "tcf_v755", "tcf_o2", "tcf_o10"],
    )
    model = decode(body["consent"]["tc_string"])
    assert model.purpose_consents == frozenset({1, 3})
    assert model.vendor_consents == frozenset({755})
    assert model.purpose_li_transparency == frozenset({7, 9})
    assert "advertising" in body["consent"]["granted"]  # purpose 1 and Google


async def test_advertising_needs_google_and_storage() -> None:
    middleware, _ = tcf_gate()
    body = await choose(middleware, action="save", categories=["advertising", "tcf_p1", "tcf_v1"])
    assert "advertising" not in body["consent"]["granted"]
    body = await choose(middleware, action="save", categories=["tcf_p1", "tcf_v755"])
    assert "advertising" not in body["consent"]["granted"]  # never granted unasked


async def test_a_decided_page_carries_the_tc_string_and_the_consent_exposes_it() -> None:
    middleware, _ = tcf_gate()
    async with client(middleware) as c:
        answer = await c.post(
            "/_consent", data={"action": "accept_all"}, headers=ORIGIN, follow_redirects=False
        )
        assert answer.status_code == 303
        page = (await c.get("/", headers=PAGE_HEADERS)).text
    config = cmp_config(page)
    assert config["tc"] == answer.cookies["euconsent-v2"]
    assert config["shown"] is False
    assert config["ads"] is True
    assert decode(config["tc"]).vendor_consents == frozenset({1, 2, 755})


async def test_the_tc_string_is_recreated_when_the_gvl_version_changes(tmp_path: Path) -> None:
    middleware, _ = tcf_gate()
    async with client(middleware) as c:
        await c.post("/_consent", data={"action": "accept_all"}, headers=ORIGIN)
        cookies = dict(c.cookies)
    newer = tmp_path / "gvl"
    shutil.copytree(SYNTHETIC, newer)
    data = json.loads((newer / "vendor-list.json").read_text())
    data["vendorListVersion"] = 7
    (newer / "vendor-list.json").write_text(json.dumps(data))
    updated, _ = tcf_gate(tcf=tcf_settings(gvl_path=str(newer)))
    async with client(updated) as c:
        c.cookies.update(cookies)
        page = (await c.get("/", headers=PAGE_HEADERS)).text
    model = decode(cmp_config(page)["tc"])
    assert model.vendor_list_version == 7
    assert model.vendor_consents == frozenset({1, 2, 755})


async def test_erase_expires_the_tc_string_cookie() -> None:
    middleware, _ = tcf_gate()
    async with client(middleware) as c:
        await c.post("/_consent", data={"action": "accept_all"}, headers=ORIGIN)
        answer = await c.post("/_consent/erase", data={}, headers=ORIGIN)
    assert any(
        v.startswith("euconsent-v2=;") and "Max-Age=0" in v
        for v in answer.headers.get_list("set-cookie")
    )


def test_unknown_vendors_are_refused_at_start_up() -> None:
    with pytest.raises(ConfigError, match=r"tcf\.vendors: 4 not in the GVL"):
        tcf_gate(tcf=tcf_settings(vendors=[4, 755]))


def test_a_missing_gvl_is_refused_at_start_up(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"tcf\.gvl_path"):
        tcf_gate(tcf=tcf_settings(gvl_path=str(tmp_path)))


def test_a_stale_gvl_is_warned_about(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    copy = tmp_path / "gvl"
    shutil.copytree(SYNTHETIC, copy)
    data = json.loads((copy / "vendor-list.json").read_text())
    del data["syntheticNotice"]
    (copy / "vendor-list.json").write_text(json.dumps(data))
    settings = make_settings(tcf=tcf_settings(gvl_path=str(copy)))
    last = datetime(2026, 2, 19, 16, tzinfo=UTC).timestamp()
    with caplog.at_level(logging.WARNING, logger="consentgate"):
        prepare_tcf(settings, now=last + 13 * 86_400)
    assert "older than two weeks" not in caplog.text
    with caplog.at_level(logging.WARNING, logger="consentgate"):
        prepare_tcf(settings, now=last + 15 * 86_400)
    assert "older than two weeks" in caplog.text


def test_limited_ads_before_a_choice_are_refused_in_tcf_mode() -> None:
    with pytest.raises(ConfigError, match=r"ads\.before_choice"):
        make_settings(tcf=tcf_settings(), ads={"provider": "gpt", "before_choice": "limited"})


def test_advertising_needs_purpose_one_and_google() -> None:
    gvl = load_gvl(SYNTHETIC, ["en"])
    offer = TcfOffer.build(
        gvl=gvl, vendors=[755], cmp_id=300, cmp_version=1, publisher_country="DE", google_atps=[89]
    )
    assert offer.refine("reject_all", frozenset()) == frozenset()
    both = frozenset({"advertising", "tcf_p1", "tcf_v755"})
    assert offer.refine("accept_all", both) == both
    assert offer.refine("save", both - {"tcf_v755"}) == {"tcf_p1"}


def test_the_cmp_script_cannot_be_broken_out_of() -> None:
    state = CmpState(
        tc_string="</script><script>alert(1)</script>",
        gdpr_applies=True,
        banner_shown=False,
        advertising=False,
        cmp_id=300,
        cmp_version=1,
        gvl_version=1,
        policy_version=5,
        publisher_country="DE",
        google_atps=(),
        cookie_name="euconsent-v2",
        expires_at=0,
    )
    script = cmp_script(state)
    assert "</" not in script
    assert "<script" not in script


async def test_pages_keep_their_tc_string_per_visitor() -> None:
    middleware, _ = tcf_gate()
    strings = []
    for action in ("accept_all", "reject_all"):
        async with client(middleware, ip=DE_IP) as c:
            await c.post("/_consent", data={"action": action}, headers=ORIGIN)
            strings.append(cmp_config((await c.get("/", headers=PAGE_HEADERS)).text)["tc"])
    assert strings[0] != strings[1]
    assert decode(strings[1]).purpose_consents == frozenset()


async def test_a_strict_csp_gets_the_hash_of_the_cmp_script() -> None:
    headers = [
        (b"content-type", b"text/html; charset=utf-8"),
        (b"content-security-policy", b"script-src 'self'"),
    ]
    middleware = ConsentMiddleware(
        html_app(headers=headers),
        settings=make_settings(tcf=tcf_settings()),
        ledger=MemoryLedger(),
        country_database=FakeGeo(),
    )
    async with client(middleware) as c:
        answer = await c.get("/", headers=PAGE_HEADERS)
    script = re.search(r"<script>(\(function \(w, d, C\).*?)</script>", answer.text, re.S)
    assert script is not None
    digest = base64.b64encode(hashlib.sha256(script.group(1).encode()).digest()).decode()
    assert f"'sha256-{digest}'" in answer.headers["content-security-policy"]


async def test_render_ids_stay_bounded_and_pages_stay_right(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import consentgate.visit

    monkeypatch.setitem(consentgate.visit.CACHE_BUDGETS, "render ids", 3000)
    middleware, _ = tcf_gate()
    choices = [["tcf_p1"], ["tcf_p2"], ["tcf_p3"], ["tcf_p1"]]
    for chosen in choices:
        async with client(middleware) as c:
            await c.post("/_consent", data={"action": "save", "categories": chosen}, headers=ORIGIN)
            page = (await c.get("/", headers=PAGE_HEADERS)).text
        expected = {int(chosen[0].removeprefix("tcf_p"))}
        assert decode(cmp_config(page)["tc"]).purpose_consents == expected
        render_ids = middleware.visits._render_ids
        assert render_ids.used <= 3000
        assert len(render_ids) <= 3000 // 500  # an entry (TC string and two sets) is larger


def big_gvl(tmp_path: Path, count: int) -> Path:
    copy = tmp_path / "gvl"
    shutil.copytree(SYNTHETIC, copy)
    data = json.loads((copy / "vendor-list.json").read_text())
    template = data["vendors"]["755"]
    data["vendors"] = {
        str(i): template | {"id": i, "name": f"Vendor {i}"} for i in range(1000, 1000 + count)
    }
    (copy / "vendor-list.json").write_text(json.dumps(data))
    return copy


async def test_the_signed_cookie_fits_with_the_largest_vendor_list(tmp_path: Path) -> None:
    vendors = list(range(1000, 1300))
    middleware, _ = tcf_gate(
        tcf=tcf_settings(vendors=vendors, gvl_path=str(big_gvl(tmp_path, 300)))
    )
    body = await choose(middleware, action="accept_all")
    signed = next(v for v in body["_cookies"] if v.startswith("consentgate="))
    assert len(signed) < 4096
    assert decode(body["consent"]["tc_string"]).vendor_consents == frozenset(vendors)


def test_more_vendors_than_a_cookie_holds_are_refused() -> None:
    with pytest.raises(ConfigError, match=r"tcf\.vendors: at most 300 vendors"):
        make_settings(tcf=tcf_settings(vendors=list(range(1, 302))))


def test_own_categories_that_clash_with_tcf_ones_are_refused() -> None:
    own = [
        {"name": "necessary", "required": True, "code": "n"},
        {"name": "extras", "code": "p1"},
    ]
    with pytest.raises(ConfigError, match="tcf_p1"):
        tcf_gate(categories=own)
