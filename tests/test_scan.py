"""``consentgate scan`` in real Chromium against purpose-built loopback sites and the demo.

Every request a page makes to another host is recorded and aborted (``--offline``), so
nothing leaves the machine.
"""

from __future__ import annotations

import base64
import io
import json
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from consentgate import ConsentSettings
from consentgate.cli import main
from consentgate.demo import CONFIG_PATH, create_app

from . import scan_sites
from .conftest import KEY
from .live import chromium, picture_path, serve
from .scan_sites import Site


@contextmanager
def running(site: Site, directory: Path) -> Iterator[tuple[str, Path | None]]:
    config = site.write_config(directory)
    with serve(site.app(config)) as url:
        yield url + "/", config


def scan(url: str, directory: Path, *args: str) -> tuple[int, dict[str, Any], str]:
    report = directory / "report.json"
    out = io.StringIO()
    code = main(["scan", url, "--offline", "--json", str(report), *args], out=out)
    data = json.loads(report.read_text()) if report.exists() else {}
    return code, data, out.getvalue()


def scan_site(
    site: Site, directory: Path, *args: str, pages: int = 2
) -> tuple[int, dict[str, Any], str]:
    with running(site, directory) as (url, config):
        extra = ["--config", str(config)] if config else []
        return scan(url, directory, "--pages", str(pages), *extra, *args)


def visit(data: dict[str, Any], name: str) -> dict[str, Any]:
    return next(v for v in data["visits"] if v["name"] == name)


def cookies(data: dict[str, Any], name: str) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in visit(data, name)["cookies"]}


def findings(data: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [f for f in data["findings"] if f["kind"] == kind]


def proposal(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in data["proposal"]["services"]}


def test_a_clean_site_exits_0_and_every_declared_cookie_is_seen(tmp_path: Path) -> None:
    code, data, out = scan_site(scan_sites.CLEAN, tmp_path, pages=3)

    assert code == 0, out
    assert data["schema"] == "consentgate.scan/1"
    assert data["consentgate"] is True
    assert data["banner_shown"] is True
    assert [v["name"] for v in data["visits"]] == ["before_choice", "after_reject", "after_accept"]
    assert [p["url"].rsplit("/", 1)[1] for p in visit(data, "before_choice")["pages"]] == [
        "",
        "a",
        "b",
    ]
    assert [f for f in data["findings"] if f["severity"] != "notice"] == []
    assert findings(data, "stale_cookie") == []
    assert set(cookies(data, "before_choice")) == {"sid"}
    assert set(cookies(data, "after_reject")) == {"sid", "consentgate"}
    accepted = cookies(data, "after_accept")
    assert set(accepted) == {"sid", "consentgate", "stats_id", "prefs"}
    assert accepted["prefs"]["set_by"] == "script"  # through the Cookie Store API
    assert accepted["prefs"]["script"].endswith("/static/prefs.js")
    assert accepted["sid"]["set_by"] == "header"
    assert accepted["sid"]["lifetime_seconds"] is None
    stats = accepted["stats_id"]
    assert stats["set_by"] == "script"
    assert stats["script"].endswith("/static/stats.js")
    assert 365 * 86_400 - 120 < stats["lifetime_seconds"] <= 365 * 86_400
    assert stats["party"] == "first"
    assert stats["declared"] is True
    assert stats["category"] == "analytics"
    assert stats["service"] == "Site statistics"
    assert visit(data, "before_choice")["requests"] == []
    assert visit(data, "after_reject")["requests"] == []
    hits = visit(data, "after_accept")["requests"]
    assert {r["host"] for r in hits} == {"stats.example-analytics.net"}
    assert all(r["declared"] and r["category"] == "analytics" for r in hits)
    assert {(s["kind"], s["key"]) for s in visit(data, "after_accept")["storage"]} == {
        ("local", "stats_last")
    }
    assert visit(data, "after_reject")["storage"] == []
    assert all(c["passed"] for c in data["checks"]), data["checks"]
    assert data["proposal"] == {"services": [], "toml": ""}
    assert "Result: clean" in out


def test_a_tracker_firing_before_consent_is_a_violation_with_its_declaration(
    tmp_path: Path,
) -> None:
    code, data, out = scan_site(scan_sites.TRACKER_BEFORE_CONSENT, tmp_path)

    assert code == 1, out
    before = findings(data, "tracker_before_choice")
    assert {(f["subject"], f["service"], f["category"]) for f in before} == {
        ("www.google-analytics.com", "Google Analytics", "analytics")
    }
    assert findings(data, "tracker_after_reject")
    undeclared = findings(data, "undeclared_host")
    assert [f["subject"] for f in undeclared] == ["google-analytics.com"]
    assert proposal(data) == {
        "Google Analytics": {
            "name": "Google Analytics",
            "category": "analytics",
            "cookies": [],
            "hosts": ["google-analytics.com"],
            "basis": "tracker catalogue: google-analytics.com",
        }
    }
    request = visit(data, "before_choice")["requests"][0]
    assert request["url"].startswith("https://www.google-analytics.com/g/collect")
    assert request["tracker"] is True
    assert request["declared"] is False
    assert "tracker_before_choice" in out
    assert "[[services]]" in out


def test_a_cookie_set_after_a_refusal_is_a_violation_with_its_declaration(
    tmp_path: Path,
) -> None:
    code, data, out = scan_site(scan_sites.COOKIE_AFTER_REFUSAL, tmp_path)

    assert code == 1, out
    assert findings(data, "cookie_before_choice") == []
    after = findings(data, "cookie_after_reject")
    assert [(f["subject"], f["service"], f["category"]) for f in after] == [
        ("_fbp", "Meta Pixel", "advertising")
    ]
    fbp = cookies(data, "after_reject")["_fbp"]
    assert fbp["set_by"] == "script"
    assert fbp["script"].endswith("/static/app.js")
    assert 89 * 86_400 < fbp["lifetime_seconds"] <= 90 * 86_400
    assert [f["subject"] for f in findings(data, "undeclared_cookie")] == ["_fbp"]
    assert proposal(data)["Meta Pixel"]["category"] == "advertising"
    assert proposal(data)["Meta Pixel"]["cookies"] == ["_fbp"]


def test_an_undeclared_first_party_analytics_cookie_gets_the_right_declaration(
    tmp_path: Path,
) -> None:
    code, data, out = scan_site(scan_sites.UNDECLARED_ANALYTICS, tmp_path)

    assert code == 1, out
    assert [f for f in data["findings"] if f["severity"] == "violation"] == []
    undeclared = {f["subject"]: f for f in findings(data, "undeclared_cookie")}
    assert set(undeclared) == {"_pk_id.1.a1b2", "_pk_ses.1.a1b2", "visit_count"}
    assert all(f["visit"] == "after_accept" for f in undeclared.values())
    proposed = proposal(data)
    assert proposed["Matomo"]["category"] == "analytics"
    assert proposed["Matomo"]["cookies"] == ["_pk_id.*", "_pk_ses.*"]
    assert proposed["Site script /static/matomo.js"]["category"] == "analytics"
    assert proposed["Site script /static/matomo.js"]["cookies"] == ["visit_count"]
    # The proposal is valid TOML that consentgate accepts, and then declares every cookie.
    toml = data["proposal"]["toml"]
    services = tomllib.loads(toml)["services"]
    settings = ConsentSettings(secret_keys=[KEY], ledger_url=None, services=services)
    assert {s.name for s in settings.services} == set(proposed)
    config = tmp_path / "fixed.toml"
    config.write_text(f"secret_keys = [{KEY!r}]\n{toml}")
    with serve(scan_sites.UNDECLARED_ANALYTICS.app(config)) as url:
        fixed_code, fixed, _ = scan(url + "/", tmp_path, "--pages", "1", "--config", str(config))
    assert fixed_code == 0, fixed["findings"]


def test_a_site_without_consentgate_gets_the_first_visit_only_clearly_labelled(
    tmp_path: Path,
) -> None:
    html = tmp_path / "report.html"
    with running(scan_sites.NO_CONSENTGATE, tmp_path) as (url, _):
        # Entered by another host name, which redirects to the site's own: that is scanned.
        start = url.replace("127.0.0.1", "localhost") + "go"
        code, data, out = scan(start, tmp_path, "--pages", "3", "--html", str(html))

    assert code == 1, out
    assert data["consentgate"] is False
    assert [v["name"] for v in data["visits"]] == ["before_choice"]
    assert any("only the visit before any choice ran" in n for n in data["notes"])
    assert any(f"redirected to {url}" in n for n in data["notes"])
    pages = [p["url"] for p in visit(data, "before_choice")["pages"]]
    assert pages == [url, url + "a", url + "b"]
    assert data["checks"] == []
    assert findings(data, "tracker_before_choice")
    sid = cookies(data, "before_choice")["sid"]
    assert sid["party"] == "first"
    assert "site WITHOUT consentgate" in out
    assert "This site does not use consentgate" in html.read_text()


def test_banner_that_favours_accept_and_a_page_without_reopen_link_fail_edpb_checks(
    tmp_path: Path,
) -> None:
    code, data, _ = scan_site(scan_sites.UNFAIR_BANNER, tmp_path)

    assert code == 1
    checks = {c["id"]: c for c in data["checks"]}
    assert checks["reject_first_layer"]["passed"] is True
    assert checks["no_pre_ticked"]["passed"] is True
    assert checks["equal_buttons"]["passed"] is False
    assert "less prominent" in checks["equal_buttons"]["detail"]
    assert checks["reopen_link"]["passed"] is False
    assert checks["reopen_link"]["detail"].endswith("/a")
    assert {f["kind"] for f in data["findings"] if f["severity"] == "violation"} == {
        "edpb_equal_buttons",
        "edpb_reopen_link",
    }


def test_country_header_simulates_the_visitor(tmp_path: Path) -> None:
    with running(scan_sites.CLEAN, tmp_path) as (url, config):
        us_code, us, _ = scan(
            url, tmp_path, "--pages", "1", "--config", str(config), "--country", "us"
        )
        de_code, de, _ = scan(
            url, tmp_path, "--pages", "2", "--config", str(config), "--country", "DE"
        )

    assert us_code == 0
    assert us["country"] == "US"
    assert us["country_header"] == "x-test-country"
    assert us["consentgate"] is True
    assert us["banner_shown"] is False
    assert [v["name"] for v in us["visits"]] == ["before_choice"]
    assert any("did not show its banner" in n for n in us["notes"])
    # Unregulated: everything is granted at once.
    assert {"stats_id", "prefs"} <= set(cookies(us, "before_choice"))

    assert de_code == 0
    assert de["banner_shown"] is True
    # The header is added to the browser's own, so the consent cookie still reaches the site:
    # after "Accept all" every page loads the statistics script.
    pages = {r["page"] for r in visit(de, "after_accept")["requests"]}
    assert pages == {url, url + "a"}


def test_a_site_that_does_not_answer_cannot_be_scanned(tmp_path: Path) -> None:
    from .live import free_port

    code, data, _ = scan(f"http://127.0.0.1:{free_port()}/", tmp_path, "--pages", "1")
    assert code == 2
    assert data["error"].startswith("could not load")
    assert data["exit_code"] == 2


def test_a_browser_that_is_not_chromium_cannot_scan(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, data, _ = scan("http://127.0.0.1:9/", tmp_path, "--browser", "/bin/true")
    assert code == 2
    assert data["error"].startswith("could not start /bin/true (is it a Chromium?)")
    assert "could not start /bin/true" in capsys.readouterr().err


def test_scanning_the_demo_is_clean_and_the_html_report_renders(tmp_path: Path) -> None:
    html = tmp_path / "report.html"
    app = create_app(settings_overrides={"secret_keys": [KEY], "ledger_url": None})
    with serve(app) as url:
        code, data, out = scan(
            url + "/", tmp_path, "--config", str(CONFIG_PATH), "--html", str(html)
        )

    assert code == 0, out
    assert data["banner_shown"] is True
    pages = [p["url"] for p in visit(data, "before_choice")["pages"]]
    assert len(pages) >= 5
    assert not any("/demo/" in p for p in pages)
    assert visit(data, "before_choice")["requests"] == []
    assert visit(data, "before_choice")["cookies"] == []
    assert {r["service"] for r in visit(data, "after_accept")["requests"]} == {
        "Google Analytics 4",
        "Google AdSense",
        "YouTube",  # the article's embed, from youtube-nocookie.com once allowed
    }
    assert visit(data, "after_reject")["requests"] == []
    assert all(c["passed"] for c in data["checks"])

    text = html.read_text()
    assert "data:image/png;base64," in text
    assert "<script" not in text
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1100, "height": 1400})
        page.route("http*://**", lambda route: route.abort())  # the report needs nothing else
        page.goto(html.as_uri())
        assert page.locator("#verdict").inner_text() == "Clean"
        assert page.locator("img.shot").evaluate("i => i.naturalWidth") > 200
        shot = page.screenshot(full_page=False)
    assert base64.b64encode(shot)
    picture_path("scan-report.png").write_bytes(shot)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--pages", "0"], "--pages"),
        (["--country", "Germany", "--country-header", "x-c"], "--country"),
        (["--country", "DE"], "country header is unknown"),
    ],
)
def test_bad_options_exit_2_with_a_message(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["scan", "http://127.0.0.1:9/", *args], out=io.StringIO()) == 2
    assert message in capsys.readouterr().err
