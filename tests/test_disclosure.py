"""The generated privacy policy and cookie declaration: consentgate.disclosure and .jinja."""

from __future__ import annotations

from typing import Any

import jinja2
import pytest
from markupsafe import Markup

from consentgate import ConsentMiddleware
from consentgate.disclosure import (
    CookieRow,
    Section,
    cookie_table,
    effective_services,
    google_config,
    policy_sections,
    render_cookie_table_html,
    render_policy_html,
)
from consentgate.jinja import install
from consentgate.ledger import NullLedger

from .conftest import FakeGeo, make_settings

GA4 = {"provider": "ga4", "measurement_id": "G-TEST12345"}
ADSENSE = {"provider": "adsense", "client": "ca-pub-1234567890123456"}
VIDEO = {
    "name": "Video player",
    "category": "functional",
    "vendor": "Vids Inc",
    "privacy_url": "https://vids.example/privacy",
    "description": "Plays videos.",
    "cookies": ["vid_session", "vid_*"],
}
PREFS = {"name": "Preferences", "category": "functional", "cookies": ["prefs"]}


def full_settings(**overrides: Any) -> Any:
    values: dict[str, Any] = {
        "analytics": GA4,
        "ads": ADSENSE,
        "services": [VIDEO, PREFS],
        "ledger_url": "sqlite:///ledger.db",
    }
    values.update(overrides)
    return make_settings(**values)


def text_of(sections: list[Section]) -> str:
    return "\n".join(p for s in sections for p in [s.title, *s.paragraphs])


def section(settings: Any, section_id: str) -> str:
    found = [s for s in policy_sections(settings) if s.id == section_id]
    assert found, f"no section {section_id!r}"
    return text_of(found)


# -- services ---------------------------------------------------------------------------------


def test_effective_services_lists_builtin_google_services_then_declared_ones() -> None:
    names = [s.name for s in effective_services(full_settings())]
    assert names == ["Google Analytics 4", "Google AdSense", "Video player", "Preferences"]


def test_effective_services_has_no_google_service_when_none_is_configured() -> None:
    assert [s.name for s in effective_services(make_settings(services=[PREFS]))] == ["Preferences"]


def test_effective_services_are_the_services_the_middleware_gates() -> None:
    settings = full_settings()
    gate = ConsentMiddleware(
        lambda *a: None,  # type: ignore[arg-type,return-value]
        settings=settings,
        ledger=NullLedger(),
        country_database=FakeGeo(),
    )
    assert tuple(gate.services) == effective_services(settings)


def test_google_config_ignores_a_measurement_id_when_analytics_is_off() -> None:
    settings = make_settings(analytics={"provider": "none", "measurement_id": "G-TEST12345"})
    assert google_config(settings).measurement_id is None
    assert google_config(full_settings()).measurement_id == "G-TEST12345"
    assert google_config(full_settings()).ads_client == "ca-pub-1234567890123456"


# -- cookie table ---------------------------------------------------------------------------------


def test_cookie_table_starts_with_the_consent_cookie_and_its_lifetime() -> None:
    first = cookie_table(full_settings(cookie_name="choice", consent_max_age_days=365))[0]
    assert first.cookie == "choice"
    assert first.category == "necessary"
    assert first.vendor is None
    assert first.lifetime == "12 months"


def test_cookie_table_lists_every_cookie_of_every_service() -> None:
    settings = full_settings()
    rows = cookie_table(settings)
    listed = {(r.service, r.cookie) for r in rows}
    for service in effective_services(settings):
        for cookie in service.cookies:
            assert (service.name, cookie) in listed


def test_cookie_table_gives_google_cookies_their_purpose_and_lifetime() -> None:
    rows = {r.cookie: r for r in cookie_table(full_settings())}
    assert rows["_ga"] == CookieRow(
        cookie="_ga",
        service="Google Analytics 4",
        category="analytics",
        category_title="Analytics",
        vendor="Google",
        purpose="Distinguishes visitors for statistics",
        lifetime="2 years",
    )
    assert rows["__gads"].lifetime == "13 months"
    assert rows["__gads"].category_title == "Advertising"


def test_cookie_table_uses_given_lifetimes_for_the_sites_own_cookies() -> None:
    rows = {r.cookie: r for r in cookie_table(full_settings(), lifetimes={"prefs": "1 year"})}
    assert rows["prefs"].lifetime == "1 year"
    assert rows["prefs"].purpose == "Preferences"  # no description: the service's name
    assert rows["vid_session"].lifetime == "Not stated"
    assert rows["vid_session"].purpose == "Plays videos."
    assert rows["vid_session"].vendor == "Vids Inc"


def test_cookie_table_html_has_one_row_per_cookie_and_escapes() -> None:
    evil = dict(PREFS, name="<b>Prefs</b>", cookies=["x<y"])
    settings = full_settings(services=[evil])
    html = render_cookie_table_html(settings)
    assert html.count("<tr>") == len(cookie_table(settings)) + 1  # + the header row
    assert "<b>Prefs</b>" not in html
    assert "&lt;b&gt;Prefs&lt;/b&gt;" in html
    assert "<code>x&lt;y</code>" in html
    assert '<td data-label="Provided by">This site</td>' in html


# -- policy sections ------------------------------------------------------------------------------


def test_policy_sections_have_unique_ids_and_no_empty_paragraphs() -> None:
    sections = policy_sections(full_settings())
    ids = [s.id for s in sections]
    assert len(ids) == len(set(ids))
    assert all(s.paragraphs and all(p.strip() for p in s.paragraphs) for s in sections)


def test_policy_names_every_service_vendor_and_cookie() -> None:
    settings = full_settings()
    text = text_of(policy_sections(settings))
    for service in effective_services(settings):
        assert service.name in text
        for cookie in service.cookies:
            assert cookie in text
    assert "Vids Inc" in text
    assert "https://vids.example/privacy" in text
    assert "https://policies.google.com/technologies/partner-sites" in text


def test_policy_names_the_regulated_countries_in_plain_words() -> None:
    text = section(make_settings(), "who-is-asked")
    assert "the European Union (including its outermost regions and Åland)" in text
    assert "Iceland, Liechtenstein, Norway, the United Kingdom, Gibraltar and Switzerland" in text
    assert "we ask you too" in text


def test_policy_names_a_custom_country_list() -> None:
    text = section(make_settings(regulated_countries=["DE", "US", "QQ"]), "who-is-asked")
    assert "Germany, the United States and the country coded QQ" in text


def test_policy_says_everyone_is_asked_for_a_wildcard() -> None:
    assert "Every visitor is asked" in section(
        make_settings(regulated_countries=["*"]), "who-is-asked"
    )


def test_policy_says_unknown_countries_are_not_asked_when_unregulated() -> None:
    text = section(make_settings(unknown_country="unregulated"), "who-is-asked")
    assert "treat you as a visitor from elsewhere" in text


def test_policy_says_ga4_stores_no_ip_addresses_and_never_mentions_anonymize_ip() -> None:
    settings = full_settings()
    assert "does not log or store IP addresses" in section(settings, "analytics")
    assert "anonymi" not in text_of(policy_sections(settings)).lower()


def test_policy_has_no_analytics_or_ads_section_without_them() -> None:
    ids = {s.id for s in policy_sections(make_settings())}
    assert not ids & {"analytics", "advertising", "global-privacy-control"}


@pytest.mark.parametrize(
    ("ads", "expected"),
    [
        (
            dict(ADSENSE, before_choice="none", without_consent="non_personalized"),
            ["Until you choose, no ads are loaded", "you see non-personalized ads"],
        ),
        (
            dict(ADSENSE, without_consent="none"),
            ["If you refuse advertising, no ads are loaded"],
        ),
        (
            {"provider": "gpt", "before_choice": "limited", "without_consent": "limited"},
            ["Until you choose, you see limited ads", "If you refuse advertising, you see limited"],
        ),
    ],
)
def test_policy_describes_ads_with_and_without_consent(
    ads: dict[str, str], expected: list[str]
) -> None:
    text = section(make_settings(ads=ads), "advertising")
    assert "may be personalized" in text
    for phrase in expected:
        assert phrase in text


def test_policy_says_how_gpc_is_treated() -> None:
    assert "objection to personalized advertising" in section(
        full_settings(), "global-privacy-control"
    )
    assert "do not currently act" in section(
        full_settings(honor_gpc=False), "global-privacy-control"
    )


def test_policy_gives_retention_lifetime_and_revision() -> None:
    settings = full_settings(
        ip_retention_days=14,
        record_retention_days=730,
        consent_max_age_days=182,
        policy_revision=7,
    )
    text = text_of(policy_sections(settings))
    assert "erased after 14 days" in text
    assert "deleted after 2 years" in text
    assert "for 6 months (182 days)" in text
    assert "revision 7" in text


def test_policy_points_to_the_settings_receipt_and_erase_endpoints() -> None:
    settings = full_settings(endpoint_path="/privacy-api")
    text = text_of(policy_sections(settings))
    assert "/privacy-api/settings" in text
    assert "/privacy-api/receipt" in text
    assert "POST to /privacy-api/erase" in text


def test_policy_says_no_records_are_kept_without_a_ledger() -> None:
    text = section(full_settings(ledger_url=None), "your-records")
    assert "We do not keep a record" in text
    assert "receipt" not in text


def test_policy_follows_category_title_overrides() -> None:
    settings = full_settings(
        categories=[
            {"name": "necessary", "required": True},
            {"name": "functional", "title": "Comfort", "description": "Nice things"},
            {"name": "analytics"},
            {"name": "advertising"},
        ],
        banner={"texts": {"en": {"cat_analytics": "Audience measurement"}}},
    )
    text = section(settings, "categories")
    assert "Comfort (only with your consent). Nice things." in text
    assert "Audience measurement (only with your consent)." in text
    assert "Strictly necessary (always on)." in text


def test_policy_html_escapes_and_links_urls_and_consent_pages() -> None:
    evil = dict(VIDEO, name="<script>x</script>")
    html = render_policy_html(full_settings(services=[evil], endpoint_path="/c"))
    assert "<script>" not in html
    assert "&lt;script&gt;x&lt;/script&gt;" in html
    assert '<a href="/c/settings">/c/settings</a>' in html
    assert '<a href="/c/receipt">/c/receipt</a>' in html
    assert '<a href="https://vids.example/privacy">https://vids.example/privacy</a>' in html
    assert '<section id="who-is-asked" class="consentgate-policy"><h2>' in html


def test_policy_html_heading_level_is_adjustable() -> None:
    assert "<h3>Who is asked for consent</h3>" in render_policy_html(
        make_settings(), heading_level=3
    )


# -- jinja ----------------------------------------------------------------------------------------


def render(source: str, settings: Any, **context: Any) -> str:
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    install(env, settings, cookie_lifetimes={"prefs": "1 year"})
    return env.from_string(source).render(**context)


def test_jinja_install_offers_sections_and_cookie_rows() -> None:
    settings = full_settings()
    out = render(
        "{% for s in consentgate_policy_sections %}[{{ s.id }}]{% endfor %}"
        "{% for r in consentgate_cookie_table %}<{{ r.cookie }}:{{ r.lifetime }}>{% endfor %}",
        settings,
    )
    assert "[who-is-asked]" in out
    assert "<prefs:1 year>" in out


def test_jinja_install_offers_the_rendered_html_unescaped() -> None:
    settings = full_settings()
    out = render("{{ consentgate_policy_html }}{{ consentgate_cookie_table_html }}", settings)
    assert out == render_policy_html(settings) + render_cookie_table_html(
        settings, lifetimes={"prefs": "1 year"}
    )


def test_consent_open_link_opens_the_settings_and_escapes() -> None:
    settings = make_settings(endpoint_path="/c")
    out = render(
        "{{ consent_open_link() }}|{{ consent_open_link(t, next='/a b', class_='x\"y') }}",
        settings,
        t="<Privacy>",
    )
    plain, custom = out.split("|")
    assert plain == '<a href="/c/settings" data-consentgate-open>Privacy settings</a>'
    assert custom == (
        '<a href="/c/settings?next=/a%20b" class="x&#34;y" data-consentgate-open>'
        "&lt;Privacy&gt;</a>"
    )


def test_consent_open_link_returns_markup() -> None:
    env = jinja2.Environment(autoescape=True)
    install(env, make_settings())
    assert isinstance(env.globals["consent_open_link"](), Markup)  # type: ignore[operator]
