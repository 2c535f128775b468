"""What a scan saw and concluded, as plain frozen records (no browser, no I/O).

:func:`report_to_dict` turns a :class:`ScanReport` into the documented JSON schema
(``docs/scan.md``, ``"schema": "consentgate.scan/1"``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "SCHEMA",
    "VISITS",
    "Check",
    "CookieRecord",
    "Finding",
    "PageRecord",
    "ProposedService",
    "RequestRecord",
    "ScanReport",
    "Severity",
    "StorageRecord",
    "VisitName",
    "VisitRecord",
    "report_to_dict",
]

#: The schema identifier written into every JSON report; bumped on incompatible changes.
SCHEMA = "consentgate.scan/1"

VisitName = Literal["before_choice", "after_reject", "after_accept"]
#: The three visits, in the order they run.
VISITS: tuple[VisitName, ...] = ("before_choice", "after_reject", "after_accept")
Severity = Literal["violation", "undeclared", "notice"]


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """A request the page made to another host than the scanned one."""

    url: str
    host: str
    page: str
    #: The catalogue's (or a declared service's) name and category; ``None`` when unknown.
    service: str | None
    category: str | None
    #: ``True`` when the host is a known tracker (built-in catalogue or a declared service).
    tracker: bool
    declared: bool


@dataclass(frozen=True, slots=True)
class CookieRecord:
    """A cookie the browser held during a visit."""

    name: str
    domain: str
    path: str
    first_party: bool
    #: Seconds from the moment it was seen until it expires; ``None`` for a session cookie.
    lifetime_seconds: int | None
    set_by: Literal["header", "script"]
    http_only: bool
    secure: bool
    same_site: str
    page: str
    #: URL of the script that wrote it (``set_by == "script"``), when the browser said so.
    script: str | None = None
    #: The declared service (or the known tracker) it belongs to, and that service's category.
    service: str | None = None
    category: str | None = None
    declared: bool = False


@dataclass(frozen=True, slots=True)
class StorageRecord:
    """A ``localStorage`` or ``sessionStorage`` key of the scanned origin."""

    kind: Literal["local", "session"]
    key: str
    page: str


@dataclass(frozen=True, slots=True)
class PageRecord:
    """One page load of a visit."""

    url: str
    status: int | None
    reopen_link: bool
    error: str | None = None


@dataclass(frozen=True, slots=True)
class VisitRecord:
    """Everything recorded during one visit (a fresh browser profile)."""

    name: VisitName
    pages: tuple[PageRecord, ...]
    requests: tuple[RequestRecord, ...]
    cookies: tuple[CookieRecord, ...]
    storage: tuple[StorageRecord, ...]
    #: For ``after_*`` visits: whether the banner button was found and the banner closed.
    choice_made: bool = False
    #: Inert scripts seen in the markup: script URL → the category that releases it.
    inert_scripts: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Check:
    """One EDPB cookie-banner taskforce point checked on the first page's banner."""

    id: str
    passed: bool
    detail: str


@dataclass(frozen=True, slots=True)
class Finding:
    """Something the publisher should fix (``violation``/``undeclared``) or know (``notice``)."""

    kind: str
    severity: Severity
    subject: str
    message: str
    visit: VisitName | None = None
    page: str | None = None
    service: str | None = None
    category: str | None = None


@dataclass(frozen=True, slots=True)
class ProposedService:
    """A ``[[services]]`` entry that would declare what the scan found undeclared."""

    name: str
    category: str
    cookies: tuple[str, ...] = ()
    hosts: tuple[str, ...] = ()
    #: Why this name and category were chosen (written as a TOML comment).
    basis: str = ""


@dataclass(frozen=True, slots=True)
class ScanReport:
    """The whole result of ``consentgate scan``."""

    url: str
    started_at: str
    duration_seconds: float
    browser: str
    country: str | None
    country_header: str | None
    #: Whether the site carries consentgate (its banner element was on the first page).
    consentgate: bool
    #: Whether the first page opened the banner (a regulated visitor).
    banner_shown: bool
    visits: tuple[VisitRecord, ...]
    findings: tuple[Finding, ...]
    checks: tuple[Check, ...]
    proposal: tuple[ProposedService, ...]
    proposal_toml: str
    #: PNG of the banner (or of the first page without a banner).
    screenshot_png: bytes | None = field(default=None, repr=False)
    notes: tuple[str, ...] = ()
    error: str | None = None

    @property
    def exit_code(self) -> int:
        """0 clean, 1 violations or undeclared cookies/hosts found, 2 could not scan."""
        if self.error is not None:
            return 2
        return 1 if any(f.severity != "notice" for f in self.findings) else 0

    def count(self, severity: Severity) -> int:
        """How many findings have ``severity``."""
        return sum(1 for f in self.findings if f.severity == severity)


def report_to_dict(report: ScanReport) -> dict[str, Any]:
    """The report in the JSON schema ``consentgate.scan/1`` (see ``docs/scan.md``)."""
    return {
        "schema": SCHEMA,
        "url": report.url,
        "started_at": report.started_at,
        "duration_seconds": round(report.duration_seconds, 3),
        "browser": report.browser,
        "country": report.country,
        "country_header": report.country_header,
        "consentgate": report.consentgate,
        "banner_shown": report.banner_shown,
        "error": report.error,
        "exit_code": report.exit_code,
        "summary": {
            "pages": len(report.visits[0].pages) if report.visits else 0,
            "visits": [v.name for v in report.visits],
            "violations": report.count("violation"),
            "undeclared": report.count("undeclared"),
            "notices": report.count("notice"),
        },
        "notes": list(report.notes),
        "visits": [_visit(v) for v in report.visits],
        "findings": [
            {
                "kind": f.kind,
                "severity": f.severity,
                "subject": f.subject,
                "message": f.message,
                "visit": f.visit,
                "page": f.page,
                "service": f.service,
                "category": f.category,
            }
            for f in report.findings
        ],
        "checks": [{"id": c.id, "passed": c.passed, "detail": c.detail} for c in report.checks],
        "proposal": {
            "services": [
                {
                    "name": p.name,
                    "category": p.category,
                    "cookies": list(p.cookies),
                    "hosts": list(p.hosts),
                    "basis": p.basis,
                }
                for p in report.proposal
            ],
            "toml": report.proposal_toml,
        },
    }


def _visit(visit: VisitRecord) -> dict[str, Any]:
    return {
        "name": visit.name,
        "choice_made": visit.choice_made,
        "pages": [
            {"url": p.url, "status": p.status, "reopen_link": p.reopen_link, "error": p.error}
            for p in visit.pages
        ],
        "requests": [
            {
                "url": r.url,
                "host": r.host,
                "page": r.page,
                "service": r.service,
                "category": r.category,
                "tracker": r.tracker,
                "declared": r.declared,
            }
            for r in visit.requests
        ],
        "cookies": [
            {
                "name": c.name,
                "domain": c.domain,
                "path": c.path,
                "party": "first" if c.first_party else "third",
                "lifetime_seconds": c.lifetime_seconds,
                "set_by": c.set_by,
                "script": c.script,
                "http_only": c.http_only,
                "secure": c.secure,
                "same_site": c.same_site,
                "page": c.page,
                "service": c.service,
                "category": c.category,
                "declared": c.declared,
            }
            for c in visit.cookies
        ],
        "storage": [{"kind": s.kind, "key": s.key, "page": s.page} for s in visit.storage],
    }
