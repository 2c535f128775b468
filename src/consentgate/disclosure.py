"""What a site must tell its visitors, generated from its :class:`ConsentSettings`.

:func:`policy_sections` writes the cookie and consent part of a privacy policy and
:func:`cookie_table` the cookie declaration, both from the same settings the middleware runs
on, so the policy cannot drift from what the site does. :func:`render_policy_html` and
:func:`render_cookie_table_html` turn them into HTML with the standard library only
(``consentgate.jinja`` offers them to Jinja2 templates). The wording is English; category
titles follow ``banner.texts`` overrides for ``en``.

>>> from consentgate.disclosure import render_policy_html
>>> html = render_policy_html(settings)  # doctest: +SKIP
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from html import escape

from .banner import shipped_texts
from .integrations import ServiceSpec
from .integrations.google import PARTNER_SITES_URL, GoogleConfig, builtin_services
from .settings import EU_MEMBERS, EU_TERRITORIES, ConsentSettings

__all__ = [
    "CookieRow",
    "Section",
    "cookie_table",
    "effective_services",
    "google_config",
    "policy_sections",
    "render_cookie_table_html",
    "render_policy_html",
]

_LANG = "en"
_DAYS_PER_MONTH = 30.4375
_THIS_SITE = "This site"
_NOT_STATED = "Not stated"

#: How long Google's own cookies live, as Google documents them ("How Google uses cookies").
_GOOGLE_COOKIES: dict[str, tuple[str, str]] = {
    "_ga": ("Distinguishes visitors for statistics", "2 years"),
    "_ga_*": ("Keeps the state of a visit for statistics", "2 years"),
    "__gads": ("Ad delivery, frequency capping and measurement", "13 months"),
    "__gpi": ("Ad delivery, frequency capping and measurement", "13 months"),
    "__eoi": ("Security and fraud prevention for ads", "6 months"),
    "_gcl_*": ("Measures which ads lead to visits (conversions)", "90 days"),
    "IDE": ("Ad personalization and measurement (set on doubleclick.net)", "13 months"),
    "test_cookie": ("Checks whether the browser accepts cookies (doubleclick.net)", "15 minutes"),
}

_COUNTRY_NAMES: dict[str, str] = {
    "AT": "Austria", "BE": "Belgium", "BG": "Bulgaria", "CY": "Cyprus", "CZ": "Czechia",
    "DE": "Germany", "DK": "Denmark", "EE": "Estonia", "ES": "Spain", "FI": "Finland",
    "FR": "France", "GR": "Greece", "HR": "Croatia", "HU": "Hungary", "IE": "Ireland",
    "IT": "Italy", "LT": "Lithuania", "LU": "Luxembourg", "LV": "Latvia", "MT": "Malta",
    "NL": "the Netherlands", "PL": "Poland", "PT": "Portugal", "RO": "Romania",
    "SE": "Sweden", "SI": "Slovenia", "SK": "Slovakia", "AX": "Åland", "GF": "French Guiana",
    "GP": "Guadeloupe", "MQ": "Martinique", "RE": "Réunion", "YT": "Mayotte",
    "MF": "Saint Martin", "EU": "addresses registered as EU-wide", "IS": "Iceland",
    "LI": "Liechtenstein", "NO": "Norway", "GB": "the United Kingdom", "GI": "Gibraltar",
    "CH": "Switzerland", "US": "the United States", "CA": "Canada", "BR": "Brazil",
    "MX": "Mexico", "AR": "Argentina", "AU": "Australia", "NZ": "New Zealand",
    "JP": "Japan", "KR": "South Korea", "IN": "India", "CN": "China", "SG": "Singapore",
    "ZA": "South Africa", "TR": "Türkiye", "UA": "Ukraine", "IL": "Israel",
    "RS": "Serbia", "AD": "Andorra", "MC": "Monaco", "SM": "San Marino", "VA": "Vatican City",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class CookieRow:
    """One line of the cookie declaration.

    ``cookie`` is a name or a glob (``_ga_*``); ``vendor`` is ``None`` for the site's own
    cookies; ``lifetime`` is a hint for people ("13 months"), not a parsed duration.
    """

    cookie: str
    service: str
    category: str
    category_title: str
    vendor: str | None
    purpose: str
    lifetime: str


@dataclass(frozen=True, slots=True)
class Section:
    """One section of the privacy policy: an anchor ``id``, a title and plain-text paragraphs."""

    id: str
    title: str
    paragraphs: list[str]


def google_config(settings: ConsentSettings) -> GoogleConfig:
    """The Google-related settings as the plain values the integration takes."""
    return GoogleConfig(
        consent_mode=settings.google_consent_mode,
        wait_for_update_ms=settings.wait_for_update_ms,
        ads_data_redaction=settings.ads_data_redaction,
        url_passthrough=settings.url_passthrough,
        measurement_id=(
            settings.analytics.measurement_id if settings.analytics.provider == "ga4" else None
        ),
        allow_google_signals=settings.analytics.allow_google_signals,
        ads_provider=settings.ads.provider,
        ads_client=settings.ads.client,
        ads_without_consent=settings.ads.without_consent,
    )


def effective_services(
    settings: ConsentSettings, google: GoogleConfig | None = None
) -> tuple[ServiceSpec, ...]:
    """Every service the site runs: the built-in Google ones the settings turn on, then
    the declared ``services`` (the same list the middleware gates)."""
    config = google if google is not None else google_config(settings)
    return (
        *builtin_services(config),
        *(
            ServiceSpec(
                name=s.name,
                category=s.category,
                description=s.description,
                vendor=s.vendor,
                privacy_url=s.privacy_url,
                cookies=tuple(s.cookies),
                cookie_path=s.cookie_path,
                hosts=tuple(s.hosts),
                scripts=tuple(s.scripts),
            )
            for s in settings.services
        ),
    )


def category_titles(settings: ConsentSettings) -> dict[str, str]:
    """Each category's English title, as the banner shows it."""
    return {name: title for name, (title, _) in _category_texts(settings).items()}


def cookie_table(
    settings: ConsentSettings, *, lifetimes: Mapping[str, str] | None = None
) -> list[CookieRow]:
    """The cookie declaration: the consent cookie, then every service's cookies.

    ``lifetimes`` maps cookie names (or globs, as declared) to a lifetime hint for cookies
    whose lifetime consentgate cannot know (the site's own and other vendors').
    """
    known = dict(lifetimes or {})
    titles = category_titles(settings)
    necessary = next(c.name for c in settings.categories if c.required)
    months = _months(settings.consent_max_age_days)
    rows = [
        CookieRow(
            cookie=settings.cookie_name,
            service="Privacy choice",
            category=necessary,
            category_title=titles[necessary],
            vendor=None,
            purpose="Keeps your privacy choice (signed, so it cannot be altered) and your "
            "consent id, so that you are not asked on every page",
            lifetime=known.get(settings.cookie_name, f"{months} months"),
        )
    ]
    for service in effective_services(settings):
        for cookie in service.cookies:
            purpose, lifetime = _GOOGLE_COOKIES.get(cookie, ("", ""))
            if service.vendor != "Google" or not purpose:
                purpose, lifetime = service.description or service.name, _NOT_STATED
            rows.append(
                CookieRow(
                    cookie=cookie,
                    service=service.name,
                    category=service.category,
                    category_title=titles.get(service.category, service.category),
                    vendor=service.vendor,
                    purpose=purpose,
                    lifetime=known.get(cookie, lifetime),
                )
            )
    return rows


def policy_sections(settings: ConsentSettings) -> list[Section]:
    """The cookie and consent sections of a privacy policy, in reading order."""
    services = effective_services(settings)
    sections = [
        _overview(settings),
        _who_is_asked(settings),
        _categories(settings, services),
        _third_parties(services),
    ]
    if settings.analytics.provider == "ga4":
        sections.append(_analytics(settings))
    if settings.ads.provider != "none":
        sections.append(_advertising(settings))
    if settings.ads.provider != "none" or any(s.category == "advertising" for s in services):
        sections.append(_gpc(settings))
    sections += [_lifetime(settings), _withdraw(settings), _records(settings)]
    return sections


def render_policy_html(settings: ConsentSettings, *, heading_level: int = 2) -> str:
    """:func:`policy_sections` as HTML ``<section>`` elements; URLs and the visitor's
    consent pages become links."""
    level = min(max(heading_level, 1), 6)
    link = _linker(settings.endpoint_path)
    out = []
    for section in policy_sections(settings):
        paragraphs = "".join(f"<p>{link(text)}</p>" for text in section.paragraphs)
        out.append(
            f'<section id="{escape(section.id)}" class="consentgate-policy">'
            f"<h{level}>{escape(section.title)}</h{level}>{paragraphs}</section>"
        )
    return "\n".join(out)


def render_cookie_table_html(
    settings: ConsentSettings, *, lifetimes: Mapping[str, str] | None = None
) -> str:
    """:func:`cookie_table` as an HTML ``<table>``."""
    head = ("Cookie", "Service", "Category", "Provided by", "Purpose", "Lifetime")
    cells = "".join(f'<th scope="col">{h}</th>' for h in head)
    rows = []
    for row in cookie_table(settings, lifetimes=lifetimes):
        values = (
            row.service,
            row.category_title,
            row.vendor or _THIS_SITE,
            row.purpose,
            row.lifetime,
        )
        # data-label lets a stylesheet show each row as a card on narrow screens.
        rows.append(
            f'<tr><th scope="row"><code>{escape(row.cookie)}</code></th>'
            + "".join(
                f'<td data-label="{label}">{escape(value)}</td>'
                for label, value in zip(head[1:], values, strict=True)
            )
            + "</tr>"
        )
    return (
        '<table class="consentgate-cookie-table">'
        f"<thead><tr>{cells}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


# -- sections ---------------------------------------------------------------------------------


def _overview(settings: ConsentSettings) -> Section:
    return Section(
        "cookies-and-consent",
        "Cookies and consent",
        [
            "This site uses cookies and similar technologies (small files and scripts that "
            "store or read information in your browser). Some are strictly necessary for the "
            "site to work; the others run only when you allow them, one category at a time. "
            "This section lists them, tells you who provides them and how you stay in control.",
            f"This is revision {settings.policy_revision} of our cookie policy. When we change "
            "what we use or how, we publish a new revision and ask you for your choice again.",
        ],
    )


def _who_is_asked(settings: ConsentSettings) -> Section:
    codes = settings.regulated_countries
    unknown_asked = settings.unknown_country == "regulated"
    if codes == ["*"]:
        paragraphs = [
            "Every visitor is asked for consent on their first visit, wherever they are. "
            "Until you choose, only strictly necessary cookies are used."
        ]
    else:
        where = _places(codes) if codes else "no country"
        paragraphs = [
            f"Visitors from {where} are asked for consent on their first visit. Until they "
            "choose, only strictly necessary cookies are used. We work out your country from "
            "your IP address each time you request a page.",
            (
                "If we cannot tell where you are, we ask you too."
                if unknown_asked
                else "If we cannot tell where you are, we treat you as a visitor from elsewhere."
            ),
            "Visitors from elsewhere are not shown the consent dialog: every category is on "
            "for them by default, and they can refuse any of them at any time with the "
            "Privacy settings link, exactly as others can.",
        ]
    return Section("who-is-asked", "Who is asked for consent", paragraphs)


def _categories(settings: ConsentSettings, services: Iterable[ServiceSpec]) -> Section:
    by_category: dict[str, list[ServiceSpec]] = {}
    for service in services:
        by_category.setdefault(service.category, []).append(service)
    texts = _category_texts(settings)
    paragraphs = []
    for category in settings.categories:
        title, description = texts[category.name]
        state = "always on" if category.required else "only with your consent"
        listed = by_category.get(category.name, [])
        used = (
            " Services: " + "; ".join(_service_line(s) for s in listed) + "."
            if listed
            else " We currently use no service in this category."
        )
        if category.required:
            used += f' Your choice itself is kept in the "{settings.cookie_name}" cookie.'
        paragraphs.append(f"{title} ({state}). {_sentence(description)}{used}")
    return Section("categories", "What we use, by category", paragraphs)


def _service_line(service: ServiceSpec) -> str:
    line = service.name
    if service.vendor:
        line += f", provided by {service.vendor}"
    if service.cookies:
        line += f" (cookies: {', '.join(service.cookies)})"
    return line


def _third_parties(services: Iterable[ServiceSpec]) -> Section:
    vendors: dict[str, list[ServiceSpec]] = {}
    for service in services:
        if service.vendor:
            vendors.setdefault(service.vendor, []).append(service)
    if not vendors:
        paragraphs = ["All the services listed above are run by this site itself."]
    else:
        paragraphs = []
        for vendor, listed in vendors.items():
            names = _join([s.name for s in listed])
            text = f"{vendor}, a third party, provides {names} and processes data to do so."
            if vendor == "Google":
                text += (
                    " How Google uses information from sites that use its services: "
                    f"{PARTNER_SITES_URL}"
                )
            else:
                urls = sorted({s.privacy_url for s in listed if s.privacy_url})
                if urls:
                    text += f" Its privacy notice: {', '.join(urls)}"
            paragraphs.append(text)
        paragraphs.append(
            "Third parties may also set cookies on their own domains. We cannot read or "
            "delete those; you can remove them in your browser's settings."
        )
    return Section("third-parties", "Third parties", paragraphs)


def _analytics(settings: ConsentSettings) -> Section:
    paragraphs = [
        "With your consent to analytics, we use Google Analytics 4 to count visits and to "
        "see which pages are read, as aggregated statistics. Google Analytics 4 does not log "
        "or store IP addresses. Without that consent, Google Analytics is not loaded at all."
    ]
    if settings.analytics.allow_google_signals:
        paragraphs.append(
            "Google signals and ad personalization in Google Analytics are switched on only "
            "if you also allow advertising."
        )
    else:
        paragraphs.append("Google signals and ad personalization in Google Analytics are off.")
    return Section("analytics", "Statistics", paragraphs)


def _advertising(settings: ConsentSettings) -> Section:
    ads = settings.ads
    network = "Google AdSense" if ads.provider == "adsense" else "Google Ad Manager"
    before = {
        "none": "Until you choose, no ads are loaded and no ad cookies are set.",
        "limited": "Until you choose, you see limited ads: Google does not use cookies or "
        "other storage in your browser for them and does not personalize them.",
    }[ads.before_choice]
    without = {
        "non_personalized": "If you refuse advertising, you see non-personalized ads: they "
        "are chosen from the page you read and your approximate location, not from a profile "
        "of you. Google may still use cookies for them, to limit how often you see the same "
        "ad, for aggregated reporting and against fraud.",
        "limited": "If you refuse advertising, you see limited ads: Google does not use "
        "cookies or other storage in your browser for them and does not personalize them.",
        "none": "If you refuse advertising, no ads are loaded and no ad cookies are set.",
    }[ads.without_consent]
    paragraphs = [
        f"We show ads through {network}, run by Google. With your consent to advertising, "
        "the ads may be personalized, that is, chosen from your interests as Google "
        "infers them.",
        before,
        without,
    ]
    if settings.google_consent_mode:
        paragraphs.append(
            "We pass your choices to Google's tags with Google Consent Mode, so that they "
            "follow them."
        )
    return Section("advertising", "Advertising", paragraphs)


def _gpc(settings: ConsentSettings) -> Section:
    if settings.honor_gpc:
        text = (
            "If your browser sends the Global Privacy Control signal (GPC), we take it as an "
            "objection to personalized advertising: you are not shown personalized ads, even if "
            "you allowed advertising earlier, unless you allowed it while the signal was on."
        )
    else:
        text = (
            "We do not currently act on the Global Privacy Control signal (GPC); please use "
            "the Privacy settings to refuse what you do not want."
        )
    return Section("global-privacy-control", "Global Privacy Control", [text])


def _lifetime(settings: ConsentSettings) -> Section:
    days = settings.consent_max_age_days
    return Section(
        "how-long",
        "How long your choice lasts",
        [
            f'We keep your choice in the "{settings.cookie_name}" cookie for '
            f"{_months(days)} months ({days} days) from the moment you make it, and then ask "
            "you again. We also ask again when we publish a new revision of this policy or "
            "change what we offer; your earlier choices are then filled in for you.",
        ],
    )


def _withdraw(settings: ConsentSettings) -> Section:
    page = f"{settings.endpoint_path}/settings"
    return Section(
        "change-or-withdraw",
        "Changing or withdrawing your consent",
        [
            "You can change or withdraw your consent at any time, as easily as you gave it: "
            "use the Privacy settings link shown on every page, or open "
            f"{page}. Withdrawing refuses every optional category.",
            "When you refuse a category, we delete the cookies of that category that your "
            "browser sends us, and its scripts no longer run. Withdrawing does not affect "
            "what was done with your consent before.",
        ],
    )


def _records(settings: ConsentSettings) -> Section:
    endpoint = settings.endpoint_path
    if settings.ledger_url is None:
        paragraphs = [
            "We do not keep a record of your choice on our servers: it exists only in the "
            "cookie in your browser."
        ]
    else:
        paragraphs = [
            "To be able to prove what you agreed to, we keep a record each time you make or "
            "change a choice: a random consent id, the date and time, your choice, the policy "
            "revision, your country and whether you were asked for consent, your IP address, "
            "whether your browser sent Global Privacy Control, the language of the dialog and "
            "the exact wording you were shown.",
            f"Your full IP address is erased after {_duration(settings.ip_retention_days)}; "
            "only a shortened form stays with the record (the first three of the four parts "
            "of an IPv4 address, or the first 48 bits of an IPv6 address), which no longer "
            "identifies your connection. Records are deleted after "
            f"{_duration(settings.record_retention_days)}.",
            "The Privacy settings page shows your consent id; quote it if you write to us. "
            f"You can see the records we keep about you at {endpoint}/receipt (a request "
            f"with GET), and delete them with the button on the Privacy settings page (a "
            f"request with POST to {endpoint}/erase). Deleting them also removes your choice, "
            "so you will be asked again.",
        ]
    return Section("your-records", "Proof of consent and your records", paragraphs)


# -- helpers ----------------------------------------------------------------------------------


def _category_texts(settings: ConsentSettings) -> dict[str, tuple[str, str]]:
    texts = shipped_texts(_LANG) or {}
    texts.update(settings.banner.texts.get("*", {}))
    texts.update(settings.banner.texts.get(_LANG, {}))
    out = {}
    for category in settings.categories:
        title = category.title or texts.get(f"cat_{category.name}", category.name)
        description = category.description
        if description is None:
            description = texts.get(f"cat_{category.name}_desc", "")
        out[category.name] = (title, description)
    return out


def _places(codes: Iterable[str]) -> str:
    remaining = list(dict.fromkeys(codes))
    parts = []
    if set(EU_MEMBERS) <= set(remaining):
        territories = [t for ts in EU_TERRITORIES.values() for t in ts]
        whole = set(territories) <= set(remaining)
        parts.append(
            "the European Union" + (" (including its outermost regions and Åland)" if whole else "")
        )
        covered = {*EU_MEMBERS, "EU", *(territories if whole else ())}
        remaining = [c for c in remaining if c not in covered]
    parts += [_COUNTRY_NAMES.get(code, f"the country coded {code}") for code in remaining]
    return _join(parts)


def _join(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _sentence(text: str) -> str:
    text = text.strip()
    return text if not text or text.endswith((".", "!", "?")) else text + "."


def _months(days: int) -> int:
    return max(1, round(days / _DAYS_PER_MONTH))


def _duration(days: int) -> str:
    if days % 365 == 0:
        years = days // 365
        return f"{years} year{'s' if years > 1 else ''}"
    return f"{days} day{'s' if days > 1 else ''}"


def _linker(endpoint_path: str) -> Callable[[str], str]:
    """Escape plain text, turning http(s) URLs and the visitor's consent pages into links."""
    pages = "|".join(re.escape(endpoint_path + page) for page in ("/settings", "/receipt"))
    pattern = re.compile(rf"(https?://[^\s<>\"']*[^\s<>\"'.,;:)])|(?<![\w/])({pages})(?![\w/])")

    def link(text: str) -> str:
        out, last = [], 0
        for match in pattern.finditer(text):
            url = escape(match.group(0))
            out += [escape(text[last : match.start()]), f'<a href="{url}">{url}</a>']
            last = match.end()
        out.append(escape(text[last:]))
        return "".join(out)

    return link
