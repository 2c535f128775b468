"""Consent: Consent Mode v2 mapping, JSON form, immutability and hashing; AdMode values."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from consentgate import AdMode, Consent

DECIDED_AT = datetime(2024, 5, 17, 9, 30, 12, tzinfo=UTC)
SIGNALS = {
    "ad_storage",
    "ad_user_data",
    "ad_personalization",
    "analytics_storage",
    "functionality_storage",
    "personalization_storage",
    "security_storage",
}


def make_consent(granted: set[str] | frozenset[str] = frozenset(), **overrides: Any) -> Consent:
    """A decided consent from DE granting ``granted`` plus ``necessary``."""
    fields: dict[str, Any] = {
        "country": "DE",
        "regulated": True,
        "decided": True,
        "granted": frozenset(granted) | {"necessary"},
        "consent_id": "AbCdEfGhIjKlMnOp",
        "revision": 2,
        "decided_at": DECIDED_AT,
        "gpc": False,
        "ads": AdMode.PERSONALIZED if "advertising" in granted else AdMode.NON_PERSONALIZED,
        "analytics": "analytics" in granted,
        "show_banner": False,
    }
    fields.update(overrides)
    return Consent(**fields)


def undecided() -> Consent:
    return make_consent(
        decided=False,
        consent_id=None,
        revision=None,
        decided_at=None,
        ads=AdMode.NONE,
        show_banner=True,
    )


# -- Consent Mode v2 --------------------------------------------------------------------------


def test_consent_mode_names_the_seven_v2_signals() -> None:
    assert set(make_consent().google_consent_mode()) == SIGNALS


def test_consent_mode_of_an_undecided_visitor_denies_all_but_security() -> None:
    signals = undecided().google_consent_mode()
    assert {k for k, v in signals.items() if v == "granted"} == {"security_storage"}


def test_consent_mode_with_everything_granted_grants_everything() -> None:
    everything = {"functional", "analytics", "advertising"}
    assert set(make_consent(everything).google_consent_mode().values()) == {"granted"}


def test_consent_mode_analytics_storage_follows_analytics() -> None:
    signals = make_consent({"analytics"}).google_consent_mode()
    assert signals["analytics_storage"] == "granted"
    assert signals["ad_storage"] == "denied"


@pytest.mark.parametrize("signal", ["ad_storage", "ad_user_data", "ad_personalization"])
def test_consent_mode_ad_signals_follow_advertising(signal: str) -> None:
    assert make_consent({"advertising"}).google_consent_mode()[signal] == "granted"


@pytest.mark.parametrize("signal", ["ad_storage", "ad_user_data", "ad_personalization"])
def test_consent_mode_ad_signals_are_denied_without_advertising(signal: str) -> None:
    assert make_consent({"analytics", "functional"}).google_consent_mode()[signal] == "denied"


def test_consent_mode_gpc_opt_out_keeps_ad_storage() -> None:
    consent = make_consent({"advertising"}, gpc=True, gpc_opt_out=True)
    assert consent.google_consent_mode()["ad_storage"] == "granted"


@pytest.mark.parametrize("signal", ["ad_user_data", "ad_personalization"])
def test_consent_mode_gpc_opt_out_denies_personal_ad_signals(signal: str) -> None:
    consent = make_consent({"advertising"}, gpc=True, gpc_opt_out=True)
    assert consent.google_consent_mode()[signal] == "denied"


@pytest.mark.parametrize("signal", ["functionality_storage", "personalization_storage"])
def test_consent_mode_functional_signals_follow_functional(signal: str) -> None:
    assert make_consent({"functional"}).google_consent_mode()[signal] == "granted"


@pytest.mark.parametrize("signal", ["functionality_storage", "personalization_storage"])
def test_consent_mode_functional_signals_are_denied_without_functional(signal: str) -> None:
    assert make_consent({"analytics"}).google_consent_mode()[signal] == "denied"


def test_consent_mode_security_storage_is_granted_with_only_necessary() -> None:
    assert make_consent().google_consent_mode()["security_storage"] == "granted"


# -- allows -----------------------------------------------------------------------------------


def test_allows_a_granted_category() -> None:
    assert make_consent({"analytics"}).allows("analytics") is True


def test_does_not_allow_a_refused_category() -> None:
    assert make_consent({"analytics"}).allows("advertising") is False


def test_allows_necessary_always() -> None:
    assert undecided().allows("necessary") is True


# -- as_dict ----------------------------------------------------------------------------------


def test_as_dict_is_json_serialisable() -> None:
    consent = make_consent({"analytics", "advertising"}, gpc=True)
    assert json.loads(json.dumps(consent.as_dict()))["granted"] == [
        "advertising",
        "analytics",
        "necessary",
    ]


def test_as_dict_of_an_undecided_visitor_is_json_serialisable() -> None:
    assert json.loads(json.dumps(undecided().as_dict()))["decided_at"] is None


def test_as_dict_gives_decided_at_in_iso_format() -> None:
    text = make_consent().as_dict()["decided_at"]
    assert datetime.fromisoformat(text) == DECIDED_AT


def test_as_dict_decided_at_carries_the_utc_offset() -> None:
    assert make_consent().as_dict()["decided_at"].endswith("+00:00")


def test_as_dict_gives_ads_as_its_string_value() -> None:
    value = make_consent().as_dict()["ads"]
    assert (type(value), value) == (str, "non_personalized")


def test_as_dict_has_every_documented_field() -> None:
    documented = {
        "country",
        "regulated",
        "decided",
        "granted",
        "consent_id",
        "revision",
        "decided_at",
        "gpc",
        "ads",
        "analytics",
        "show_banner",
    }
    assert documented <= set(make_consent().as_dict())


def test_as_dict_includes_the_consent_mode_signals() -> None:
    consent = make_consent({"analytics"})
    assert consent.as_dict()["google_consent_mode"] == consent.google_consent_mode()


def test_as_dict_copies_plain_fields() -> None:
    data = make_consent(country="FR", revision=7, consent_id="x" * 16).as_dict()
    assert (data["country"], data["revision"], data["consent_id"]) == ("FR", 7, "x" * 16)


# -- frozen and hashable ----------------------------------------------------------------------


def test_consent_is_hashable() -> None:
    assert isinstance(hash(make_consent({"analytics"})), int)


def test_equal_consents_hash_equal() -> None:
    assert hash(make_consent({"analytics"})) == hash(make_consent({"analytics"}))


def test_equal_consents_collapse_in_a_set() -> None:
    assert len({make_consent({"analytics"}), make_consent({"analytics"}), undecided()}) == 2


def test_consent_is_frozen() -> None:
    consent = make_consent()
    with pytest.raises(dataclasses.FrozenInstanceError):
        consent.show_banner = True  # type: ignore[misc]


def test_consent_granted_cannot_be_mutated_in_place() -> None:
    assert isinstance(make_consent().granted, frozenset)


def test_consent_takes_no_extra_attributes() -> None:
    consent = make_consent()
    with pytest.raises((AttributeError, TypeError)):
        consent.extra = 1  # type: ignore[attr-defined]


# -- AdMode -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "value"),
    [
        (AdMode.PERSONALIZED, "personalized"),
        (AdMode.NON_PERSONALIZED, "non_personalized"),
        (AdMode.LIMITED, "limited"),
        (AdMode.NONE, "none"),
    ],
)
def test_ad_mode_string_values(mode: AdMode, value: str) -> None:
    assert (mode == value, str(mode)) == (True, value)


def test_ad_mode_has_exactly_four_members() -> None:
    assert len(AdMode) == 4
