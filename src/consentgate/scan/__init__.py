"""``consentgate scan``: audit a site in a real browser (needs ``consentgate[scan]``).

Crawls same-origin links breadth-first in Chromium in up to three visits — before any choice,
after "Reject all" and after "Accept all", through consentgate's banner — records every request
to another host, every cookie and the storage keys, and judges them against the law's rules
and the site's declared services (:mod:`.judge`). Layers: :mod:`.crawl` (the browser),
:mod:`.judge` (pure), :mod:`.report` (table, JSON, HTML). The JSON schema is in
``docs/scan.md``.

>>> from consentgate.scan import CrawlOptions, Declarations, scan
>>> report = scan(CrawlOptions("http://127.0.0.1:8000/"), Declarations())  # doctest: +SKIP
>>> report.exit_code  # doctest: +SKIP
0
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from urllib.parse import urlsplit

from ..catalogue import Catalogue
from .crawl import INSTALL_HINT, CrawlOptions, ScanError, crawl
from .declared import Declarations, DeclaredService, declarations_from_settings
from .judge import judge, proposal_toml
from .model import SCHEMA, ScanReport, report_to_dict
from .report import ProgressBar, render_html, render_json, render_text

__all__ = [
    "INSTALL_HINT",
    "SCHEMA",
    "CrawlOptions",
    "Declarations",
    "DeclaredService",
    "ProgressBar",
    "ScanError",
    "ScanReport",
    "declarations_from_settings",
    "render_html",
    "render_json",
    "render_text",
    "report_to_dict",
    "scan",
]


def scan(
    options: CrawlOptions, declarations: Declarations, catalogue: Catalogue | None = None
) -> ScanReport:
    """Crawl and judge the site; a site that cannot be scanned gives a report with ``error``."""
    started = datetime.now(UTC).isoformat(timespec="seconds")
    clock = time.monotonic()
    country = options.country.upper() if options.country else None
    header = options.country_header if country else None
    try:
        result = crawl(options)
    except ScanError as exc:
        return ScanReport(
            url=options.url,
            started_at=started,
            duration_seconds=time.monotonic() - clock,
            browser="-",
            country=country,
            country_header=header,
            consentgate=False,
            banner_shown=False,
            visits=(),
            findings=(),
            checks=(),
            proposal=(),
            proposal_toml="",
            error=str(exc),
        )
    host = result.site_host or (urlsplit(options.url).hostname or "").lower()
    verdict = judge(result, declarations, catalogue or Catalogue.builtin(), site_host=host)
    return ScanReport(
        url=options.url,
        started_at=started,
        duration_seconds=time.monotonic() - clock,
        browser=result.browser,
        country=country,
        country_header=header,
        consentgate=result.banner.present,
        banner_shown=result.banner.shown,
        visits=verdict.visits,
        findings=verdict.findings,
        checks=verdict.checks,
        proposal=verdict.proposal,
        proposal_toml=proposal_toml(verdict.proposal),
        screenshot_png=result.screenshot_png,
        notes=result.notes,
    )
