"""The ``consentgate`` command: demo, keygen, check-config, geoip, scan, ledger and tcf tools.

Errors print one line; exit code 2 for usage and configuration errors, 1 for runtime failures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from .errors import ConfigError, ConsentGateError, GeoIPError
from .geo import MmdbDatabase, RegulatedCountries, clean_country, open_database
from .proxy import normalize_ip
from .scan import command as scan_command
from .settings import ConsentSettings, unknown_env_vars

__all__ = ["main"]


def _settings(config: str | None, **overrides: object) -> ConsentSettings:
    if config:
        return ConsentSettings.from_toml(config, **overrides)
    return ConsentSettings(**overrides)


def cmd_keygen(args: argparse.Namespace, out: TextIO) -> int:
    """Print a new random 256-bit signing key."""
    print(secrets.token_urlsafe(32), file=out)
    return 0


def cmd_check_config(args: argparse.Namespace, out: TextIO) -> int:
    """Validate the settings and print them, secrets masked."""
    settings = _settings(args.config)
    settings.require_secret_keys()
    print(json.dumps(settings.masked(), indent=2, default=str), file=out)
    for warning in settings.warnings():
        print(f"warning: {warning}", file=sys.stderr)
    print(f"proxies: {settings.proxy_summary()}", file=sys.stderr)
    if settings.geoip_database is not None:
        MmdbDatabase(settings.geoip_database).close()  # ConfigError when missing or corrupt
    if notice := settings.ledger_notice():
        print(f"note: {notice}", file=sys.stderr)
    for name in unknown_env_vars():
        print(f"warning: {name} matches no setting (misspelt?)", file=sys.stderr)
    return 0


def cmd_geoip(args: argparse.Namespace, out: TextIO) -> int:
    """Print the country of an IP address and whether it is regulated."""
    ip = normalize_ip(args.ip)
    if ip is None:
        raise ConfigError(f"ip: {args.ip!r} is not an IP address")
    settings = ConsentSettings(ledger_url=None) if args.config is None else _settings(args.config)
    database = open_database(args.database or settings.geoip_database)
    country = clean_country(database.country(ip))
    regulated = RegulatedCountries(
        settings.regulated_countries, unknown_regulated=settings.unknown_country == "regulated"
    )(country)
    print(f"ip: {ip}", file=out)
    print(f"country: {country or 'unknown'}", file=out)
    print(f"regulated: {'yes' if regulated else 'no'}", file=out)
    print(f"database: {database.description}", file=out)
    return 0


def cmd_demo(args: argparse.Namespace, out: TextIO) -> int:
    """Serve the demo site."""
    try:
        from .demo import serve
    except ImportError:
        print("error: the demo needs extras: pip install 'consentgate[demo]'", file=sys.stderr)
        return 2
    return serve(
        host=args.host,
        port=args.port,
        country=args.country,
        config=args.config,
        tcf=args.tcf,
        out=out,
    )


def cmd_scan(args: argparse.Namespace, out: TextIO) -> int:
    """Audit a site in Chromium; exit 0 clean, 1 problems found, 2 could not scan."""
    return scan_command.run(args, out)


def _ledger_url(args: argparse.Namespace) -> tuple[str, ConsentSettings]:
    settings = _settings(args.config)
    url = args.url or settings.ledger_url
    if not url:
        raise ConfigError("ledger_url: empty — give --url or set CONSENTGATE_LEDGER_URL")
    return url, settings


def cmd_ledger(args: argparse.Namespace, out: TextIO) -> int:
    """Run one ``consentgate ledger`` subcommand."""
    from .ledger import commands

    url, settings = _ledger_url(args)
    action = args.ledger_command
    if action == "purge":
        coro = commands.purge(
            url,
            ip_retention_days=settings.ip_retention_days,
            record_retention_days=settings.record_retention_days,
            out=out,
        )
    elif action == "stats":
        coro = commands.stats(
            url, days=args.days, fmt=args.format, output_path=args.output, out=out
        )
    elif action == "export":
        since = datetime.fromisoformat(args.since) if args.since else None
        if since is not None and since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        coro = commands.export(url, since=since, include_ip=args.include_ip, out=out)
    elif action == "show":
        coro = commands.show(url, args.consent_id, out=out)
    else:
        coro = commands.erase(url, args.consent_id, out=out)
    return asyncio.run(coro)


def cmd_tcf(args: argparse.Namespace, out: TextIO) -> int:
    """Run ``consentgate tcf update-gvl``: download, validate and install the GVL."""
    from .tcf.update import DEFAULT_GVL_URL, update_gvl

    settings = _settings(args.config)
    target = args.out or settings.tcf.gvl_path
    if target is None:
        raise ConfigError("tcf.gvl_path: not set — give --out DIR or set tcf.gvl_path")
    update_gvl(
        url=args.url or DEFAULT_GVL_URL,
        out=Path(target),
        languages=settings.banner.languages,
        report=out,
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``consentgate`` command."""
    parser = argparse.ArgumentParser(prog="consentgate", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="serve the demo site")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=8000)
    demo.add_argument("--country", help="simulate visitors from this country (e.g. DE, US)")
    demo.add_argument("--config", help="TOML settings file")
    demo.add_argument(
        "--tcf", action="store_true", help="IAB TCF mode with the bundled synthetic vendor list"
    )
    demo.set_defaults(func=cmd_demo)

    keygen = sub.add_parser("keygen", help="print a new signing key")
    keygen.set_defaults(func=cmd_keygen)

    check = sub.add_parser("check-config", help="validate and print the settings")
    check.add_argument("--config", help="TOML settings file (else CONSENTGATE_CONFIG / env)")
    check.set_defaults(func=cmd_check_config)

    geoip = sub.add_parser("geoip", help="look up an IP address")
    geoip.add_argument("ip")
    geoip.add_argument("--database", help=".mmdb file (default: the embedded database)")
    geoip.add_argument("--config", help="TOML settings file")
    geoip.set_defaults(func=cmd_geoip)

    scan = sub.add_parser("scan", help="audit a site in a real browser (consentgate[scan])")
    scan_command.add_arguments(scan)
    scan.set_defaults(func=cmd_scan)

    ledger = sub.add_parser("ledger", help="proofs of consent: purge, stats, export, show, erase")
    ledger.add_argument("--url", help="ledger URL (default: ledger_url setting)")
    ledger.add_argument("--config", help="TOML settings file")
    lsub = ledger.add_subparsers(dest="ledger_command", required=True)
    lsub.add_parser("purge", help="erase old IPs and delete expired records now")
    stats = lsub.add_parser("stats", help="aggregate statistics")
    stats.add_argument("--days", type=int, default=None)
    stats.add_argument("--format", choices=["table", "json", "html"], default="table")
    stats.add_argument("--output", type=Path, default=None)
    export = lsub.add_parser("export", help="records as JSON lines, for an auditor")
    export.add_argument("--since", help="ISO date, e.g. 2026-01-01")
    export.add_argument("--include-ip", action="store_true")
    show = lsub.add_parser("show", help="the records of one consent id")
    show.add_argument("consent_id")
    erase = lsub.add_parser("erase", help="delete the records of one consent id")
    erase.add_argument("consent_id")
    for name in ("url", "config"):
        for child in lsub.choices.values():
            child.add_argument(f"--{name}", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    ledger.set_defaults(func=cmd_ledger)

    tcf = sub.add_parser("tcf", help="IAB TCF tools: update-gvl")
    tsub = tcf.add_subparsers(dest="tcf_command", required=True)
    update = tsub.add_parser("update-gvl", help="download the GVL and its translations")
    update.add_argument("--url", help="base URL of the GVL v3 (default: IAB Europe's)")
    update.add_argument("--out", type=Path, help="directory (default: the tcf.gvl_path setting)")
    update.add_argument("--config", help="TOML settings file")
    update.set_defaults(func=cmd_tcf)
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Run the command; returns the exit code (also used as the console script)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    stream = out if out is not None else sys.stdout
    try:
        code: int = args.func(args, stream)
    except ConfigError as exc:
        for line in exc.problems:
            print(f"error: {line}", file=sys.stderr)
        return 2
    except GeoIPError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ConsentGateError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
