"""TCF mode in real Chromium: __tcfapi statuses, frames, TC strings from choices, ad tags, axe.

The page is served by uvicorn on 127.0.0.1; a frame from http://localhost (another origin) asks
the CMP through postMessage. Every request to any other host is recorded and aborted.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Route
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route as StarletteRoute

from consentgate import ConsentMiddleware
from consentgate.ledger import MemoryLedger
from consentgate.tcf import decode
from consentgate.tcf.gvl import synthetic_gvl_path

from .conftest import make_settings
from .live import serve

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>TCF article</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><header><h1>News of the day</h1></header>
<main><p>Readers in Europe see a consent dialog first.</p>{frame}</main></body></html>"""

FRAME = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>ad frame</title>
</head><body><p>frame</p><script>
window.addEventListener("message", function (e) {
  var d = typeof e.data === "string" ? JSON.parse(e.data) : e.data;
  if (d && d.__tcfapiReturn) (window.answers = window.answers || []).push(d.__tcfapiReturn);
});
window.ask = function (command, callId) {
  var f = window, found = null;
  while (!found) {
    try { if (f.frames["__tcfapiLocator"]) found = f; } catch (err) {}
    if (f === window.top) break;
    f = f.parent;
  }
  if (!found) return false;
  found.postMessage({ __tcfapiCall: { command: command, version: 2, callId: callId } }, "*");
  return true;
};
</script></body></html>"""

# Records, at the moment a Google ad script element enters the page, the TC string the CMP
# gives: the browser only requests the script after that.
AD_TAG_WATCH = """
window.adTagSeen = [];
new MutationObserver(function (records) {
  records.forEach(function (r) {
    r.addedNodes.forEach(function (n) {
      if (n.tagName === "SCRIPT" && n.src && n.src.indexOf("googlesyndication") >= 0) {
        var tc = null;
        if (window.__tcfapi) window.__tcfapi("getTCData", 2, function (d) { tc = d.tcString; });
        window.adTagSeen.push(tc);
      }
    });
  });
}).observe(document, { childList: true, subtree: true });
"""

CALL = """([command]) => new Promise((resolve) => {
  window.__tcfapi(command, 2, (value, success) => resolve({value, success}));
})"""

LISTEN = """() => { window.events = [];
  window.__tcfapi("addEventListener", 2, (d, ok) => window.events.push(
    {status: d.eventStatus, tc: d.tcString, id: d.listenerId, gdpr: d.gdprApplies,
     ac: d.addtlConsent, mode: d.enableAdvertiserConsentMode, ok: ok}));
}"""


async def page_view(request: Request) -> HTMLResponse:
    frame = request.query_params.get("frame")
    markup = ""
    if frame:
        markup = f'<iframe title="ad" src="{frame}/frame" width="300" height="100"></iframe>'
    return HTMLResponse(PAGE.format(frame=markup))


async def frame_view(request: Request) -> HTMLResponse:
    return HTMLResponse(FRAME)


def build_app() -> ConsentMiddleware:
    app = Starlette(routes=[StarletteRoute("/", page_view), StarletteRoute("/frame", frame_view)])
    return ConsentMiddleware(
        app,
        settings=make_settings(
            trusted_proxies=["127.0.0.1"],
            country_header="x-test-country",
            exclude_paths=["/frame"],
            ads={"provider": "adsense", "client": "ca-pub-1234567890123456"},
            banner={"languages": ["en", "de"]},
            tcf={
                "enabled": True,
                "cmp_id": 300,
                "cmp_version": 2,
                "vendors": [1, 2, 755],
                "gvl_path": str(synthetic_gvl_path()),
                "publisher_country": "DE",
                "google_atps": [89],
            },
        ),
        ledger=MemoryLedger(),
    )


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with serve(build_app()) as url:
        yield url


class Visitor:
    """A browser context from one country; requests off the loopback host names are aborted."""

    def __init__(self, browser: Browser, country: str, **options: Any) -> None:
        self.context: BrowserContext = browser.new_context(
            extra_http_headers={"x-test-country": country}, **options
        )
        self.requests: list[str] = []
        self.context.route("**/*", self._route)
        self.context.add_init_script(AD_TAG_WATCH)
        self.page: Page = self.context.new_page()

    def _route(self, route: Route) -> None:
        if urlsplit(route.request.url).hostname in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            self.requests.append(route.request.url)
            route.abort()

    def ad_requests(self) -> list[str]:
        return [u for u in self.requests if "googlesyndication" in u]

    def call(self, command: str) -> dict[str, Any]:
        result: dict[str, Any] = self.page.evaluate(CALL, [command])
        return result

    def events(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.page.evaluate("window.events")
        return found


@pytest.fixture
def visitor(browser: Browser) -> Iterator[Callable[..., Visitor]]:
    made: list[Visitor] = []

    def make(country: str = "DE", **options: Any) -> Visitor:
        made.append(Visitor(browser, country, **options))
        return made[-1]

    yield make
    for v in made:
        v.context.close()


def test_ping_and_listener_before_a_choice(base_url: str, visitor: Callable[..., Visitor]) -> None:
    v = visitor()
    v.page.goto(base_url + "/")
    ping = v.call("ping")["value"]
    assert ping["gdprApplies"] is True
    assert ping["cmpLoaded"] is True
    assert ping["cmpStatus"] == "loaded"
    assert ping["displayStatus"] == "visible"
    assert ping["apiVersion"] == "2.3"
    assert (ping["cmpId"], ping["cmpVersion"], ping["gvlVersion"]) == (300, 2, 1)
    assert ping["tcfPolicyVersion"] == 5
    v.page.evaluate(LISTEN)
    (event,) = v.events()
    assert event["status"] == "cmpuishown"
    assert event["tc"] == ""
    assert event["ok"] is True
    assert v.ad_requests() == []


def test_accept_all_reaches_listeners_and_loads_the_ad_tag_after_the_tc_string(
    base_url: str, visitor: Callable[..., Visitor]
) -> None:
    v = visitor()
    v.page.goto(base_url + "/")
    v.page.evaluate(LISTEN)
    v.page.click("#consentgate-accept")
    v.page.wait_for_function("window.events.length >= 2")
    first, second = v.events()[:2]
    assert first["status"] == "cmpuishown"
    assert second["status"] == "useractioncomplete"
    assert second["id"] == first["id"]
    assert second["ac"] == "2~89~dv.89"
    assert second["mode"] is True
    model = decode(second["tc"])
    assert model.purpose_consents >= {1, 2, 3, 4, 7, 9, 10}
    assert model.vendor_consents == frozenset({1, 2, 755})
    assert model.special_feature_opt_ins == frozenset({1})
    assert v.call("ping")["value"]["displayStatus"] == "hidden"
    v.page.wait_for_function("window.adTagSeen.length > 0")
    seen = v.page.evaluate("window.adTagSeen")
    assert seen
    assert all(tc == second["tc"] for tc in seen)
    v.page.wait_for_timeout(300)
    assert v.ad_requests()
    cookie = {c["name"]: c["value"] for c in v.context.cookies()}
    assert cookie["euconsent-v2"] == second["tc"]


def test_reject_all_gives_a_tc_string_without_consents(
    base_url: str, visitor: Callable[..., Visitor]
) -> None:
    v = visitor()
    v.page.goto(base_url + "/")
    v.page.evaluate(LISTEN)
    v.page.click("#consentgate-reject")
    v.page.wait_for_function("window.events.length >= 2")
    last = v.events()[-1]
    assert last["status"] == "useractioncomplete"
    model = decode(last["tc"])
    assert model.purpose_consents == frozenset()
    assert model.vendor_consents == frozenset()
    assert model.purpose_li_transparency == frozenset({2, 7, 9, 10})
    assert last["ac"] == "2~~dv.89"
    seen = v.page.evaluate("window.adTagSeen")
    assert all(tc == last["tc"] for tc in seen)


def test_a_decided_visitor_gets_tcloaded_at_once_and_the_ad_tag_after_it(
    base_url: str, visitor: Callable[..., Visitor]
) -> None:
    v = visitor()
    v.page.goto(base_url + "/")
    v.page.click("#consentgate-accept")
    v.page.wait_for_function("window.adTagSeen.length > 0")
    v.requests.clear()
    v.page.goto(base_url + "/")
    v.page.evaluate(LISTEN)
    (event,) = v.events()
    assert event["status"] == "tcloaded"
    assert decode(event["tc"]).vendor_consents == frozenset({1, 2, 755})
    v.page.wait_for_timeout(300)
    seen = v.page.evaluate("window.adTagSeen")
    assert seen
    assert all(tc == event["tc"] for tc in seen)
    assert v.ad_requests()


def test_remove_event_listener(base_url: str, visitor: Callable[..., Visitor]) -> None:
    v = visitor()
    v.page.goto(base_url + "/")
    v.page.evaluate(LISTEN)
    listener = v.events()[0]["id"]
    removed = v.page.evaluate(
        """(id) => new Promise(r => window.__tcfapi("removeEventListener", 2, r, id))""", listener
    )
    assert removed is True
    v.page.click("#consentgate-reject")
    v.page.wait_for_timeout(500)
    assert len(v.events()) == 1


def test_unregulated_visitors_get_gdpr_applies_false(
    base_url: str, visitor: Callable[..., Visitor]
) -> None:
    v = visitor("US")
    v.page.goto(base_url + "/")
    ping = v.call("ping")["value"]
    assert ping["gdprApplies"] is False
    assert ping["displayStatus"] == "disabled"
    data = v.call("getTCData")["value"]
    assert data["gdprApplies"] is False
    assert data["eventStatus"] == "tcloaded"


def test_a_cross_origin_frame_gets_answers_through_post_message(
    base_url: str, visitor: Callable[..., Visitor]
) -> None:
    port = urlsplit(base_url).port
    v = visitor()
    v.page.goto(f"{base_url}/?frame=http://localhost:{port}")
    frame = v.page.frame_locator("iframe[title=ad]")
    frame.locator("p").wait_for()
    child = next(f for f in v.page.frames if f.url.startswith("http://localhost"))
    child.wait_for_function("typeof window.ask === 'function'")
    with pytest.raises(Exception, match=r"cross-origin|Blocked|SecurityError"):
        child.evaluate("window.parent.__tcfapi.toString()")
    assert child.evaluate("window.ask('ping', 'call-1')") is True
    child.wait_for_function("(window.answers || []).length >= 1")
    answer = child.evaluate("window.answers[0]")
    assert answer["callId"] == "call-1"
    assert answer["success"] is True
    assert answer["returnValue"]["cmpId"] == 300
    assert answer["returnValue"]["gdprApplies"] is True
    child.evaluate("window.ask('getTCData', 'call-2')")
    child.wait_for_function("window.answers.length >= 2")
    assert child.evaluate("window.answers[1]")["returnValue"]["eventStatus"] == "cmpuishown"


def test_without_javascript_the_form_path_sets_the_tc_string_cookie(
    base_url: str, visitor: Callable[..., Visitor]
) -> None:
    v = visitor(java_script_enabled=False)
    v.page.goto(base_url + "/")
    v.page.click("#consentgate-reject")
    v.page.wait_for_load_state()
    cookies = {c["name"]: c["value"] for c in v.context.cookies()}
    model = decode(cookies["euconsent-v2"])
    assert model.purpose_consents == frozenset()
    assert model.cmp_id == 300


def test_the_second_layer_offers_purposes_objections_and_vendors(
    base_url: str, visitor: Callable[..., Visitor]
) -> None:
    v = visitor()
    v.page.goto(base_url + "/")
    v.page.evaluate(LISTEN)
    v.page.click("#consentgate-customize")
    for value in ("tcf_p1", "tcf_p3", "tcf_v755", "tcf_o7"):
        v.page.locator(f'input[name="categories"][value="{value}"]').check()
    v.page.click("#consentgate-save")
    v.page.wait_for_function("window.events.length >= 2")
    model = decode(v.events()[-1]["tc"])
    assert model.purpose_consents == frozenset({1, 3})
    assert model.vendor_consents == frozenset({755})
    assert model.purpose_li_transparency == frozenset({2, 9, 10})


def test_axe_finds_no_violation_on_both_layers(
    base_url: str, visitor: Callable[..., Visitor]
) -> None:
    from axe_playwright_python.sync_playwright import Axe

    v = visitor()
    v.page.goto(base_url + "/")
    v.page.wait_for_timeout(200)
    for step in ("first", "second"):
        if step == "second":
            v.page.click("#consentgate-customize")
        results = Axe().run(v.page)
        bad = [
            (item["id"], item["impact"], json.dumps(item["nodes"][0]["target"]))
            for item in results.response["violations"]
        ]
        assert bad == [], (step, bad)


def test_reopening_the_dialog_tells_listeners_the_ui_is_shown(
    base_url: str, visitor: Callable[..., Visitor]
) -> None:
    v = visitor()
    v.page.goto(base_url + "/")
    v.page.click("#consentgate-reject")
    v.page.goto(base_url + "/")
    v.page.evaluate(LISTEN)
    v.page.click("#consentgate-reopen")
    v.page.wait_for_function("window.events.length >= 2")
    assert [e["status"] for e in v.events()] == ["tcloaded", "cmpuishown"]
    assert v.call("ping")["value"]["displayStatus"] == "visible"
    v.page.locator('input[value="tcf_v755"]').check()  # the dialog opens on its second layer
    v.page.click("#consentgate-save")
    v.page.wait_for_function("window.events.length >= 3")
    last = v.events()[-1]
    assert last["status"] == "useractioncomplete"
    assert 755 in decode(last["tc"]).vendor_consents
