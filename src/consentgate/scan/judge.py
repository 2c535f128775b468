"""Judge what the visits saw against the law's rules and the site's declarations (pure).

- A tracker request or a cookie of a category that needs consent, seen **before a choice** or
  **after "Reject all"**, is a ``violation``.
- A cookie or tracker host that no declared service covers is ``undeclared``; the judge
  proposes the ``[[services]]`` entries that would declare it.
- A declared cookie that no visit saw is a ``notice`` (``stale_cookie``): it may be set only
  by an interaction the crawler does not make, or be left over from a removed service.
- With consentgate's banner on the page, the EDPB cookie-banner taskforce points a machine can
  check: reject on the first layer, buttons of equal size and contrast, no pre-ticked
  category, a reopen link on every page. A failed point is a ``violation``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from fnmatch import fnmatchcase
from urllib.parse import urlsplit

from ..catalogue import Catalogue, Tracker
from .crawl import BannerProbe, ButtonProbe, CrawlResult, RawCookie, RawVisit
from .declared import Declarations, catalogue_domain, host_matches
from .known import known_cookie
from .model import (
    Check,
    CookieRecord,
    Finding,
    ProposedService,
    RequestRecord,
    VisitName,
    VisitRecord,
)

__all__ = ["Judgement", "contrast_ratio", "judge", "proposal_toml"]

_GUARDED: dict[VisitName, str] = {
    "before_choice": "before any choice",
    "after_reject": 'after "Reject all"',
}
_SIZE_TOLERANCE = 0.10
_CONTRAST_TOLERANCE = 0.25
_GOOD_CONTRAST = 4.5
_RGB = re.compile(r"rgba?\(\s*([\d.]+)[,\s]+([\d.]+)[,\s]+([\d.]+)(?:\s*[,/]\s*([\d.]+%?))?\s*\)")


@dataclass(frozen=True, slots=True)
class Judgement:
    """The classified visits, the findings, the EDPB checks and the proposed declarations."""

    visits: tuple[VisitRecord, ...]
    findings: tuple[Finding, ...]
    checks: tuple[Check, ...]
    proposal: tuple[ProposedService, ...]


@dataclass(frozen=True, slots=True)
class _Kind:
    service: str | None
    category: str | None
    declared: bool
    #: The cookie pattern or host to declare, and why (for the proposal).
    declare_as: str = ""
    basis: str = ""


@dataclass(slots=True)
class _Proposals:
    services: dict[tuple[str, str], tuple[list[str], list[str], str]] = field(default_factory=dict)

    def add(
        self, name: str, category: str, *, cookie: str = "", host: str = "", basis: str
    ) -> None:
        cookies, hosts, _ = self.services.setdefault((name, category), ([], [], basis))
        if cookie and cookie not in cookies:
            cookies.append(cookie)
        if host and host not in hosts:
            hosts.append(host)

    def result(self) -> tuple[ProposedService, ...]:
        return tuple(
            ProposedService(name, category, tuple(sorted(c)), tuple(sorted(h)), basis)
            for (name, category), (c, h, basis) in sorted(self.services.items())
        )


def judge(
    result: CrawlResult, declarations: Declarations, catalogue: Catalogue, *, site_host: str
) -> Judgement:
    """Classify every recorded request and cookie and judge them; no I/O."""
    catalogue = declarations.catalogue(catalogue)
    inert = {url: cat for visit in result.visits for url, cat in visit.inert_scripts.items()}
    # consentgate without its banner: the site treats this visitor as unregulated, and there
    # is no choice before which tracking would be unlawful.
    unregulated = result.banner.present and not result.banner.shown
    judge_ = _Judge(declarations, catalogue, site_host, inert, {} if unregulated else _GUARDED)
    visits = tuple(judge_.visit(raw) for raw in result.visits)
    judge_.stale(visits)
    checks = _edpb(result.banner, visits) if result.banner.shown else ()
    for check in checks:
        if not check.passed:
            judge_.findings.append(Finding(f"edpb_{check.id}", "violation", check.id, check.detail))
    for visit in visits[1:]:
        if not visit.choice_made:
            judge_.findings.append(
                Finding(
                    "choice_not_made",
                    "notice",
                    visit.name,
                    f"the banner button for {visit.name} was not found or did not close it",
                    visit=visit.name,
                )
            )
    return Judgement(visits, tuple(judge_.findings), checks, judge_.proposals.result())


class _Judge:
    def __init__(
        self,
        declarations: Declarations,
        catalogue: Catalogue,
        site: str,
        inert: dict[str, str],
        guarded: dict[VisitName, str],
    ) -> None:
        #: The visits in which only necessary cookies and no trackers are allowed.
        self.guarded = guarded
        self.declarations = declarations
        self.catalogue = catalogue
        self.site = site
        self.inert = inert
        self.findings: list[Finding] = []
        self.proposals = _Proposals()
        self._reported: set[tuple[str, str]] = set()

    def visit(self, raw: RawVisit) -> VisitRecord:
        requests = tuple(self._request(raw.name, url, page) for url, page in _unique(raw.requests))
        cookies = tuple(self._cookie(raw, c) for c in raw.cookies.values())
        return VisitRecord(
            name=raw.name,
            pages=tuple(raw.pages),
            requests=requests,
            cookies=cookies,
            storage=tuple(raw.storage.values()),
            choice_made=raw.choice_made,
            inert_scripts=tuple(sorted(raw.inert_scripts.items())),
        )

    # -- requests ----------------------------------------------------------------------------

    def _request(self, visit: VisitName, url: str, page: str) -> RequestRecord:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        declared = self.declarations.host_service(host)
        entry = catalogue_domain(self.catalogue, host)
        by_path = self.catalogue.lookup_url(host, parts.path or "/")
        if by_path is not None and (entry is None or entry[1] != by_path):
            entry = (host, by_path)
        service: str | None = None
        category: str | None = None
        if declared is not None:
            service, category = declared.name, declared.category
        elif entry is not None:
            service, category = entry[1].service, entry[1].category
        record = RequestRecord(
            url=url,
            host=host,
            page=page,
            service=service,
            category=category,
            tracker=entry is not None,
            declared=declared is not None,
        )
        if (
            record.tracker
            and visit in self.guarded
            and not self.declarations.is_required(category)
            and self._first((visit, host))  # one finding per host and visit, not per URL
        ):
            self.findings.append(
                Finding(
                    f"tracker_{visit}",
                    "violation",
                    host,
                    f"{service or host} ({category}) was contacted {self.guarded[visit]}",
                    visit=visit,
                    page=page,
                    service=service,
                    category=category,
                )
            )
        if entry is not None and declared is None and self._first(("host", entry[0])):
            tracker = entry[1]
            self.findings.append(
                Finding(
                    "undeclared_host",
                    "undeclared",
                    entry[0],
                    f"{host} ({tracker.service}, {tracker.category}) is not in any declared "
                    "service's hosts",
                    visit=visit,
                    page=page,
                    service=tracker.service,
                    category=tracker.category,
                )
            )
            self.proposals.add(
                tracker.service,
                tracker.category,
                host=entry[0],
                basis=f"tracker catalogue: {entry[0]}",
            )
        return record

    # -- cookies -----------------------------------------------------------------------------

    def _cookie(self, raw: RawVisit, cookie: RawCookie) -> CookieRecord:
        domain = cookie.domain.lstrip(".").lower()
        first_party = host_matches(self.site, domain) or host_matches(domain, self.site)
        script = raw.script_writes.get(cookie.name)
        lifetime = None if cookie.expires < 0 else max(0, int(cookie.expires - cookie.seen_at))
        record = CookieRecord(
            name=cookie.name,
            domain=cookie.domain,
            path=cookie.path,
            first_party=first_party,
            lifetime_seconds=lifetime,
            set_by="script" if script is not None else "header",
            http_only=cookie.http_only,
            secure=cookie.secure,
            same_site=cookie.same_site,
            page=cookie.page,
            script=script or None,
        )
        kind = self._cookie_kind(record)
        record = replace(
            record, service=kind.service, category=kind.category, declared=kind.declared
        )
        visit = raw.name
        if (
            visit in self.guarded
            and kind.category is not None
            and not self.declarations.is_required(kind.category)
        ):
            self.findings.append(
                Finding(
                    f"cookie_{visit}",
                    "violation",
                    cookie.name,
                    f"cookie {cookie.name} ({kind.service or 'unknown service'}, "
                    f"{kind.category}) was set {self.guarded[visit]}",
                    visit=visit,
                    page=cookie.page,
                    service=kind.service,
                    category=kind.category,
                )
            )
        if not kind.declared and self._first(("cookie", cookie.name)):
            self.findings.append(
                Finding(
                    "undeclared_cookie",
                    "undeclared",
                    cookie.name,
                    f"cookie {cookie.name} ({_party(record)}, set by {record.set_by}) is not "
                    "in any declared service's cookies",
                    visit=visit,
                    page=cookie.page,
                    service=kind.service,
                    category=kind.category,
                )
            )
            self._propose_cookie(record, kind, visit)
        return record

    def _cookie_kind(self, cookie: CookieRecord) -> _Kind:
        declared = self.declarations.cookie_service(cookie.name)
        if declared is not None:
            return _Kind(declared.name, declared.category, True)
        known = known_cookie(cookie.name)
        if known is not None:
            entry = catalogue_domain(self.catalogue, known.host) if known.host else None
            if entry is not None:
                return _catalogued(entry, known.pattern, f"cookie set by {entry[1].service}")
            return _Kind(
                known.service,
                known.category,
                False,
                known.pattern,
                f"cookie name {known.pattern} is {known.service}'s",
            )
        for host in (
            cookie.domain.lstrip(".").lower() if not cookie.first_party else "",
            (urlsplit(cookie.script).hostname or "") if cookie.script else "",
        ):
            entry = catalogue_domain(self.catalogue, host) if host else None
            if entry is not None:
                return _catalogued(entry, cookie.name, f"set by {host}")
        if cookie.script and cookie.script in self.inert:
            category = self.inert[cookie.script]
            path = urlsplit(cookie.script).path or cookie.script
            return _Kind(
                f"Site script {path}",
                category,
                False,
                cookie.name,
                f"written by {path}, which the page releases for {category}",
            )
        return _Kind(None, None, False, cookie.name)

    def _propose_cookie(self, cookie: CookieRecord, kind: _Kind, visit: VisitName) -> None:
        if kind.service is not None and kind.category is not None:
            self.proposals.add(
                kind.service, kind.category, cookie=kind.declare_as, basis=kind.basis
            )
        elif visit == "before_choice":
            self.proposals.add(
                "This site (necessary)",
                "necessary",
                cookie=cookie.name,
                basis="set before any choice: keep only if strictly necessary, else gate it",
            )
        else:
            self.proposals.add(
                "This site (to review)",
                "functional",
                cookie=cookie.name,
                basis=f"first seen {visit.replace('_', ' ')}; category unknown: check it",
            )

    def stale(self, visits: Iterable[VisitRecord]) -> None:
        """One notice per declared service with cookie names or globs that no visit saw."""
        seen = {c.name for v in visits for c in v.cookies}
        for service in self.declarations.services:
            unseen = [
                pattern
                for pattern in service.cookies
                if not any(fnmatchcase(name, pattern) for name in seen)
            ]
            if unseen:
                self.findings.append(
                    Finding(
                        "stale_cookie",
                        "notice",
                        ", ".join(unseen),
                        f"{service.name}: declared but not seen in any visit: " + ", ".join(unseen),
                        service=service.name,
                        category=service.category,
                    )
                )

    def _first(self, key: tuple[str, str]) -> bool:
        if key in self._reported:
            return False
        self._reported.add(key)
        return True


def _catalogued(entry: tuple[str, Tracker], declare_as: str, why: str) -> _Kind:
    """An undeclared cookie that the catalogue entry ``entry`` names."""
    pattern, tracker = entry
    return _Kind(
        tracker.service, tracker.category, False, declare_as, f"{why} (catalogue: {pattern})"
    )


# -- EDPB checks -----------------------------------------------------------------------------


def _edpb(banner: BannerProbe, visits: tuple[VisitRecord, ...]) -> tuple[Check, ...]:
    accept, reject = banner.accept, banner.reject
    if reject is None or not reject.visible:
        first = Check("reject_first_layer", False, '"Reject all" is missing from the banner')
    elif not reject.first_layer:
        first = Check("reject_first_layer", False, '"Reject all" is not on the first layer')
    else:
        first = Check("reject_first_layer", True, '"Reject all" is on the first layer')
    equal = _equal_buttons(accept, reject)
    ticked = Check(
        "no_pre_ticked",
        not banner.pre_ticked,
        "no category is ticked in advance"
        if not banner.pre_ticked
        else "ticked in advance: " + ", ".join(banner.pre_ticked),
    )
    missing = [p.url for v in visits for p in v.pages if p.error is None and not p.reopen_link]
    reopen = Check(
        "reopen_link",
        not missing,
        "every page has a link to reopen the settings"
        if not missing
        else "no reopen link on " + ", ".join(sorted(set(missing))[:5]),
    )
    return first, equal, ticked, reopen


def _equal_buttons(accept: ButtonProbe | None, reject: ButtonProbe | None) -> Check:
    if accept is None or reject is None:
        return Check("equal_buttons", False, 'the "Accept all" or "Reject all" button is missing')
    problems = []
    for what, a, r in (
        ("width", accept.width, reject.width),
        ("height", accept.height, reject.height),
    ):
        if a > 0 and r < a * (1 - _SIZE_TOLERANCE):
            problems.append(f"{what} {r:.0f}px against {a:.0f}px")
    if (accept.font_size, accept.font_weight) != (reject.font_size, reject.font_weight):
        problems.append(
            f"text {reject.font_size}/{reject.font_weight} against "
            f"{accept.font_size}/{accept.font_weight}"
        )
    ca = contrast_ratio(accept.color, accept.background)
    cr = contrast_ratio(reject.color, reject.background)
    if (
        ca is not None
        and cr is not None
        and cr < ca * (1 - _CONTRAST_TOLERANCE)
        and (cr < _GOOD_CONTRAST)
    ):
        problems.append(f"text contrast {cr:.1f}:1 against {ca:.1f}:1")
    if problems:
        return Check(
            "equal_buttons", False, '"Reject all" is less prominent: ' + "; ".join(problems)
        )
    shown = f", text contrast {cr:.1f}:1 and {ca:.1f}:1" if ca and cr else ""
    return Check("equal_buttons", True, f"the buttons have the same size and weight{shown}")


def _luminance(color: str) -> float | None:
    match = _RGB.fullmatch(color.strip())
    if match is None:
        return None
    channels = []
    alpha_text = match.group(4)
    alpha = 1.0
    if alpha_text:
        alpha = float(alpha_text[:-1]) / 100 if alpha_text.endswith("%") else float(alpha_text)
    for raw in match.groups()[:3]:
        value = float(raw) / 255 * alpha + (1 - alpha)  # over white
        channels.append(value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4)
    red, green, blue = channels
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast_ratio(foreground: str, background: str) -> float | None:
    """WCAG contrast ratio of two CSS ``rgb()``/``rgba()`` colours (``None`` if unparsable)."""
    fg, bg = _luminance(foreground), _luminance(background)
    if fg is None or bg is None:
        return None
    light, dark = max(fg, bg), min(fg, bg)
    return (light + 0.05) / (dark + 0.05)


# -- helpers ---------------------------------------------------------------------------------


def _unique(requests: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    seen: set[str] = set()
    out = []
    for url, page in requests:
        if url not in seen:
            seen.add(url)
            out.append((url, page))
    return out


def _party(cookie: CookieRecord) -> str:
    return "first party" if cookie.first_party else f"third party, {cookie.domain}"


def proposal_toml(proposal: Iterable[ProposedService]) -> str:
    """The proposed ``[[services]]`` entries as TOML to paste into the settings file."""
    blocks = []
    for service in proposal:
        lines = [f"# {service.basis}"] if service.basis else []
        lines += [
            "[[services]]",
            f"name = {json.dumps(service.name)}",
            f"category = {json.dumps(service.category)}",
        ]
        if service.cookies:
            lines.append(f"cookies = {json.dumps(list(service.cookies))}")
        if service.hosts:
            lines.append(f"hosts = {json.dumps(list(service.hosts))}")
        blocks.append("\n".join(lines))
    if not blocks:
        return ""
    head = "# Proposed by consentgate scan for what it found undeclared: check before use.\n"
    return head + "\n\n".join(blocks) + "\n"
