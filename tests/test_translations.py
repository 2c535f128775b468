"""Consistency checks for the consent-banner texts in ``consentgate/banner/texts/*.json``."""

from __future__ import annotations

import json
import re
from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable

import pytest

#: The 24 official EU languages plus Icelandic and Norwegian Bokmål.
LANGUAGES: frozenset[str] = frozenset(
    {
        "bg",
        "cs",
        "da",
        "de",
        "el",
        "en",
        "es",
        "et",
        "fi",
        "fr",
        "ga",
        "hr",
        "hu",
        "it",
        "lt",
        "lv",
        "mt",
        "nl",
        "pl",
        "pt",
        "ro",
        "sk",
        "sl",
        "sv",
        "is",
        "nb",
    }
)
NON_ENGLISH: list[str] = sorted(LANGUAGES - {"en"})
PLACEHOLDER = re.compile(r"\{(\w+)\}")
#: A translation may share at most this many values with English (e.g. "Cookies").
MAX_IDENTICAL_TO_ENGLISH = 3
#: Labels of the equal-size banner buttons, which must stay short.
BUTTON_KEYS: tuple[str, ...] = ("accept_all", "reject_all", "customize", "save", "back")
MAX_BUTTON_LENGTH = 22


def _texts_dir() -> Traversable:
    return files("consentgate.banner") / "texts"


def _no_duplicate_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    keys = [key for key, _ in pairs]
    duplicates = sorted({key for key in keys if keys.count(key) > 1})
    if duplicates:
        raise ValueError(f"duplicate keys: {duplicates}")
    return dict(pairs)


@cache
def _raw_files() -> dict[str, str]:
    return {
        entry.name.removesuffix(".json"): entry.read_text(encoding="utf-8")
        for entry in _texts_dir().iterdir()
        if entry.is_file() and entry.name.endswith(".json")
    }


@cache
def _load(lang: str) -> dict[str, object]:
    raw = _raw_files().get(lang)
    if raw is None:
        pytest.fail(f"texts/{lang}.json is missing")
    data = json.loads(raw, object_pairs_hook=_no_duplicate_keys)
    assert isinstance(data, dict), f"{lang}.json must hold a JSON object"
    return data


def _english() -> dict[str, object]:
    return _load("en")


def _placeholders(value: object) -> set[str]:
    return set(PLACEHOLDER.findall(value)) if isinstance(value, str) else set()


def test_language_files_are_exactly_the_supported_languages() -> None:
    assert set(_raw_files()) == LANGUAGES


@pytest.mark.parametrize("lang", sorted(LANGUAGES))
def test_file_is_utf8_json_with_2_space_indent_in_english_key_order(lang: str) -> None:
    data = _load(lang)
    assert list(data) == list(_english()), "keys must be in the same order as in en.json"
    expected = json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    assert _raw_files()[lang] == expected


@pytest.mark.parametrize("lang", NON_ENGLISH)
def test_keys_match_english(lang: str) -> None:
    english = set(_english())
    keys = set(_load(lang))
    assert not english - keys, f"missing keys: {sorted(english - keys)}"
    assert not keys - english, f"unexpected keys: {sorted(keys - english)}"


@pytest.mark.parametrize("lang", sorted(LANGUAGES))
def test_values_are_trimmed_non_empty_strings(lang: str) -> None:
    for key, value in _load(lang).items():
        assert isinstance(value, str), f"{key}: not a string"
        assert value, f"{key}: empty"
        assert value == value.strip(), f"{key}: leading or trailing whitespace"


@pytest.mark.parametrize("lang", NON_ENGLISH)
def test_placeholders_match_english(lang: str) -> None:
    english = _english()
    for key, value in _load(lang).items():
        if key in english:
            assert _placeholders(value) == _placeholders(english[key]), key


@pytest.mark.parametrize("lang", NON_ENGLISH)
def test_not_an_untranslated_copy_of_english(lang: str) -> None:
    english = _english()
    identical = sorted(key for key, value in _load(lang).items() if english.get(key) == value)
    assert len(identical) <= MAX_IDENTICAL_TO_ENGLISH, f"same as English: {identical}"


@pytest.mark.parametrize("lang", sorted(LANGUAGES))
def test_button_labels_are_short(lang: str) -> None:
    data = _load(lang)
    for key in BUTTON_KEYS:
        value = data[key]
        assert isinstance(value, str)
        assert len(value) <= MAX_BUTTON_LENGTH, f"{key}: {value!r} is too long for a button"


@pytest.mark.parametrize("lang", sorted(LANGUAGES))
def test_intro_names_the_link_that_reopens_the_settings(lang: str) -> None:
    data = _load(lang)
    reopen = data["reopen"]
    intro = data["intro"]
    assert isinstance(reopen, str)
    assert isinstance(intro, str)
    assert reopen in intro, "the intro must name the reopen link by its label"
