"""The sentences that frame the GVL's texts in the TCF banner, shipped per banner language."""

from __future__ import annotations

import json
import re
from importlib import resources

import pytest

from consentgate.settings import DEFAULT_LANGUAGES
from consentgate.tcf.gvl import load_gvl, synthetic_gvl_path
from consentgate.tcf.offer import SHIPPED_LANGUAGES, TcfOffer, _sentences

TEXTS = resources.files("consentgate.tcf").joinpath("texts")
PLACEHOLDER = re.compile(r"\{[^{}]*\}")

# The German sentences as they were before they moved into package data.
GERMAN = {
    "intro": (
        "Wir und unsere {count} Partner speichern und/oder lesen Informationen auf Ihrem "
        "Gerät und verarbeiten personenbezogene Daten wie eindeutige Kennungen und "
        "Browserdaten für die unten genannten Zwecke. Sie können zustimmen, ablehnen oder "
        "je Zweck und Partner wählen. Einige Partner verarbeiten Daten auf Grundlage "
        "berechtigten Interesses; dem können Sie unter Anpassen widersprechen. Ihre Auswahl "
        "gilt nur für diese Website und lässt sich jederzeit unter Datenschutzeinstellungen "
        "ändern."
    ),
    "purposes": "Zwecke",
    "objection": "Widerspruch gegen berechtigtes Interesse: {name}",
    "objection_desc": "Partner können sich für diesen Zweck auf berechtigtes Interesse "
    "stützen, sofern Sie nicht widersprechen.",
    "special": "{name} (besonderes Merkmal)",
    "vendor": "Partner: {name}",
    "vendor_desc": "Zwecke mit Einwilligung: {purposes}. Berechtigtes Interesse: {li}. "
    "Besondere Merkmale: {features}. Speichert Daten {retention}.",
    "days": "{days} Tage",
    "unknown": "für eine nicht angegebene Dauer",
    "none": "keine",
    "advertising": "Lädt die Werbe-Tags der unten genannten Partner. Sie wirken nur zusammen "
    "mit der Einwilligung in das Speichern von Informationen auf einem Gerät und in Google "
    "als Partner und nutzen nur, was Sie je Zweck und Partner erlauben.",
}


def _file(lang: str) -> dict[str, str]:
    raw = json.loads(TEXTS.joinpath(f"{lang}.json").read_text(encoding="utf-8"))
    assert isinstance(raw, dict)
    return raw


def test_every_banner_language_ships_tcf_sentences() -> None:
    assert set(DEFAULT_LANGUAGES) <= SHIPPED_LANGUAGES
    banner = resources.files("consentgate.banner").joinpath("texts")
    banner_langs = {e.name[:-5] for e in banner.iterdir() if e.name.endswith(".json")}
    assert banner_langs <= SHIPPED_LANGUAGES


@pytest.mark.parametrize("lang", sorted(DEFAULT_LANGUAGES))
def test_each_file_has_exactly_the_english_keys_and_placeholders(lang: str) -> None:
    english, texts = _file("en"), _file(lang)
    assert set(texts) == set(english)
    for key, value in texts.items():
        assert isinstance(value, str), key
        assert value.strip(), key
        assert sorted(PLACEHOLDER.findall(value)) == sorted(PLACEHOLDER.findall(english[key])), (
            lang,
            key,
        )
        if lang != "en":
            # Translated, not copied: only proper names may stay as in English.
            assert value != english[key] or key in {"vendor"}, (lang, key)


def test_german_sentences_are_unchanged() -> None:
    assert _file("de") == GERMAN
    assert dict(_sentences("de")) == GERMAN
    assert dict(_sentences("de-AT")) == GERMAN


@pytest.mark.parametrize("language", ["xx", "tlh-Latn", "", "../en", "EN"])
def test_unknown_language_falls_back_to_english(language: str) -> None:
    assert dict(_sentences(language)) == _file("en")


def test_region_and_case_pick_the_base_language() -> None:
    assert dict(_sentences("fr-CA")) == _file("fr")
    assert dict(_sentences("PT-br")) == _file("pt")


def test_the_offer_frames_gvl_texts_in_the_visitor_language() -> None:
    offer = TcfOffer.build(
        gvl=load_gvl(synthetic_gvl_path(), ["en"]),
        vendors=[1, 2, 755],
        cmp_id=300,
        cmp_version=4,
        publisher_country="IE",
    )
    texts = offer.texts(["fr", "pl", "zz"])
    french, polish, english = _file("fr"), _file("pl"), _file("en")
    assert texts["fr"]["intro"].startswith(french["intro"].replace("{count}", "3"))
    assert f" {french['purposes']}: " in texts["fr"]["intro"]
    assert texts["pl"]["intro"].startswith(polish["intro"].replace("{count}", "3"))
    assert texts["pl"]["cat_advertising_desc"] == polish["advertising"]
    assert texts["zz"]["cat_advertising_desc"] == english["advertising"]
    assert texts["fr"]["cat_tcf_v755"].startswith("Partenaire : ")
    assert "{" not in "".join(texts["fr"].values())
