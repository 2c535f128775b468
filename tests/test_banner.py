"""The banner: language choice, texts and overrides, the dialog, the settings page, assets."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consentgate.banner import (
    SHIPPED_LANGUAGES,
    TEXT_KEYS,
    Banner,
    CategoryInfo,
    ServiceInfo,
    pick_language,
)

BANNER_DIR = Path(__file__).resolve().parents[1] / "src" / "consentgate" / "banner"
EU_LANGS = ["bg", "cs", "da", "de", "el", "en", "es", "et", "fi", "fr", "ga", "hr", "hu"]
EU_LANGS += ["it", "lt", "lv", "mt", "nl", "pl", "pt", "ro", "sk", "sl", "sv", "is", "nb"]
PARTNER_SITES = "https://policies.google.com/technologies/partner-sites"
EVIL = "<script>alert('x')</script>\"&"


# -- helpers ------------------------------------------------------------------------------

_VOID = {"input", "meta", "link", "br", "img", "hr"}


@dataclass
class Node:
    tag: str
    attrs: dict[str, str | None]
    children: list[Node] = field(default_factory=list)
    text_parts: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(self.text_parts)

    def walk(self) -> list[Node]:
        out = [self]
        for child in self.children:
            out.extend(child.walk())
        return out

    def find_all(self, tag: str | None = None, **attrs: str) -> list[Node]:
        return [
            n
            for n in self.walk()[1:]
            if (tag is None or n.tag == tag) and all(n.attrs.get(k) == v for k, v in attrs.items())
        ]

    def by_id(self, ident: str) -> Node:
        (found,) = [n for n in self.walk() if n.attrs.get("id") == ident]
        return found


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, dict(attrs))
        self.stack[-1].children.append(node)
        if tag not in _VOID:
            self.stack.append(node)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack[-1].tag == tag, f"</{tag}> closes <{self.stack[-1].tag}>"
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        for node in self.stack:
            node.text_parts.append(data)


def parse(markup: str) -> Node:
    builder = _TreeBuilder()
    builder.feed(markup)
    builder.close()
    assert builder.stack == [builder.root], "unclosed elements"
    return builder.root


def google(name: str, *cookies: str) -> ServiceInfo:
    return ServiceInfo(name, f"About {name}.", "Google", PARTNER_SITES, cookies)


DEFAULT_CATEGORIES = (
    CategoryInfo("necessary", True, None, None, ()),
    CategoryInfo("functional", False, None, None, ()),
    CategoryInfo("analytics", False, None, None, (google("Google Analytics 4", "_ga", "_ga_*"),)),
    CategoryInfo(
        "advertising",
        False,
        None,
        None,
        (
            google("Google AdSense", "__gads", "__gpi", "__eoi", "_gcl_*"),
            google("Google Ad Manager", "IDE", "test_cookie"),
        ),
    ),
)


def make_banner(**changes: object) -> Banner:
    options: dict[str, object] = {
        "endpoint_path": "/_consent",
        "privacy_policy_url": "/privacy",
        "languages": EU_LANGS,
        "default_language": "en",
        "overrides": {},
        "categories": DEFAULT_CATEGORIES,
        "consent_max_age_days": 182,
    }
    options.update(changes)
    return Banner(**options)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def banner() -> Banner:
    return make_banner()


def dialog(banner: Banner, lang: str = "en", **kw: object) -> Node:
    options: dict[str, object] = {"prefill": frozenset(), "open": True, "review": False}
    options.update(kw)
    return parse(banner.dialog_html(lang, **options))  # type: ignore[arg-type]


def settings(banner: Banner, **kw: object) -> Node:
    options: dict[str, object] = {
        "granted": frozenset({"necessary"}),
        "decided": False,
        "consent_id": None,
        "next_path": "/here",
        "nonce": None,
    }
    options.update(kw)
    return parse(banner.settings_page("en", **options))  # type: ignore[arg-type]


# -- pick_language ------------------------------------------------------------------------


def test_pick_language_follows_q_values() -> None:
    assert pick_language("fr;q=0.5, de;q=0.9, en;q=0.1", EU_LANGS, "en") == "de"


def test_pick_language_breaks_q_ties_by_header_order() -> None:
    assert pick_language("sv, da", EU_LANGS, "en") == "sv"
    assert pick_language("da;q=0.8, sv;q=0.8", EU_LANGS, "en") == "da"


def test_pick_language_prefers_exact_tag_over_primary_subtag() -> None:
    langs = ["pt", "pt-br", "en"]
    assert pick_language("pt-BR", langs, "en") == "pt-br"
    assert pick_language("pt-PT", langs, "en") == "pt"


def test_pick_language_falls_back_to_primary_subtag() -> None:
    assert pick_language("de-AT,en;q=0.5", EU_LANGS, "en") == "de"


def test_pick_language_matches_an_offered_regional_variant() -> None:
    assert pick_language("pt", ["en", "pt-br"], "en") == "pt-br"


@pytest.mark.parametrize("header", ["no", "nn", "nb-NO", "no-NO", "nn-NO", "NB"])
def test_pick_language_maps_norwegian_to_bokmal(header: str) -> None:
    assert pick_language(header, EU_LANGS, "en") == "nb"


def test_pick_language_excludes_q_zero() -> None:
    assert pick_language("de;q=0, fr;q=0.1", EU_LANGS, "en") == "fr"
    assert pick_language("de;q=0", EU_LANGS, "en") == "en"
    assert pick_language("de;q=0.000", EU_LANGS, "en") == "en"


def test_pick_language_star_means_default() -> None:
    assert pick_language("xx, *;q=0.5", EU_LANGS, "de") == "de"


@pytest.mark.parametrize(
    "header",
    [None, "", "!!!", ";;;", "de;q=2", "de;q=abc", "de;x=1", "d e", "x" * 5000, "de-" * 500],
)
def test_pick_language_malformed_gives_default(header: str | None) -> None:
    assert pick_language(header, EU_LANGS, "fi") == "fi"


def test_pick_language_skips_malformed_parts() -> None:
    assert pick_language("??, de;q=0.5", EU_LANGS, "en") == "de"


def test_pick_language_unknown_gives_default() -> None:
    assert pick_language("zh-CN, ja;q=0.8", EU_LANGS, "en") == "en"


def test_pick_language_accepts_any_sequence() -> None:
    assert pick_language("de", ("en", "de"), "en") == "de"
    assert pick_language("de", ["en", "de"], "en") == "de"


@given(st.text(max_size=300))
def test_pick_language_never_fails(header: str) -> None:
    assert pick_language(header, EU_LANGS, "en") in EU_LANGS


def test_banner_language_uses_configured_languages() -> None:
    banner = make_banner(languages=["en", "fr"])
    assert banner.language("de, fr;q=0.5") == "fr"
    assert banner.language("de") == "en"


# -- texts and overrides ------------------------------------------------------------------


def test_every_default_language_is_shipped_with_every_key(banner: Banner) -> None:
    assert set(EU_LANGS) <= SHIPPED_LANGUAGES
    for lang in EU_LANGS:
        assert set(banner.texts(lang)) >= set(TEXT_KEYS)
        assert all(banner.texts(lang)[key].strip() for key in TEXT_KEYS)


def test_override_per_language() -> None:
    banner = make_banner(overrides={"en": {"title": "Cookies?"}})
    assert banner.texts("en")["title"] == "Cookies?"
    assert banner.texts("de")["title"] != "Cookies?"
    assert "Cookies?" in banner.dialog_html("en", prefill=frozenset(), open=True, review=False)


def test_override_for_all_languages_yields_to_a_language_override() -> None:
    banner = make_banner(overrides={"*": {"privacy_link": "Policy"}, "de": {"privacy_link": "DE"}})
    assert banner.texts("fr")["privacy_link"] == "Policy"
    assert banner.texts("en")["privacy_link"] == "Policy"
    assert banner.texts("de")["privacy_link"] == "DE"


def test_override_with_unknown_key_is_rejected() -> None:
    with pytest.raises(ValueError, match="titel"):
        make_banner(overrides={"en": {"titel": "x"}})


def test_override_with_a_non_string_value_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"en\.title must be a string"):
        make_banner(overrides={"en": {"title": 3}})


def test_override_for_unconfigured_language_is_rejected() -> None:
    with pytest.raises(ValueError, match="'ja'"):
        make_banner(overrides={"ja": {"title": "x"}})


def test_override_may_name_texts_of_a_custom_category() -> None:
    cats = (*DEFAULT_CATEGORIES, CategoryInfo("social", False, None, None, ()))
    banner = make_banner(categories=cats, overrides={"en": {"cat_social": "Social media"}})
    page = dialog(banner)
    titles = [n.text for n in page.find_all("span", **{"class": "consentgate-cat-title"})]
    assert "Social media" in titles
    # Without a text the name is the title.
    assert "social" in [n.text for n in dialog(banner, "de").find_all("span")]


def test_language_without_texts_is_rejected_naming_it() -> None:
    with pytest.raises(ValueError, match="'xx'") as info:
        make_banner(languages=["en", "xx"])
    assert "title" in str(info.value)


def test_language_without_texts_works_with_a_full_override() -> None:
    full = {key: f"xx {key}" for key in TEXT_KEYS}
    banner = make_banner(languages=["en", "xx"], overrides={"xx": full})
    assert banner.language("xx") == "xx"
    assert banner.texts("xx")["title"] == "xx title"


def test_regional_language_uses_its_primary_texts() -> None:
    banner = make_banner(languages=["en", "de-at"])
    assert banner.texts("de-at")["accept_all"] == make_banner().texts("de")["accept_all"]
    assert banner.language("de-AT") == "de-at"


def test_norwegian_tags_use_the_bokmal_texts() -> None:
    banner = make_banner(languages=["en", "no"])
    assert banner.texts("no")["accept_all"] == make_banner().texts("nb")["accept_all"]


def test_unknown_language_falls_back_to_default(banner: Banner) -> None:
    assert banner.texts("zz") == banner.texts("en")


def test_lifetime_is_given_in_months(banner: Banner) -> None:
    page = settings(banner)
    assert "for 6 months" in page.text
    assert "for 13 months" in settings(make_banner(consent_max_age_days=395)).text


# -- bundle -------------------------------------------------------------------------------


def test_bundle_holds_every_text_category_and_service(banner: Banner) -> None:
    bundle = banner.bundle("de")
    json.dumps(bundle)
    assert bundle["language"] == "de"
    assert bundle["texts"] == dict(banner.texts("de"))
    cats = bundle["categories"]
    assert isinstance(cats, list)
    assert [c["name"] for c in cats] == ["necessary", "functional", "analytics", "advertising"]
    assert cats[2]["title"] == banner.texts("de")["cat_analytics"]
    service = cats[2]["services"][0]
    assert service["name"] == "Google Analytics 4"
    assert service["cookies"] == ["_ga", "_ga_*"]
    assert service["link_url"] == PARTNER_SITES + "?hl=de"


def test_bundle_hash_is_stable(banner: Banner) -> None:
    first = banner.bundle_hash("en")
    assert re.fullmatch(r"[0-9a-f]{64}", first)
    assert banner.bundle_hash("en") == first
    assert make_banner().bundle_hash("en") == first
    assert banner.bundle_hash("de") != first


def test_bundle_hash_is_the_hash_of_canonical_json(banner: Banner) -> None:
    canonical = json.dumps(
        banner.bundle("fr"), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    assert banner.bundle_hash("fr") == hashlib.sha256(canonical.encode()).hexdigest()


def test_bundle_hash_changes_with_an_override(banner: Banner) -> None:
    changed = make_banner(overrides={"en": {"intro": "Different words."}})
    assert changed.bundle_hash("en") != banner.bundle_hash("en")
    assert changed.bundle_hash("de") == banner.bundle_hash("de")


def test_bundle_hash_changes_with_a_service(banner: Banner) -> None:
    cats = (*DEFAULT_CATEGORIES[:3], CategoryInfo("advertising", False, None, None, ()))
    assert make_banner(categories=cats).bundle_hash("en") != banner.bundle_hash("en")


# -- dialog -------------------------------------------------------------------------------


def test_dialog_has_the_fixed_ids_and_dialog_semantics(banner: Banner) -> None:
    page = dialog(banner)
    root = page.by_id("consentgate-banner")
    assert root.attrs["role"] == "dialog"
    assert root.attrs["aria-modal"] == "true"
    assert page.by_id(root.attrs["aria-labelledby"] or "").tag == "h2"
    assert page.by_id(root.attrs["aria-describedby"] or "").text.startswith("We use cookies")
    assert root.attrs["data-endpoint"] == "/_consent"
    assert root.attrs["lang"] == "en"
    for ident in ("consentgate-accept", "consentgate-reject", "consentgate-customize"):
        assert page.by_id(ident)


def test_dialog_is_one_post_form_to_the_endpoint(banner: Banner) -> None:
    root = dialog(banner).by_id("consentgate-banner")
    (form,) = root.find_all("form")
    assert form.attrs["method"] == "post"
    assert form.attrs["action"] == "/_consent"


def test_dialog_first_layer_buttons_have_equal_prominence(banner: Banner) -> None:
    page = dialog(banner)
    buttons = [page.by_id(f"consentgate-{n}") for n in ("accept", "reject", "customize")]
    assert {b.tag for b in buttons} == {"button"}
    assert {b.attrs["class"] for b in buttons} == {"consentgate-btn"}
    assert {b.attrs["type"] for b in buttons} == {"submit"}
    assert not any("style" in b.attrs for b in buttons)
    assert [b.text for b in buttons] == ["Accept all", "Reject all", "Customize"]


def test_dialog_buttons_work_without_javascript(banner: Banner) -> None:
    page = dialog(banner)
    assert page.by_id("consentgate-accept").attrs["value"] == "accept_all"
    assert page.by_id("consentgate-reject").attrs["value"] == "reject_all"
    assert page.by_id("consentgate-save").attrs["value"] == "save"
    customize = page.by_id("consentgate-customize")
    assert customize.attrs["formaction"] == "/_consent/settings"
    assert customize.attrs["formmethod"] == "get"
    assert "name" not in customize.attrs


def test_dialog_links_the_privacy_policy(banner: Banner) -> None:
    intro = dialog(banner).by_id("consentgate-intro")
    (link,) = intro.find_all("a")
    assert link.attrs["href"] == "/privacy"
    assert link.text == "Privacy policy"


def test_dialog_second_layer_starts_hidden(banner: Banner) -> None:
    page = dialog(banner)
    assert "hidden" in page.by_id("consentgate-second").attrs
    assert "hidden" not in page.by_id("consentgate-first").attrs
    assert page.by_id("consentgate-back").attrs["type"] == "button"


def test_dialog_toggles_are_unticked_by_default(banner: Banner) -> None:
    boxes = dialog(banner).find_all("input", name="categories")
    assert [b.attrs["value"] for b in boxes] == ["functional", "analytics", "advertising"]
    assert all(b.attrs["type"] == "checkbox" and "checked" not in b.attrs for b in boxes)


def test_dialog_toggles_follow_prefill(banner: Banner) -> None:
    page = dialog(banner, prefill=frozenset({"analytics", "bogus"}))
    checked = {b.attrs["value"] for b in page.find_all("input", name="categories")
               if "checked" in b.attrs}  # fmt: skip
    assert checked == {"analytics"}


def test_dialog_shows_necessary_as_always_on(banner: Banner) -> None:
    page = dialog(banner)
    (box,) = [n for n in page.find_all("input", type="checkbox") if "disabled" in n.attrs]
    assert "checked" in box.attrs
    assert "name" not in box.attrs
    assert "Always on" in page.text


def test_dialog_hidden_when_not_open(banner: Banner) -> None:
    assert "hidden" in dialog(banner, open=False).by_id("consentgate-banner").attrs
    assert "hidden" not in dialog(banner, open=True).by_id("consentgate-banner").attrs


def test_dialog_says_when_the_offer_changed(banner: Banner) -> None:
    review = banner.texts("en")["review"]
    assert review in dialog(banner, review=True).text
    assert review not in dialog(banner, review=False).text


def test_dialog_carries_the_next_path_escaped(banner: Banner) -> None:
    markup = banner.dialog_html(
        "en", prefill=frozenset(), open=True, review=False, next_path='/a?b="<x>"&c'
    )
    (field_,) = parse(markup).find_all("input", name="next")
    assert field_.attrs["value"] == '/a?b="<x>"&c'
    assert "<x>" not in markup
    assert not dialog(banner).find_all("input", name="next")


def test_dialog_cache_does_not_mix_next_paths(banner: Banner) -> None:
    one = banner.dialog_html("en", prefill=frozenset(), open=True, review=False, next_path="/1")
    two = banner.dialog_html("en", prefill=frozenset(), open=True, review=False, next_path="/2")
    assert 'value="/1"' in one
    assert 'value="/2"' in two
    assert one.replace("/1", "/2") == two


def test_dialog_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    import consentgate.banner

    monkeypatch.setattr(consentgate.banner, "_MAX_CACHED_DIALOGS", 2)
    banner = make_banner()
    for prefill in ({"analytics"}, {"advertising"}, {"functional"}, {"analytics"}):
        page = dialog(banner, prefill=frozenset(prefill))
        boxes = page.find_all("input", name="categories")
        assert {b.attrs["value"] for b in boxes if "checked" in b.attrs} == prefill


def test_dialog_lists_the_current_grants(banner: Banner) -> None:
    page = dialog(banner, granted=frozenset({"advertising", "analytics", "nope"}))
    assert page.by_id("consentgate-banner").attrs["data-granted"] == (
        "advertising analytics necessary"
    )
    assert dialog(banner).by_id("consentgate-banner").attrs["data-granted"] == "necessary"


def test_dialog_names_google_as_third_party_with_localised_link(banner: Banner) -> None:
    for lang in ("en", "de", "fr"):
        texts = banner.texts(lang)
        page = dialog(banner, lang)
        line = texts["third_party"].replace("{vendor}", "Google")
        vendors = page.find_all("p", **{"class": "consentgate-vendor"})
        assert vendors
        assert all(line in v.text for v in vendors)
        links = [a for v in vendors for a in v.find_all("a")]
        assert {a.attrs["href"] for a in links} == {f"{PARTNER_SITES}?hl={lang}"}
        assert {a.text for a in links} == {texts["google_link"]}


def test_dialog_lists_services_and_cookies(banner: Banner) -> None:
    text = dialog(banner).text
    for name in ("Google Analytics 4", "Google AdSense", "Google Ad Manager", "_ga_*", "IDE"):
        assert name in text


def test_other_vendors_get_a_third_party_line_and_their_privacy_link() -> None:
    services = (
        ServiceInfo("Chat", "Support chat.", "Acme Ltd", "https://acme.example/privacy", ()),
        ServiceInfo("Maps", "Maps.", "Atlas", None, ("m",)),
        ServiceInfo("Own stats", "", None, None, ()),
    )
    cats = (*DEFAULT_CATEGORIES[:1], CategoryInfo("functional", False, None, None, services))
    page = dialog(make_banner(categories=cats))
    vendors = {
        v.text.split(" is a third party")[0]: v
        for v in page.find_all("p", **{"class": "consentgate-vendor"})
    }
    assert set(vendors) == {"Acme Ltd", "Atlas"}
    (link,) = vendors["Acme Ltd"].find_all("a")
    assert link.attrs["href"] == "https://acme.example/privacy"
    assert link.attrs["rel"] == "noopener noreferrer"
    assert not vendors["Atlas"].find_all("a")


def test_dialog_escapes_every_configured_string() -> None:
    evil_service = ServiceInfo(EVIL, EVIL, EVIL, "https://x.example/?a=1&b=\"'<>", (EVIL,))
    cats = (
        CategoryInfo("necessary", True, EVIL, EVIL, ()),
        CategoryInfo("analytics", False, EVIL, EVIL, (evil_service,)),
    )
    banner = make_banner(
        categories=cats,
        privacy_policy_url='/privacy?a="<b>"',
        endpoint_path='/_c"<x>',
        overrides={"*": {"title": EVIL, "intro": EVIL, "third_party": "{vendor} " + EVIL}},
    )
    markup = banner.dialog_html("en", prefill=frozenset(), open=True, review=True, next_path=EVIL)
    markup += banner.settings_page(
        "en",
        granted=frozenset(),
        decided=True,
        consent_id=EVIL,
        next_path=EVIL,
        nonce=EVIL,
    )
    markup += banner.reopen_html("en") + banner.assets_html(nonce=EVIL)
    assert "<script>" not in markup.replace("<script src=", "")
    assert "'x'" not in markup
    page = parse(markup)
    assert EVIL in [n.text for n in page.find_all("h2")]
    assert any(n.attrs.get("value") == EVIL for n in page.find_all("input"))
    assert page.find_all("a", href='/privacy?a="<b>"')


def test_non_http_urls_are_rejected() -> None:
    with pytest.raises(ValueError, match="privacy_policy_url"):
        make_banner(privacy_policy_url="javascript:alert(1)")
    bad = ServiceInfo("S", "", "V", "javascript:alert(1)", ())
    with pytest.raises(ValueError, match="'S'"):
        make_banner(categories=(CategoryInfo("functional", False, None, None, (bad,)),))


@pytest.mark.parametrize("lang", EU_LANGS)
def test_every_language_renders(banner: Banner, lang: str) -> None:
    page = dialog(banner, lang)
    assert page.by_id("consentgate-title").text == banner.texts(lang)["title"]
    assert page.by_id("consentgate-banner").attrs["lang"] == lang
    assert settings(banner).find_all("form")


# -- reopen link and assets ---------------------------------------------------------------


def test_reopen_link_points_to_the_settings_page(banner: Banner) -> None:
    page = parse(banner.reopen_html("de"))
    link = page.by_id("consentgate-reopen")
    assert link.attrs["href"] == "/_consent/settings"
    assert "data-consentgate-open" in link.attrs
    assert link.text == banner.texts("de")["reopen"]


def test_assets_have_content_hashed_names(banner: Banner) -> None:
    for name, source, kind in (
        (banner.script_name, "banner.js", "text/javascript"),
        (banner.style_name, "banner.css", "text/css"),
    ):
        found = banner.asset(name)
        assert found is not None
        body, content_type = found
        assert body == (BANNER_DIR / source).read_bytes()
        assert content_type.startswith(kind)
        stem, ext = source.split(".")
        # The name is derived from the bytes, so any change to the file changes it.
        assert name == f"{stem}.{hashlib.sha256(body).hexdigest()[:12]}.{ext}"


@pytest.mark.parametrize("name", ["banner.js", "banner.css", "nope.js", "../__init__.py", ""])
def test_unknown_asset_is_none(banner: Banner, name: str) -> None:
    assert banner.asset(name) is None


def test_assets_html_links_both_assets_with_nonce(banner: Banner) -> None:
    page = parse(banner.assets_html(nonce="n0nce", granted=frozenset({"analytics", "bogus"})))
    (link,) = page.find_all("link")
    (script,) = page.find_all("script")
    assert link.attrs == {
        "rel": "stylesheet",
        "href": f"/_consent/assets/{banner.style_name}",
        "nonce": "n0nce",
    }
    assert script.attrs == {
        "src": f"/_consent/assets/{banner.script_name}",
        "data-endpoint": "/_consent",
        "data-granted": "analytics necessary",  # known categories only, necessary always
        "defer": None,
        "nonce": "n0nce",
    }
    assert "nonce" not in banner.assets_html(nonce=None)


def test_endpoint_path_trailing_slash_is_ignored() -> None:
    banner = make_banner(endpoint_path="/consent/")
    assert parse(banner.reopen_html("en")).by_id("consentgate-reopen").attrs["href"] == (
        "/consent/settings"
    )


# -- settings page ------------------------------------------------------------------------


def test_settings_page_is_a_complete_document(banner: Banner) -> None:
    markup = banner.settings_page(
        "de", granted=frozenset(), decided=False, consent_id=None, next_path="/", nonce=None
    )
    assert markup.startswith("<!DOCTYPE html>")
    page = parse(markup)
    (html_el,) = page.find_all("html")
    assert html_el.attrs["lang"] == "de"
    assert page.find_all("title")[0].text == banner.texts("de")["settings_title"]
    (style,) = page.find_all("link", rel="stylesheet")
    assert style.attrs["href"] == f"/_consent/assets/{banner.style_name}"
    assert not page.find_all("script")


def test_settings_page_is_a_no_js_form(banner: Banner) -> None:
    page = settings(banner, granted=frozenset({"necessary", "analytics"}))
    form = page.find_all("form", action="/_consent")[0]
    assert form.attrs["method"] == "post"
    boxes = form.find_all("input", name="categories")
    assert [(b.attrs["value"], "checked" in b.attrs) for b in boxes] == [
        ("functional", False),
        ("analytics", True),
        ("advertising", False),
    ]
    (necessary,) = [b for b in form.find_all("input") if "disabled" in b.attrs]
    assert "checked" in necessary.attrs
    actions = [b.attrs["value"] for b in form.find_all("button", name="action")]
    assert actions == ["accept_all", "reject_all", "save"]
    assert all(b.attrs["type"] == "submit" for b in form.find_all("button"))
    assert form.find_all("input", name="next")[0].attrs["value"] == "/here"


def test_settings_page_lists_services_with_third_party_line(banner: Banner) -> None:
    page = settings(banner)
    assert "Google Analytics 4" in page.text
    assert "_ga_*" in page.text
    assert page.find_all("a", href=f"{PARTNER_SITES}?hl=en")


def test_settings_page_offers_withdraw_only_when_decided(banner: Banner) -> None:
    assert not settings(banner, decided=False).find_all("button", value="withdraw")
    (button,) = settings(banner, decided=True).find_all("button", value="withdraw")
    assert button.attrs["name"] == "action"


def test_settings_page_shows_status_when_decided(banner: Banner) -> None:
    page = settings(banner, decided=True, granted=frozenset({"necessary", "analytics"}))
    statuses = [n.text for n in page.find_all("p", **{"class": "consentgate-status"})]
    assert statuses == ["Not allowed", "Allowed", "Not allowed"]
    assert not settings(banner).find_all("p", **{"class": "consentgate-status"})


def test_settings_page_shows_the_consent_id(banner: Banner) -> None:
    page = settings(banner, consent_id="c0ffee-1234", decided=True)
    assert "Your consent ID: c0ffee-1234" in page.text
    assert "Your consent ID" not in settings(banner).text


def test_settings_page_links_receipt_erase_and_policy(banner: Banner) -> None:
    page = settings(banner)
    assert page.find_all("a", href="/_consent/receipt")
    (erase,) = page.find_all("form", action="/_consent/erase")
    assert erase.attrs["method"] == "post"
    assert erase.find_all("button", type="submit")
    assert erase.find_all("input", name="next")[0].attrs["value"] == "/here"
    assert page.find_all("a", href="/privacy")
    assert page.find_all("a", href="/here")


def test_settings_page_confirms_a_save(banner: Banner) -> None:
    (notice,) = settings(banner, saved=True).find_all("p", role="status")
    assert notice.text == "Your choices have been saved."
    assert not settings(banner).find_all("p", role="status")


def test_settings_page_puts_the_nonce_on_its_style(banner: Banner) -> None:
    assert settings(banner, nonce="abc").find_all("link")[0].attrs["nonce"] == "abc"


# -- script, style and size ---------------------------------------------------------------


def test_banner_script_is_valid_javascript() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.fail(
            "node is not on PATH: install Node.js (apt-get install nodejs) to check banner.js"
        )
    result = subprocess.run(
        [node, "--check", str(BANNER_DIR / "banner.js")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_banner_script_uses_no_syntax_newer_than_es2017() -> None:
    source = (BANNER_DIR / "banner.js").read_text()
    for newer in ("?.", "??", "catch {", "**=", "#"):
        assert newer not in source, newer


def test_banner_script_talks_to_the_page_contract() -> None:
    source = (BANNER_DIR / "banner.js").read_text()
    for needle in (
        "consentgate:change",
        "data-consentgate-open",
        'script[type="text/plain"][data-consentgate-category]',
        "data-consentgate-src",
        "data-consentgate-type",
        '"consent", "update"',
        "location.reload()",
        "form.submit()",
    ):
        assert needle in source, needle


def test_assets_make_no_external_requests() -> None:
    for name in ("banner.js", "banner.css"):
        source = (BANNER_DIR / name).read_text()
        assert "http:" not in source
        assert "https:" not in source
        assert "//" + "www" not in source
    css = (BANNER_DIR / "banner.css").read_text()
    assert "url(" not in css
    assert "@import" not in css
    assert "@font-face" not in css


def _css_blocks() -> tuple[str, list[str]]:
    css = re.sub(r"/\*.*?\*/", "", (BANNER_DIR / "banner.css").read_text(), flags=re.S)
    return css, re.findall(r"([^{}]+)\{", css)


def test_style_selectors_are_all_prefixed() -> None:
    _, selectors = _css_blocks()
    for selector in selectors:
        selector = selector.strip()
        if selector.startswith("@") or selector in ("from", "to"):
            continue
        for name in re.findall(r"[.#]([A-Za-z_-][\w-]*)", selector):
            assert name.startswith("consentgate-"), selector


def test_style_honours_dark_mode_and_reduced_motion() -> None:
    css, _ = _css_blocks()
    assert "@media (prefers-color-scheme:dark)" in css
    assert "@media (prefers-reduced-motion:reduce)" in css
    assert ".consentgate-banner[hidden]" in css


def _luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _contrast(a: str, b: str) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_style_colours_meet_wcag_aa(theme: str) -> None:
    css, _ = _css_blocks()
    light, dark = css.split("@media (prefers-color-scheme:dark)")
    block = light if theme == "light" else dark.split("}}")[0]
    colours = dict(re.findall(r"--cg-([a-z-]+):(#[0-9a-f]{6})", block))
    for fg, bg in (("fg", "bg"), ("muted", "bg"), ("link", "bg"), ("btn-fg", "btn-bg")):
        assert _contrast(colours[fg], colours[bg]) >= 4.5, (theme, fg, bg)
    for ui in ("border", "focus", "btn-bg"):
        assert _contrast(colours[ui], colours["bg"]) >= 3, (theme, ui)


def test_banner_fits_the_size_budget(banner: Banner) -> None:
    markup = banner.dialog_html(
        "en", prefill=frozenset(), open=True, review=False, next_path="/a/page"
    ).encode()
    script = banner.asset(banner.script_name)
    style = banner.asset(banner.style_name)
    assert script is not None
    assert style is not None
    size = len(gzip.compress(markup + script[0] + style[0], compresslevel=9))
    print(f"banner dialog + JS + CSS, gzip -9: {size} bytes")
    assert size <= 12 * 1024, size


# -- in a real browser --------------------------------------------------------------------

ORIGIN = "http://consentgate.test"
ALL = ["necessary", "functional", "analytics", "advertising"]
SITE_HEAD = (
    '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Site</title><script>'
    "window.dataLayer=[];window.log=[];document.addEventListener('consentgate:change',"
    "function(e){log.push('event:'+e.detail.granted.join(','))});</script></head><body>"
    '<header><a href="#top" id="site-link">Site link</a></header><main><p>Content</p>'
    '<script type="text/plain" data-consentgate-category="analytics"'
    ' data-consentgate-src="/tag.js" data-extra="kept"></script>'
    '<script type="text/plain" data-consentgate-category="analytics">log.push("inline")</script>'
    '<script type="text/plain" data-consentgate-category="advertising">log.push("ads")</script>'
    "</main>"
)


@dataclass
class Site:
    """A fake site served through Playwright routing; records what the banner posts."""

    banner: Banner
    open: bool = True
    granted: frozenset[str] = frozenset({"necessary"})
    fail_fetch: bool = False
    posts: list[tuple[str, str]] = field(default_factory=list)

    def html(self) -> str:
        return (
            SITE_HEAD
            + self.banner.assets_html(nonce=None, granted=self.granted)
            + self.banner.dialog_html(
                "en",
                prefill=frozenset(),
                open=self.open,
                review=False,
                next_path="/",
                granted=self.granted,
            )
            + self.banner.reopen_html("en")
            + "</body></html>"
        )

    def handle(self, route: Any, request: Any) -> None:
        path = request.url.removeprefix(ORIGIN)
        if path.startswith("/_consent/assets/"):
            found = self.banner.asset(path.rsplit("/", 1)[1])
            assert found is not None
            route.fulfill(body=found[0], content_type=found[1])
        elif path == "/tag.js":
            route.fulfill(body="log.push('tag:'+document.currentScript.dataset.extra)")
        elif path == "/_consent" and request.method == "POST":
            kind = request.headers.get("content-type", "")
            self.posts.append((kind, request.post_data or ""))
            if "json" not in kind:
                route.fulfill(body="<p>recorded</p>", content_type="text/html")
            elif self.fail_fetch:
                route.abort()
            else:
                data = json.loads(request.post_data or "{}")
                granted = {
                    "accept_all": ALL,
                    "reject_all": ["necessary"],
                    "save": ["necessary", *data["categories"]],
                }[data["action"]]
                mode = {"analytics_storage": "granted" if "analytics" in granted else "denied"}
                body = {"consent": {"granted": granted, "google_consent_mode": mode}}
                route.fulfill(body=json.dumps(body), content_type="application/json")
        elif path in ("/", "/_consent/settings"):
            route.fulfill(body=self.html(), content_type="text/html")
        else:
            route.fulfill(status=404, body="")


@pytest.fixture
def visit(browser: Any, banner: Banner) -> Iterator[Any]:
    """Open the fake site; returns ``(page, site)``."""
    context = browser.new_context()
    errors: list[str] = []

    def go(**options: Any) -> tuple[Any, Site]:
        site = Site(banner, **options)
        page = context.new_page()
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.route("**/*", site.handle)
        page.goto(ORIGIN + "/")
        return page, site

    yield go
    context.close()
    assert errors == []


def test_browser_first_visit_is_modal(visit: Any) -> None:
    page, _ = visit()
    assert page.evaluate("document.activeElement.id") == "consentgate-accept"
    inert = page.evaluate("[...document.body.children].map(e => [e.tagName, e.inert])")
    assert ["HEADER", True] in inert
    assert ["MAIN", True] in inert
    assert page.evaluate("document.getElementById('consentgate-banner').inert") is False
    for _ in range(10):
        page.keyboard.press("Tab")
        assert page.evaluate("!!document.activeElement.closest('#consentgate-banner')")
    page.keyboard.press("Shift+Tab")
    assert page.evaluate("!!document.activeElement.closest('#consentgate-banner')")


def test_browser_escape_moves_focus_to_reject_and_records_nothing(visit: Any) -> None:
    page, site = visit()
    page.keyboard.press("Escape")
    assert page.evaluate("document.activeElement.id") == "consentgate-reject"
    assert page.is_visible("#consentgate-banner")
    assert site.posts == []


def test_browser_first_layer_buttons_look_the_same(visit: Any) -> None:
    page, _ = visit()
    styles = page.evaluate(
        """['accept', 'reject', 'customize'].map(n => {
            const b = document.getElementById('consentgate-' + n), s = getComputedStyle(b),
                  r = b.getBoundingClientRect();
            return [Math.round(r.width), Math.round(r.height), Math.round(r.top),
                    s.color, s.backgroundColor, s.fontSize, s.fontWeight, s.borderColor];
        })"""
    )
    assert styles[0] == styles[1] == styles[2]


def test_browser_fits_a_320px_screen(visit: Any) -> None:
    page, _ = visit()
    page.set_viewport_size({"width": 320, "height": 480})
    assert page.evaluate("document.documentElement.scrollWidth") <= 320
    box = page.evaluate("document.getElementById('consentgate-banner').getBoundingClientRect()")
    assert box["height"] <= 480
    page.click("#consentgate-customize")
    page.locator("#consentgate-save").scroll_into_view_if_needed()
    assert page.is_visible("#consentgate-save")


def test_browser_save_activates_granted_tags_in_order(visit: Any) -> None:
    page, site = visit()
    page.click("#consentgate-customize")
    assert page.is_hidden("#consentgate-first")
    assert page.evaluate("document.activeElement.value") == "functional"
    page.check("input[value=analytics]")
    page.click("#consentgate-save")
    page.wait_for_function("log.length >= 3")
    assert site.posts == [("application/json", '{"action":"save","categories":["analytics"]}')]
    assert page.evaluate("log") == ["event:necessary,analytics", "tag:kept", "inline"]
    assert page.evaluate("JSON.stringify(dataLayer.map(a => Array.from(a)))") == json.dumps(
        [["consent", "update", {"analytics_storage": "granted"}]], separators=(",", ":")
    )
    assert page.is_hidden("#consentgate-banner")
    assert page.evaluate("[...document.body.children].some(e => e.inert)") is False
    assert page.evaluate("document.querySelectorAll('script[type=\"text/plain\"]').length") == 1


def test_browser_accept_prefers_gtag(visit: Any) -> None:
    page, _ = visit()
    page.evaluate(
        "() => { window.gtag = function () { log.push('gtag:' + [].slice.call(arguments, 0, 2)) } }"
    )
    page.click("#consentgate-accept")
    page.wait_for_function("log.indexOf('ads') >= 0")
    assert page.evaluate("log")[0] == "gtag:consent,update"
    assert page.evaluate("dataLayer.length") == 0


def test_browser_reopen_shows_current_choices_and_reloads_on_revoke(visit: Any) -> None:
    page, site = visit(open=False, granted=frozenset({"necessary", "analytics"}))
    assert page.is_hidden("#consentgate-banner")
    page.click("#consentgate-reopen")
    assert page.url == ORIGIN + "/"
    assert page.is_visible("#consentgate-second")
    assert page.is_checked("input[value=analytics]")
    assert not page.is_checked("input[value=advertising]")
    page.keyboard.press("Escape")
    assert page.is_hidden("#consentgate-banner")
    assert page.evaluate("document.activeElement.id") == "consentgate-reopen"
    page.click("#consentgate-reopen")
    page.uncheck("input[value=analytics]")
    with page.expect_navigation():
        page.click("#consentgate-save")
    assert site.posts[-1][1] == '{"action":"save","categories":[]}'


def test_browser_falls_back_to_a_form_post(visit: Any) -> None:
    page, site = visit(fail_fetch=True)
    with page.expect_navigation():
        page.click("#consentgate-reject")
    assert site.posts[-1] == ("application/x-www-form-urlencoded", "next=%2F&action=reject_all")
