"""The scanner's pure parts: judging recorded visits, the proposal, the outputs (no browser)."""

from __future__ import annotations

import io
import json
import sys
import tomllib
from pathlib import Path

import pytest

from consentgate import ConsentSettings
from consentgate.catalogue import Catalogue
from consentgate.cli import main
from consentgate.scan import (
    Declarations,
    DeclaredService,
    ProgressBar,
    ScanReport,
    render_html,
    render_text,
)
from consentgate.scan.crawl import (
    BannerProbe,
    ButtonProbe,
    CrawlResult,
    RawCookie,
    RawVisit,
    ScanError,
    find_browser,
    same_origin_link,
)
from consentgate.scan.judge import contrast_ratio, judge, proposal_toml
from consentgate.scan.model import PageRecord, ProposedService, VisitName
from consentgate.scan.report import lifetime_text

from .conftest import KEY

SITE = "shop.example"
PAGE = "https://shop.example/"
NOW = 1_800_000_000.0
BUTTON = ButtonProbe(120, 40, "rgb(255, 255, 255)", "rgb(11, 87, 208)", "16px", "600", True, True)
BANNER = BannerProbe(present=True, shown=True, accept=BUTTON, reject=BUTTON)
DECLARED = Declarations(
    services=(
        DeclaredService("Session", "necessary", ("sid",)),
        DeclaredService("Stats", "analytics", ("st_*",), ("stats.example.net",)),
    )
)


def cookie(name: str, domain: str = SITE, expires: float = -1) -> RawCookie:
    return RawCookie(name, domain, "/", expires, False, False, "Lax", PAGE, NOW)


def visit(
    name: VisitName,
    *,
    cookies: tuple[RawCookie, ...] = (),
    requests: tuple[str, ...] = (),
    writes: dict[str, str] | None = None,
    reopen: bool = True,
) -> RawVisit:
    raw = RawVisit(name, pages=[PageRecord(PAGE, 200, reopen)], choice_made=True)
    raw.cookies = {(c.name, c.domain, c.path): c for c in cookies}
    raw.requests = [(url, PAGE) for url in requests]
    raw.script_writes = writes or {}
    return raw


def result(*visits: RawVisit, banner: BannerProbe = BANNER) -> CrawlResult:
    return CrawlResult(tuple(visits), banner, "Chromium test", None)


def run(*visits: RawVisit, banner: BannerProbe = BANNER, declared: Declarations = DECLARED):
    return judge(result(*visits, banner=banner), declared, Catalogue.builtin(), site_host=SITE)


def kinds(verdict: object) -> set[tuple[str, str]]:
    return {(f.kind, f.subject) for f in verdict.findings}  # type: ignore[attr-defined]


def test_necessary_declared_cookie_before_a_choice_is_fine() -> None:
    verdict = run(visit("before_choice", cookies=(cookie("sid"),)))
    assert kinds(verdict) == {("stale_cookie", "st_*")}


def test_declared_analytics_cookie_before_a_choice_is_a_violation() -> None:
    verdict = run(visit("before_choice", cookies=(cookie("st_x"), cookie("sid"))))
    assert ("cookie_before_choice", "st_x") in kinds(verdict)
    assert not any(f.kind == "undeclared_cookie" for f in verdict.findings)


def test_the_same_cookie_after_accept_is_fine() -> None:
    verdict = run(visit("after_accept", cookies=(cookie("st_x"), cookie("sid"))))
    assert kinds(verdict) == set()


def test_unknown_cookie_before_a_choice_is_undeclared_and_proposed_as_necessary() -> None:
    verdict = run(visit("before_choice", cookies=(cookie("sid"), cookie("cart"))))
    assert ("undeclared_cookie", "cart") in kinds(verdict)
    assert not any(f.severity == "violation" for f in verdict.findings)
    assert verdict.proposal == (
        ProposedService(
            "This site (necessary)",
            "necessary",
            ("cart",),
            basis="set before any choice: keep only if strictly necessary, else gate it",
        ),
    )


def test_known_tracker_cookie_takes_the_catalogue_name_and_category() -> None:
    verdict = run(visit("after_reject", cookies=(cookie("_ga_ABC123"), cookie("sid"))))
    finding = next(f for f in verdict.findings if f.kind == "cookie_after_reject")
    assert (finding.service, finding.category) == ("Google Analytics", "analytics")
    assert [(p.name, p.cookies) for p in verdict.proposal] == [("Google Analytics", ("_ga_*",))]


def test_third_party_cookie_is_classified_by_its_domain() -> None:
    raw = visit("before_choice", cookies=(cookie("IDE", ".doubleclick.net"), cookie("sid")))
    verdict = run(raw)
    record = verdict.visits[0].cookies[0]
    assert record.first_party is False
    assert (record.service, record.category) == ("Google Ad Manager", "advertising")
    assert ("cookie_before_choice", "IDE") in kinds(verdict)


def test_cookie_written_by_a_tracker_script_is_attributed_to_it() -> None:
    raw = visit(
        "after_accept",
        cookies=(cookie("xyz"), cookie("sid")),
        writes={"xyz": "https://static.hotjar.com/c/hotjar.js"},
    )
    record = run(raw).visits[0].cookies[0]
    assert (record.set_by, record.service, record.category) == ("script", "Hotjar", "analytics")


def test_declared_tracker_host_after_reject_is_a_violation_but_declared() -> None:
    verdict = run(visit("after_reject", requests=("https://stats.example.net/hit",)))
    request = verdict.visits[0].requests[0]
    assert (request.service, request.declared, request.tracker) == ("Stats", True, True)
    assert ("tracker_after_reject", "stats.example.net") in kinds(verdict)
    assert not any(f.kind == "undeclared_host" for f in verdict.findings)


def test_a_tracker_hit_on_every_page_is_one_finding_per_visit() -> None:
    urls = tuple(f"https://www.google-analytics.com/g/collect?p={i}" for i in range(5))
    verdict = run(visit("before_choice", requests=urls), visit("after_reject", requests=urls))
    trackers = [(f.kind, f.subject) for f in verdict.findings if f.kind.startswith("tracker_")]
    assert trackers == [
        ("tracker_before_choice", "www.google-analytics.com"),
        ("tracker_after_reject", "www.google-analytics.com"),
    ]
    assert len(verdict.visits[0].requests) == 5


def test_unknown_third_party_host_is_recorded_but_not_judged() -> None:
    verdict = run(visit("before_choice", requests=("https://cdn.fonts.example/a.woff2",)))
    assert verdict.visits[0].requests[0].tracker is False
    assert kinds(verdict) == {("stale_cookie", "sid"), ("stale_cookie", "st_*")}


def test_path_pattern_in_the_catalogue_is_matched_by_url() -> None:
    verdict = run(visit("before_choice", requests=("https://www.google.com/maps/embed?x=1",)))
    request = verdict.visits[0].requests[0]
    assert (request.service, request.category) == ("Google Maps", "functional")


def test_an_unregulated_visitor_of_a_consentgate_site_is_not_judged_before_a_choice() -> None:
    banner = BannerProbe(present=True, shown=False)
    raw = visit("before_choice", cookies=(cookie("st_x"),), requests=("https://x.clarity.ms/c",))
    verdict = run(raw, banner=banner)
    assert not any(f.severity == "violation" for f in verdict.findings)
    assert verdict.checks == ()


def test_edpb_checks_fail_for_a_small_faint_reject_button_and_pre_ticked_boxes() -> None:
    small = ButtonProbe(
        60, 20, "rgb(200, 200, 200)", "rgb(255, 255, 255)", "11px", "400", True, False
    )
    banner = BannerProbe(True, True, BUTTON, small, ("analytics",))
    verdict = run(visit("before_choice", reopen=False), banner=banner)
    checks = {c.id: c for c in verdict.checks}
    assert not checks["reject_first_layer"].passed
    assert not checks["equal_buttons"].passed
    assert "width 60px against 120px" in checks["equal_buttons"].detail
    assert "contrast" in checks["equal_buttons"].detail
    assert checks["no_pre_ticked"].detail == "ticked in advance: analytics"
    assert not checks["reopen_link"].passed


def test_a_choice_that_could_not_be_made_is_a_notice() -> None:
    raw = visit("after_reject")
    raw.choice_made = False
    verdict = run(visit("before_choice"), raw)
    assert ("choice_not_made", "after_reject") in kinds(verdict)


def test_contrast_ratio_follows_wcag() -> None:
    assert contrast_ratio("rgb(0, 0, 0)", "rgb(255, 255, 255)") == pytest.approx(21.0)
    assert contrast_ratio("rgb(255, 255, 255)", "rgb(255, 255, 255)") == pytest.approx(1.0)
    assert contrast_ratio("rgba(0, 0, 0, 0)", "rgb(255, 255, 255)") == pytest.approx(1.0)
    assert contrast_ratio("color(srgb 1 0 0)", "rgb(0, 0, 0)") is None


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "session"),
        (30, "30 seconds"),
        (900, "15 minutes"),
        (86_400 * 90, "3 months"),
        (86_400 * 395, "1 year"),
        (86_400 * 730, "2 years"),
    ],
)
def test_lifetime_text(seconds: int | None, text: str) -> None:
    assert lifetime_text(seconds) == text


def test_proposal_toml_quotes_hostile_names_and_loads_as_settings() -> None:
    proposal = (
        ProposedService('Evil "name"\n[x]', "analytics", ("a*",), ("t.example.net",), "why"),
    )
    text = proposal_toml(proposal)
    services = tomllib.loads(text)["services"]
    assert services == [
        {
            "name": 'Evil "name"\n[x]',
            "category": "analytics",
            "cookies": ["a*"],
            "hosts": ["t.example.net"],
        }
    ]
    ConsentSettings(secret_keys=[KEY], ledger_url=None, services=services)
    assert proposal_toml(()) == ""


def test_reports_escape_what_the_site_chose() -> None:
    hostile = "<img src=x onerror=alert(1)>"
    verdict = run(visit("after_accept", cookies=(cookie(hostile),)))
    report = ScanReport(
        url=PAGE,
        started_at="2026-01-01T00:00:00+00:00",
        duration_seconds=1.0,
        browser="Chromium test",
        country=None,
        country_header=None,
        consentgate=True,
        banner_shown=True,
        visits=verdict.visits,
        findings=verdict.findings,
        checks=verdict.checks,
        proposal=verdict.proposal,
        proposal_toml=proposal_toml(verdict.proposal),
        screenshot_png=b"\x89PNG",
    )
    html = render_html(report)
    assert hostile not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "data:image/png;base64,iVBORw==" in html
    assert report.exit_code == 1
    assert "problems found" in render_text(report)


def test_same_origin_links_only_pages_of_the_site() -> None:
    origin = ("https", "shop.example")
    assert same_origin_link("https://shop.example/a#top", origin, "/_consent") == (
        "https://shop.example/a"
    )
    for href in (
        "https://other.example/",
        "http://shop.example/a",
        "https://shop.example/_consent/settings",
        "https://shop.example/_consent",
        "https://shop.example/brochure.PDF",
        "mailto:x@shop.example",
    ):
        assert same_origin_link(href, origin, "/_consent") is None, href
    assert same_origin_link("https://shop.example/_consentx", origin, "/_consent")


def test_find_browser_prefers_the_given_one_then_playwrights_then_the_systems(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(ScanError, match="--browser"):
        find_browser("/nonexistent/chromium", None)
    assert find_browser(sys.executable, None) == sys.executable
    assert find_browser(None, sys.executable) is None  # Playwright's own is installed
    monkeypatch.setattr("shutil.which", lambda name: None)
    with pytest.raises(ScanError, match="no Chromium found"):
        find_browser(None, "/nonexistent/bundled")


def test_without_playwright_the_scan_exits_2_with_the_install_hint(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "playwright.sync_api", None)
    assert main(["scan", "http://127.0.0.1:9/"], out=io.StringIO()) == 2
    assert "pip install 'consentgate[scan]'" in capsys.readouterr().err


def test_a_url_that_is_not_http_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = tmp_path / "r.json"
    assert main(["scan", "example.com", "--json", str(report)], out=io.StringIO()) == 2
    assert "is not an http(s) URL" in capsys.readouterr().err
    assert json.loads(report.read_text())["exit_code"] == 2


def test_an_output_file_that_cannot_be_written_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "missing" / "r.html"
    assert main(["scan", "ftp://x/", "--html", str(target)], out=io.StringIO()) == 2
    assert f"cannot write {target}" in capsys.readouterr().err


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_redraws_one_line_per_visit_on_a_terminal() -> None:
    stream = _Terminal()
    bar = ProgressBar(stream)
    bar("before_choice", 1, 4, "http://x/")
    bar("before_choice", 2, 4, "http://x/a")
    bar("after_reject", 1, 2, "http://x/")
    bar.close()
    lines = stream.getvalue().split("\n")
    assert len(lines) == 3
    assert lines[0].count("\r") == 2
    assert "Before any choice" in lines[0]
    assert "[############............] 2/4 http://x/a" in lines[0]
    assert "[############............] 1/2 http://x/" in lines[1]
    assert lines[2] == ""


def test_progress_is_one_plain_line_per_page_elsewhere() -> None:
    stream = io.StringIO()
    ProgressBar(stream)("after_accept", 3, 10, "http://x/b")
    assert stream.getvalue() == 'scan: After "Accept all": page 3: http://x/b\n'
