"""HTML of the banner dialog, the reopen link and the settings page (standard library only).

Every function takes plain, unescaped strings and escapes them itself; the only markup that
enters is the markup written here.
"""

from __future__ import annotations

import html
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

__all__ = [
    "CategoryView",
    "ServiceView",
    "Urls",
    "dialog_parts",
    "dialog_stub",
    "escape",
    "fill",
    "next_input",
    "reopen_html",
    "settings_page",
]

_BTN = "consentgate-btn"


def escape(value: str) -> str:
    """``value`` escaped for HTML text and double-quoted attributes."""
    return html.escape(value, quote=True)


_e = escape


def fill(template: str, **values: str) -> str:
    """``template`` with each ``{name}`` replaced (plain replace: braces in texts stay safe)."""
    for name, value in values.items():
        template = template.replace("{" + name + "}", value)
    return template


@dataclass(frozen=True, slots=True)
class ServiceView:
    """A service with its third-party line and link already worked out for one language."""

    name: str
    description: str
    third_party: str | None
    link_text: str | None
    link_url: str | None
    cookies: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CategoryView:
    """A category with its title and description resolved for one language."""

    name: str
    required: bool
    title: str
    description: str
    services: tuple[ServiceView, ...]


@dataclass(frozen=True, slots=True)
class Urls:
    """The URLs the markup links to (plain, unescaped)."""

    endpoint: str
    privacy_policy: str
    style: str


def next_input(next_path: str) -> str:
    """The hidden ``next`` field that sends a no-JS visitor back where they were."""
    return f'<input type="hidden" name="next" value="{_e(next_path)}">' if next_path else ""


def _layout(block_page: bool) -> str:
    """The dialog's modality: modal (the script makes the page inert) or non-blocking."""
    return ' aria-modal="true"' if block_page else " data-consentgate-nonblocking"


def dialog_stub(lang: str, urls: Urls, *, granted: Iterable[str], next_path: str) -> str:
    """The empty, hidden dialog element a page gets when the banner is not open.

    It carries what the script needs (endpoint, grants); the script fetches the dialog itself
    from ``{endpoint}/dialog`` when the visitor opens the settings.
    """
    ep = _e(urls.endpoint)
    query = urllib.parse.urlencode({"next": next_path}) if next_path else ""
    dialog = f"{urls.endpoint}/dialog" + (f"?{query}" if query else "")
    return (
        f'<div id="consentgate-banner" class="consentgate-banner" lang="{_e(lang)}"'
        f' data-endpoint="{ep}" data-dialog="{_e(dialog)}"'
        f' data-granted="{_e(" ".join(granted))}" hidden></div>'
    )


def _button(texts: Mapping[str, str], action: str, key: str, ident: str) -> str:
    return (
        f'<button type="submit" name="action" value="{action}" id="{ident}" class="{_BTN}">'
        f"{_e(texts[key])}</button>"
    )


def _services(texts: Mapping[str, str], services: Iterable[ServiceView]) -> str:
    items = []
    # "{vendor} is a third party that provides some of these services": once per vendor.
    vendors: dict[tuple[str, str | None, str | None], None] = {}
    for s in services:
        parts = [f"<strong>{_e(s.name)}</strong>"]
        if s.description:
            parts.append(_e(s.description))
        if s.cookies:
            names = ", ".join(f"<code>{_e(c)}</code>" for c in s.cookies)
            parts.append(
                f'<span class="consentgate-cookies">{_e(texts["cookies"])}: {names}</span>'
            )
        items.append("<li>" + " ".join(parts) + "</li>")
        if s.third_party:
            vendors[(s.third_party, s.link_text, s.link_url)] = None
    out = ['<ul class="consentgate-services">', *items, "</ul>"]
    for line, link_text, link_url in vendors:
        link = ""
        if link_url and link_text:
            link = (
                f' <a class="consentgate-link" href="{_e(link_url)}" target="_blank"'
                f' rel="noopener noreferrer">{_e(link_text)}</a>'
            )
        out.append(f'<p class="consentgate-vendor">{_e(line)}{link}</p>')
    return "".join(out)


def _category(
    texts: Mapping[str, str],
    cat: CategoryView,
    *,
    checked: bool,
    status: str | None,
    collapsed: bool,
    prefix: str,
) -> str:
    desc_id = f"{prefix}-{_e(cat.name)}"
    if cat.required:
        box = '<input type="checkbox" checked disabled'
        after = f' <span class="consentgate-always">{_e(texts["always_on"])}</span>'
    else:
        box = f'<input type="checkbox" name="categories" value="{_e(cat.name)}"'
        box += " checked" if checked else ""
        after = ""
    if cat.description:
        box += f' aria-describedby="{desc_id}"'
    out = [
        '<div class="consentgate-cat"><label class="consentgate-toggle">',
        f'{box}> <span class="consentgate-cat-title">{_e(cat.title)}</span>{after}</label>',
    ]
    if status:
        out.append(f'<p class="consentgate-status">{_e(status)}</p>')
    if cat.description:
        out.append(f'<p class="consentgate-desc" id="{desc_id}">{_e(cat.description)}</p>')
    if cat.services:
        listing = _services(texts, cat.services)
        if collapsed:
            summary = f"{_e(texts['services'])} ({len(cat.services)})"
            listing = (
                f'<details class="consentgate-details"><summary>{summary}</summary>'
                f"{listing}</details>"
            )
        else:
            listing = f'<h3 class="consentgate-h3">{_e(texts["services"])}</h3>{listing}'
        out.append(listing)
    out.append("</div>")
    return "".join(out)


def dialog_parts(
    lang: str,
    texts: Mapping[str, str],
    categories: Iterable[CategoryView],
    urls: Urls,
    *,
    prefill: frozenset[str],
    granted: Iterable[str],
    open: bool,
    review: bool,
    block_page: bool = True,
) -> tuple[str, str]:
    """The banner dialog, split where the ``next`` field goes (it differs per page)."""
    ep = _e(urls.endpoint)
    cats = "".join(
        _category(
            texts,
            c,
            checked=c.name in prefill,
            status=None,
            collapsed=True,
            prefix="consentgate-desc",
        )
        for c in categories
    )
    notice = f'<p class="consentgate-review">{_e(texts["review"])}</p>' if review else ""
    head = (
        f'<div id="consentgate-banner" class="consentgate-banner" lang="{_e(lang)}"'
        f' role="dialog"{_layout(block_page)} aria-labelledby="consentgate-title"'
        f' aria-describedby="consentgate-intro" data-endpoint="{ep}"'
        f' data-granted="{_e(" ".join(granted))}"{"" if open else " hidden"}>'
        f'<form method="post" action="{ep}" class="consentgate-form">'
        f'<h2 id="consentgate-title" class="consentgate-title">{_e(texts["title"])}</h2>'
        f'<div id="consentgate-first" class="consentgate-layer">{notice}'
        f'<p id="consentgate-intro" class="consentgate-text">{_e(texts["intro"])}'
        f' <a class="consentgate-link" href="{_e(urls.privacy_policy)}">'
        f"{_e(texts['privacy_link'])}</a></p>"
        '<div class="consentgate-buttons">'
        + _button(texts, "accept_all", "accept_all", "consentgate-accept")
        + _button(texts, "reject_all", "reject_all", "consentgate-reject")
        # Without JS "Customize" opens the settings page; the script shows layer two instead.
        + f'<button type="submit" formaction="{ep}/settings" formmethod="get"'
        f' id="consentgate-customize" class="{_BTN}">{_e(texts["customize"])}</button>'
        "</div></div>"
        '<div id="consentgate-second" class="consentgate-layer" hidden>'
        f'<h3 class="consentgate-h3">{_e(texts["settings_title"])}</h3>'
        f'<p class="consentgate-text">{_e(texts["settings_intro"])}</p>{cats}'
        '<div class="consentgate-buttons">'
        + _button(texts, "save", "save", "consentgate-save")
        + f'<button type="button" id="consentgate-back" class="{_BTN}" data-consentgate-back>'
        f"{_e(texts['back'])}</button></div></div>"
    )
    return head, "</form></div>"


def reopen_html(lang: str, texts: Mapping[str, str], urls: Urls) -> str:
    """The small fixed "Privacy settings" link that reopens the dialog (a landmark of its own)."""
    return (
        f'<aside class="consentgate-reopen" lang="{_e(lang)}" aria-label="{_e(texts["reopen"])}">'
        f'<a href="{_e(urls.endpoint)}/settings" id="consentgate-reopen"'
        f' class="consentgate-link" data-consentgate-open>{_e(texts["reopen"])}</a></aside>'
    )


def settings_page(
    lang: str,
    texts: Mapping[str, str],
    categories: Iterable[CategoryView],
    urls: Urls,
    *,
    granted: frozenset[str],
    decided: bool,
    consent_id: str | None,
    lifetime: str,
    next_path: str,
    nonce: str | None,
    saved: bool,
) -> str:
    """A complete HTML page with the preferences form; it needs no JavaScript."""
    ep = _e(urls.endpoint)
    nonce_attr = f' nonce="{_e(nonce)}"' if nonce else ""
    cats = []
    for c in categories:
        status = None
        if decided and not c.required:
            status = texts["status_granted" if c.name in granted else "status_denied"]
        cats.append(
            _category(
                texts,
                c,
                checked=c.name in granted,
                status=status,
                collapsed=False,
                prefix="consentgate-page-desc",
            )
        )
    back = next_path or "/"
    withdraw = (
        '<div class="consentgate-buttons">'
        + _button(texts, "withdraw", "withdraw", "consentgate-page-withdraw")
        + "</div>"
        if decided
        else ""
    )
    ident = (
        '<p class="consentgate-text">'
        + fill(_e(texts["consent_id"]), consent_id=f"<code>{_e(consent_id)}</code>")
        + "</p>"
        if consent_id
        else ""
    )
    notice = f'<p class="consentgate-saved" role="status">{_e(texts["saved"])}</p>' if saved else ""
    title = _e(texts["settings_title"])
    return (
        f'<!DOCTYPE html><html lang="{_e(lang)}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="robots" content="noindex"><title>{title}</title>'
        f'<link rel="stylesheet" href="{_e(urls.style)}"{nonce_attr}></head>'
        '<body class="consentgate-page"><main class="consentgate-settings">'
        f'<h1 class="consentgate-title">{title}</h1>{notice}'
        f'<p class="consentgate-text">{_e(texts["settings_intro"])} <a class="consentgate-link"'
        f' href="{_e(urls.privacy_policy)}">{_e(texts["privacy_link"])}</a></p>'
        f'<form method="post" action="{ep}" class="consentgate-form">'
        + "".join(cats)
        + next_input(next_path)
        + '<div class="consentgate-buttons">'
        + _button(texts, "accept_all", "accept_all", "consentgate-page-accept")
        + _button(texts, "reject_all", "reject_all", "consentgate-page-reject")
        + _button(texts, "save", "save", "consentgate-page-save")
        + f"</div>{withdraw}</form>{ident}"
        f'<p class="consentgate-text">{_e(lifetime)}</p>'
        f'<p class="consentgate-text"><a class="consentgate-link" href="{ep}/receipt">'
        f"{_e(texts['receipt'])}</a></p>"
        f'<form method="post" action="{ep}/erase" class="consentgate-form">'
        + next_input(next_path)
        + '<div class="consentgate-buttons"><button type="submit" id="consentgate-page-erase"'
        f' class="{_BTN}">{_e(texts["erase"])}</button></div></form>'
        f'<p class="consentgate-text"><a class="consentgate-link" href="{_e(back)}">'
        f"{_e(texts['back'])}</a></p></main></body></html>"
    )
