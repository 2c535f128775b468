"""The ``consentgate scan`` subcommand: arguments, settings, output files, exit status."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from ..errors import ConfigError
from ..geo import clean_country
from ..settings import ConsentSettings
from . import CrawlOptions, Declarations, declarations_from_settings, scan
from .report import ProgressBar, render_html, render_json, render_text

__all__ = ["MAX_PAGES", "add_arguments", "run"]

#: The most pages one visit may crawl (memory and time stay bounded).
MAX_PAGES = 500


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``consentgate scan``."""
    parser.add_argument("url", help="first page to visit, e.g. https://www.example.com/")
    parser.add_argument("--pages", type=int, default=10, help="pages per visit (default 10)")
    parser.add_argument("--country", help="simulate a visitor from this country, e.g. DE")
    parser.add_argument(
        "--country-header",
        help="request header the site trusts for the country (default: country_header of --config)",
    )
    parser.add_argument("--config", help="the site's TOML settings: its declared services")
    parser.add_argument("--json", type=Path, help="write the report as JSON to this file")
    parser.add_argument("--html", type=Path, help="write the report as HTML to this file")
    parser.add_argument(
        "--browser", help="Chromium to drive (default: Playwright's own, else the system's)"
    )
    parser.add_argument(
        "--offline",
        action="store_true",
        help="record the page's requests to other hosts, then abort them instead of sending",
    )


def run(args: argparse.Namespace, out: TextIO) -> int:
    """Run the scan and write its outputs; returns the exit status (0, 1 or 2)."""
    if not 1 <= args.pages <= MAX_PAGES:
        raise ConfigError(f"--pages: {args.pages} is not between 1 and {MAX_PAGES}")
    declarations = Declarations()
    header = args.country_header
    if args.config:
        settings = ConsentSettings.from_toml(args.config)
        declarations = declarations_from_settings(settings)
        header = header or settings.country_header
    country = None
    if args.country:
        country = clean_country(args.country)
        if country is None:
            raise ConfigError(f"--country: {args.country!r} is not a two-letter country code")
        if not header:
            raise ConfigError(
                "--country: the site's country header is unknown; give --country-header NAME "
                "or a --config whose country_header names it"
            )
    progress = ProgressBar(sys.stderr)
    report = scan(
        CrawlOptions(
            args.url,
            pages=args.pages,
            country=country,
            country_header=header,
            offline=args.offline,
            browser_path=args.browser,
            endpoint_path=declarations.endpoint_path,
            progress=progress,
        ),
        declarations,
    )
    progress.close()
    out.write(render_text(report))
    for path, render in ((args.json, render_json), (args.html, render_html)):
        if path is None:
            continue
        try:
            path.write_text(render(report), encoding="utf-8")
        except OSError as exc:
            print(f"error: cannot write {path}: {exc.strerror or exc}", file=sys.stderr)
            return 2
    if report.error:
        print(f"error: {report.error}", file=sys.stderr)
    return report.exit_code
