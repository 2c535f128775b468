"""Output of a scan: the terminal table, the progress bar, JSON and a self-contained HTML page.

The HTML report is one file (styles inline, the banner screenshot as a ``data:`` URL) that a
publisher can send to their DPO; every value from the scanned site is escaped.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Sequence
from html import escape
from typing import TextIO

from .model import CookieRecord, RequestRecord, ScanReport, VisitName, VisitRecord, report_to_dict

__all__ = ["ProgressBar", "lifetime_text", "render_html", "render_json", "render_text"]

VISIT_TITLES: dict[str, str] = {
    "before_choice": "Before any choice",
    "after_reject": 'After "Reject all"',
    "after_accept": 'After "Accept all"',
}
_CELL = 60
_BAR = 24


class ProgressBar:
    """A one-line progress bar per visit (a plain line per page when not on a terminal)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.visit: str | None = None

    def __call__(self, visit: VisitName, done: int, total: int, url: str) -> None:
        """Show that page ``done`` of ``total`` of ``visit`` (``url``) was recorded."""
        title = VISIT_TITLES.get(visit, visit)
        if not self.tty:
            print(f"scan: {title}: page {done}: {url}", file=self.stream, flush=True)
            return
        if self.visit is not None and visit != self.visit:
            self.stream.write("\n")
        self.visit = visit
        width = max(total, done, 1)
        filled = round(_BAR * done / width)
        line = f"\r{title:<20} [{'#' * filled}{'.' * (_BAR - filled)}] {done}/{width} {url}"
        self.stream.write(line[:120].ljust(120))
        self.stream.flush()

    def close(self) -> None:
        """End the bar's line."""
        if self.tty and self.visit is not None:
            self.stream.write("\n")
            self.stream.flush()


def lifetime_text(seconds: int | None) -> str:
    """A cookie lifetime for people: ``session``, ``15 minutes``, ``13 months``, ``2 years``."""
    if seconds is None:
        return "session"
    for unit, size in (
        ("year", 365 * 86_400),
        ("month", 30 * 86_400),
        ("day", 86_400),
        ("hour", 3_600),
        ("minute", 60),
    ):
        if seconds >= size:
            count = round(seconds / size)
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} seconds"


def render_json(report: ScanReport) -> str:
    """The report as JSON (schema ``consentgate.scan/1``, see ``docs/scan.md``)."""
    return json.dumps(report_to_dict(report), indent=2, ensure_ascii=False) + "\n"


# -- terminal --------------------------------------------------------------------------------


def _clip(value: object) -> str:
    text = str(value if value is not None else "-").replace("\n", " ")
    return text if len(text) <= _CELL else text[: _CELL - 1] + "…"


def _table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    cells = [[_clip(c) for c in row] for row in rows]
    if not cells:
        return "  (none)"
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    line = "  " + "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    rule = "  " + "  ".join("-" * w for w in widths)
    body = ["  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join([line, rule, *body])


def _cookie_row(cookie: CookieRecord) -> list[object]:
    return [
        cookie.name,
        cookie.domain,
        "first" if cookie.first_party else "third",
        lifetime_text(cookie.lifetime_seconds),
        cookie.set_by,
        cookie.category,
        cookie.service if cookie.declared else f"undeclared ({cookie.service or '?'})",
    ]


def _visit_text(visit: VisitRecord) -> list[str]:
    title = VISIT_TITLES.get(visit.name, visit.name)
    out = [f"== {title}: {len(visit.pages)} pages =="]
    out.append("Requests to other hosts:")
    out.append(
        _table(
            ["host", "service", "category", "tracker", "page"],
            [
                [r.host, r.service, r.category, "yes" if r.tracker else "no", r.page]
                for r in _first_per_host(visit)
            ],
        )
    )
    out.append("Cookies:")
    out.append(
        _table(
            ["name", "domain", "party", "lifetime", "set by", "category", "service"],
            [_cookie_row(c) for c in visit.cookies],
        )
    )
    out.append("Storage keys:")
    out.append(_table(["kind", "key", "page"], [[s.kind, s.key, s.page] for s in visit.storage]))
    return out


def _first_per_host(visit: VisitRecord) -> list[RequestRecord]:
    seen: dict[str, RequestRecord] = {}
    for request in visit.requests:
        seen.setdefault(request.host, request)
    return list(seen.values())


def render_text(report: ScanReport) -> str:
    """The terminal report: visits, findings, EDPB checks, proposal and the verdict."""
    out = [f"consentgate scan of {report.url}  ({report.browser}, {report.duration_seconds:.1f} s)"]
    if report.error:
        out.append(f"could not scan: {report.error}")
        return "\n".join(out) + "\n"
    site = "consentgate banner found" if report.consentgate else "site WITHOUT consentgate"
    out.append(f"{site}; country: {report.country or 'not simulated'}")
    out += [f"note: {n}" for n in report.notes]
    for visit in report.visits:
        out += ["", *_visit_text(visit)]
    out += ["", "== Findings =="]
    out.append(
        _table(
            ["severity", "kind", "visit", "subject", "message"],
            [[f.severity, f.kind, f.visit, f.subject, f.message] for f in report.findings],
        )
    )
    if report.checks:
        out += ["", "== EDPB cookie banner checks =="]
        out.append(
            _table(
                ["check", "result", "detail"],
                [[c.id, "pass" if c.passed else "FAIL", c.detail] for c in report.checks],
            )
        )
    if report.proposal_toml:
        out += ["", "== Proposed declarations (add to your settings file) ==", report.proposal_toml]
    verdict = {0: "clean", 1: "problems found", 2: "could not scan"}[report.exit_code]
    out += [
        "",
        f"Result: {verdict} — {report.count('violation')} violations, "
        f"{report.count('undeclared')} undeclared, {report.count('notice')} notices",
    ]
    return "\n".join(out) + "\n"


# -- HTML ------------------------------------------------------------------------------------

_STYLE = """
body{font:15px/1.5 system-ui,sans-serif;color:#1b1f24;margin:0;background:#f6f7f9}
main{max-width:1100px;margin:0 auto;padding:24px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:19px;margin:28px 0 8px}
h3{font-size:16px;margin:18px 0 6px}
.meta{color:#4a525c;margin:0 0 12px}
.verdict{display:inline-block;padding:6px 12px;border-radius:6px;font-weight:600}
.v0{background:#dff5e3;color:#14532d}.v1{background:#fde2e1;color:#7f1d1d}
.v2{background:#fff3cd;color:#6b4e00}
table{border-collapse:collapse;width:100%;background:#fff;margin:6px 0 12px}
th,td{border:1px solid #d5d9de;padding:5px 8px;text-align:left;vertical-align:top;
word-break:break-word}
th{background:#eef1f4;font-weight:600;white-space:nowrap}
.violation{color:#9b1c1c;font-weight:600}.undeclared{color:#8a4b00;font-weight:600}
.notice{color:#4a525c}.pass{color:#14532d;font-weight:600}.fail{color:#9b1c1c;font-weight:600}
.k,.violation,.undeclared,.notice,.pass,.fail{white-space:nowrap}
.shot{border:1px solid #d5d9de;background:#fff;max-width:100%}
pre{background:#fff;border:1px solid #d5d9de;padding:12px;overflow:auto}
.none{color:#4a525c;font-style:italic}
"""


def _html_table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    if not body:
        return '<p class="none">None.</p>'
    head = "".join(f"<th scope=col>{escape(h)}</th>" for h in headers)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _e(value: object) -> str:
    return escape(str(value)) if value is not None else "–"


def _visit_html(visit: VisitRecord) -> str:
    title = VISIT_TITLES.get(visit.name, visit.name)
    pages = _html_table(
        ["page", "status", "reopen link"],
        [
            [_e(p.url), _e(p.error or p.status), "yes" if p.reopen_link else "no"]
            for p in visit.pages
        ],
    )
    requests = _html_table(
        ["host", "service", "category", "tracker", "declared", "first page"],
        [
            [
                _e(r.host),
                _e(r.service),
                _e(r.category),
                "yes" if r.tracker else "no",
                "yes" if r.declared else "no",
                _e(r.page),
            ]
            for r in visit.requests
        ],
    )
    cookies = _html_table(
        [
            "name",
            "domain",
            "path",
            "party",
            "lifetime",
            "set by",
            "category",
            "service",
            "declared",
        ],
        [
            [
                _e(c.name),
                _e(c.domain),
                _e(c.path),
                "first" if c.first_party else "third",
                _e(lifetime_text(c.lifetime_seconds)),
                _e(c.set_by),
                _e(c.category),
                _e(c.service),
                "yes" if c.declared else "no",
            ]
            for c in visit.cookies
        ],
    )
    storage = _html_table(
        ["kind", "key", "first page"],
        [[_e(s.kind + "Storage"), _e(s.key), _e(s.page)] for s in visit.storage],
    )
    return (
        f"<section><h2>{escape(title)}</h2><h3>Pages</h3>{pages}"
        f"<h3>Requests to other hosts</h3>{requests}<h3>Cookies</h3>{cookies}"
        f"<h3>localStorage and sessionStorage keys</h3>{storage}</section>"
    )


def render_html(report: ScanReport) -> str:
    """One self-contained HTML page with everything the scan found."""
    code = report.exit_code
    verdict = {0: "Clean", 1: "Problems found", 2: "Could not scan"}[code]
    counts = (
        f"{report.count('violation')} violations · {report.count('undeclared')} undeclared · "
        f"{report.count('notice')} notices"
    )
    site = (
        "consentgate banner found"
        if report.consentgate
        else "This site does not use consentgate: only the visit before any choice ran."
    )
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        '<meta name="viewport" content="width=device-width,initial-scale=1">',
        f"<title>Consent scan of {escape(report.url)}</title><style>{_STYLE}</style></head>",
        "<body><main>",
        f"<h1>Consent scan of {escape(report.url)}</h1>",
        f'<p class="meta">{escape(report.started_at)} · {escape(report.browser)} · '
        f"{report.duration_seconds:.1f} s · country: {_e(report.country or 'not simulated')}"
        f" · {escape(site)}</p>",
        f'<p><span class="verdict v{code}" id="verdict">{verdict}</span> {escape(counts)}</p>',
    ]
    if report.error:
        parts.append(f"<p class=fail>{escape(report.error)}</p>")
    parts += [f"<p class=notice>{escape(n)}</p>" for n in report.notes]
    if report.screenshot_png:
        data = base64.b64encode(report.screenshot_png).decode("ascii")
        what = "The consent banner" if report.banner_shown else "The first page"
        parts.append(
            f'<h2>{what}</h2><img class=shot alt="{what} as the scan saw it" '
            f'src="data:image/png;base64,{data}">'
        )
    parts.append("<h2>Findings</h2>")
    parts.append(
        _html_table(
            ["severity", "finding", "visit", "subject", "details"],
            [
                [
                    f'<span class="{f.severity}">{escape(f.severity)}</span>',
                    f"<span class=k>{_e(f.kind)}</span>",
                    f"<span class=k>{_e(VISIT_TITLES.get(f.visit or '', f.visit))}</span>",
                    _e(f.subject),
                    _e(f.message),
                ]
                for f in report.findings
            ],
        )
    )
    if report.checks:
        parts.append("<h2>EDPB cookie banner checks</h2>")
        parts.append(
            _html_table(
                ["check", "result", "detail"],
                [
                    [
                        f"<span class=k>{_e(c.id)}</span>",
                        "<span class=pass>pass</span>"
                        if c.passed
                        else "<span class=fail>fail</span>",
                        _e(c.detail),
                    ]
                    for c in report.checks
                ],
            )
        )
    if report.proposal_toml:
        parts.append("<h2>Proposed declarations</h2>")
        parts.append(f"<pre>{escape(report.proposal_toml)}</pre>")
    parts += [_visit_html(v) for v in report.visits]
    parts.append("</main></body></html>\n")
    return "".join(parts)
