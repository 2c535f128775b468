"""The decision table of SPEC §4, row by row, and the actions that change a visitor's choice."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import pytest

from consentgate.consent import AdMode, Consent
from consentgate.cookie import CookieState
from consentgate.policy import Action, AdRules, Offer, choose, decide

DEFAULT_CATEGORIES = (
    ("necessary", True, "n"),
    ("functional", False, "f"),
    ("analytics", False, "a"),
    ("advertising", False, "d"),
)
OFFER = Offer.build(DEFAULT_CATEGORIES)
#: The same categories plus one: its hash differs, so cookies made under OFFER are stale.
BIGGER_OFFER = Offer.build((*DEFAULT_CATEGORIES, ("social", False, "s")))
EVERYTHING = frozenset({"necessary", "functional", "analytics", "advertising"})
ONLY_NECESSARY = frozenset({"necessary"})
REVISION = 3
DECIDED_AT = 1_700_000_000
CONSENT_ID = "AbCdEfGhIjKlMnOp"


def make_cookie(
    granted: set[str],
    *,
    revision: int = REVISION,
    offer: Offer = OFFER,
    gpc: bool = False,
) -> CookieState:
    """A cookie as the middleware writes it after a choice under ``offer``."""
    granted_names = set(granted) | {"necessary"}
    return CookieState(
        consent_id=CONSENT_ID,
        revision=revision,
        granted=offer.to_codes(granted_names),
        refused=offer.to_codes(set(offer.optional) - granted_names),
        decided_at=DECIDED_AT,
        offer=offer.hash,
        gpc=gpc,
    )


def run(
    *,
    regulated: bool = True,
    cookie: CookieState | None = None,
    gpc: bool = False,
    rules: AdRules | None = None,
    **overrides: Any,
) -> Consent:
    """``decide`` for a visitor from DE (regulated) or US (unregulated)."""
    arguments: dict[str, Any] = {
        "offer": OFFER,
        "revision": REVISION,
        "country": "DE" if regulated else "US",
        "regulated": regulated,
        "cookie": cookie,
        "gpc": gpc,
        "rules": rules or AdRules(),
    }
    arguments.update(overrides)
    return decide(**arguments)


ALL_DENIED_BUT_SECURITY = {
    "ad_storage": "denied",
    "ad_user_data": "denied",
    "ad_personalization": "denied",
    "analytics_storage": "denied",
    "functionality_storage": "denied",
    "personalization_storage": "denied",
    "security_storage": "granted",
}
both_regions = pytest.mark.parametrize("regulated", [True, False], ids=["regulated", "unregulated"])


# -- row 1: a valid cookie for the current revision and offer ---------------------------------


@both_regions
def test_valid_cookie_shows_no_banner(regulated: bool) -> None:
    consent = run(regulated=regulated, cookie=make_cookie({"analytics"}))
    assert consent.show_banner is False


@both_regions
def test_valid_cookie_counts_as_decided(regulated: bool) -> None:
    assert run(regulated=regulated, cookie=make_cookie({"analytics"})).decided is True


@both_regions
def test_valid_cookie_grants_what_it_records(regulated: bool) -> None:
    consent = run(regulated=regulated, cookie=make_cookie({"analytics"}))
    assert consent.granted == {"necessary", "analytics"}


def test_valid_cookie_refusal_holds_outside_regulated_countries() -> None:
    consent = run(regulated=False, cookie=make_cookie({"functional"}))
    assert consent.analytics is False
    assert not consent.allows("advertising")


def test_necessary_is_granted_even_when_the_cookie_omits_it() -> None:
    cookie = dataclasses.replace(make_cookie(set()), granted=frozenset())
    assert run(cookie=cookie).granted == ONLY_NECESSARY


@both_regions
def test_valid_cookie_granting_advertising_gives_personalized_ads(regulated: bool) -> None:
    assert run(regulated=regulated, cookie=make_cookie({"advertising"})).ads is AdMode.PERSONALIZED


@pytest.mark.parametrize("mode", [AdMode.NON_PERSONALIZED, AdMode.LIMITED, AdMode.NONE])
@both_regions
def test_valid_cookie_refusing_advertising_gives_ads_without_consent(
    regulated: bool, mode: AdMode
) -> None:
    consent = run(
        regulated=regulated, cookie=make_cookie({"analytics"}), rules=AdRules(without_consent=mode)
    )
    assert consent.ads is mode


@both_regions
def test_valid_cookie_granting_analytics_allows_analytics(regulated: bool) -> None:
    assert run(regulated=regulated, cookie=make_cookie({"analytics"})).analytics is True


@both_regions
def test_valid_cookie_refusing_analytics_disallows_analytics(regulated: bool) -> None:
    assert run(regulated=regulated, cookie=make_cookie({"advertising"})).analytics is False


def test_valid_cookie_gives_its_consent_id_revision_and_decision_time() -> None:
    consent = run(cookie=make_cookie({"analytics"}))
    assert (consent.consent_id, consent.revision, consent.decided_at) == (
        CONSENT_ID,
        REVISION,
        datetime.fromtimestamp(DECIDED_AT, tz=UTC),
    )


def test_valid_cookie_decision_time_is_timezone_aware_utc() -> None:
    decided_at = run(cookie=make_cookie({"analytics"})).decided_at
    assert decided_at is not None
    assert decided_at.utcoffset() is not None
    assert decided_at.utcoffset().total_seconds() == 0  # type: ignore[union-attr]


def test_country_and_regulated_flag_are_passed_through() -> None:
    consent = run(regulated=False, cookie=make_cookie({"analytics"}))
    assert (consent.country, consent.regulated) == ("US", False)


# -- row 2: unregulated, no cookie ------------------------------------------------------------


def test_unregulated_visitor_without_cookie_sees_no_banner() -> None:
    assert run(regulated=False).show_banner is False


def test_unregulated_visitor_without_cookie_gets_every_category() -> None:
    assert run(regulated=False).granted == EVERYTHING


def test_unregulated_visitor_without_cookie_gets_personalized_ads() -> None:
    assert run(regulated=False).ads is AdMode.PERSONALIZED


def test_unregulated_visitor_without_cookie_gets_analytics() -> None:
    assert run(regulated=False).analytics is True


def test_unregulated_visitor_without_cookie_has_no_consent_id() -> None:
    assert run(regulated=False).consent_id is None


# -- GPC --------------------------------------------------------------------------------------


def test_gpc_outside_regulated_countries_gives_non_personalized_ads() -> None:
    assert run(regulated=False, gpc=True).ads is AdMode.NON_PERSONALIZED


def test_gpc_outside_regulated_countries_keeps_advertising_granted() -> None:
    assert run(regulated=False, gpc=True).allows("advertising")


@pytest.mark.parametrize("signal", ["ad_user_data", "ad_personalization"])
def test_gpc_outside_regulated_countries_denies_personal_ad_signals(signal: str) -> None:
    assert run(regulated=False, gpc=True).google_consent_mode()[signal] == "denied"


def test_gpc_outside_regulated_countries_still_grants_ad_storage() -> None:
    assert run(regulated=False, gpc=True).google_consent_mode()["ad_storage"] == "granted"


def test_gpc_is_reported_on_the_consent() -> None:
    assert run(regulated=False, gpc=True).gpc is True


def test_gpc_overrides_an_older_cookie_grant_made_without_gpc() -> None:
    consent = run(regulated=False, gpc=True, cookie=make_cookie({"advertising"}, gpc=False))
    assert consent.ads is AdMode.NON_PERSONALIZED


def test_gpc_over_an_older_cookie_grant_denies_ad_user_data() -> None:
    consent = run(regulated=False, gpc=True, cookie=make_cookie({"advertising"}, gpc=False))
    assert consent.google_consent_mode()["ad_user_data"] == "denied"


def test_grant_made_while_gpc_was_on_stays_personalized() -> None:
    consent = run(regulated=False, gpc=True, cookie=make_cookie({"advertising"}, gpc=True))
    assert consent.ads is AdMode.PERSONALIZED


def test_grant_made_while_gpc_was_on_keeps_personal_ad_signals() -> None:
    consent = run(regulated=False, gpc=True, cookie=make_cookie({"advertising"}, gpc=True))
    assert consent.google_consent_mode()["ad_personalization"] == "granted"


def test_gpc_in_a_regulated_country_with_a_cookie_granting_advertising_stays_personalized() -> None:
    consent = run(regulated=True, gpc=True, cookie=make_cookie({"advertising"}))
    assert consent.ads is AdMode.PERSONALIZED


def test_gpc_with_advertising_refused_gives_ads_without_consent() -> None:
    consent = run(
        regulated=False,
        gpc=True,
        cookie=make_cookie({"analytics"}),
        rules=AdRules(without_consent=AdMode.NONE),
    )
    assert consent.ads is AdMode.NONE


def test_gpc_is_ignored_when_honor_gpc_is_off() -> None:
    assert run(regulated=False, gpc=True, rules=AdRules(honor_gpc=False)).ads is AdMode.PERSONALIZED


def test_gpc_over_a_cookie_grant_is_ignored_when_honor_gpc_is_off() -> None:
    consent = run(
        regulated=False,
        gpc=True,
        cookie=make_cookie({"advertising"}),
        rules=AdRules(honor_gpc=False),
    )
    assert consent.google_consent_mode()["ad_user_data"] == "granted"


# -- row 3: regulated (or unknown), no valid cookie -------------------------------------------


def test_regulated_visitor_without_cookie_sees_the_banner() -> None:
    assert run().show_banner is True


def test_regulated_visitor_without_cookie_is_undecided() -> None:
    assert run().decided is False


def test_regulated_visitor_without_cookie_gets_only_necessary() -> None:
    assert run().granted == ONLY_NECESSARY


@pytest.mark.parametrize("mode", [AdMode.NONE, AdMode.LIMITED])
def test_regulated_visitor_without_cookie_gets_ads_before_choice(mode: AdMode) -> None:
    assert run(rules=AdRules(before_choice=mode)).ads is mode


def test_regulated_visitor_without_cookie_gets_no_analytics() -> None:
    assert run().analytics is False


def test_regulated_visitor_without_cookie_denies_all_consent_mode_signals_but_security() -> None:
    assert run().google_consent_mode() == ALL_DENIED_BUT_SECURITY


def test_regulated_visitor_without_cookie_has_no_id_revision_or_time() -> None:
    consent = run()
    assert (consent.consent_id, consent.revision, consent.decided_at) == (None, None, None)


def test_gpc_does_not_change_the_undecided_regulated_visitor() -> None:
    consent = run(gpc=True)
    assert (consent.ads, consent.granted) == (AdMode.NONE, ONLY_NECESSARY)


def test_unknown_country_treated_as_regulated_gets_the_banner() -> None:
    consent = run(country=None, regulated=True)
    assert (consent.country, consent.show_banner) == (None, True)


# -- stale cookies: a new revision or a changed offer -----------------------------------------

STALE = {
    "older revision": {"cookie": make_cookie({"analytics", "functional"}, revision=REVISION - 1)},
    "changed offer": {"cookie": make_cookie({"analytics", "functional"}), "offer": BIGGER_OFFER},
}
stale_cases = pytest.mark.parametrize("stale", list(STALE.values()), ids=list(STALE))


@stale_cases
def test_stale_cookie_in_a_regulated_country_shows_the_banner(stale: dict[str, Any]) -> None:
    assert run(**stale).show_banner is True


@stale_cases
def test_stale_cookie_in_a_regulated_country_is_undecided(stale: dict[str, Any]) -> None:
    consent = run(**stale)
    assert (consent.decided, consent.granted, consent.analytics) == (False, ONLY_NECESSARY, False)


@stale_cases
def test_stale_cookie_prefills_the_previous_choices(stale: dict[str, Any]) -> None:
    assert run(**stale).prefill == {"analytics", "functional"}


@stale_cases
def test_stale_cookie_keeps_the_consent_id(stale: dict[str, Any]) -> None:
    assert run(**stale).consent_id == CONSENT_ID


def test_cookie_from_a_newer_revision_is_not_current() -> None:
    assert run(cookie=make_cookie({"analytics"}, revision=REVISION + 1)).show_banner is True


def test_valid_cookie_has_nothing_to_prefill() -> None:
    assert run(cookie=make_cookie({"analytics"})).prefill == frozenset()


def test_unregulated_visitor_with_older_revision_cookie_keeps_its_refusals() -> None:
    cookie = make_cookie({"functional", "advertising"}, revision=REVISION - 1)
    assert run(regulated=False, cookie=cookie).granted == EVERYTHING - {"analytics"}


def test_unregulated_visitor_with_stale_cookie_sees_no_banner() -> None:
    cookie = make_cookie({"functional"}, revision=REVISION - 1)
    assert run(regulated=False, cookie=cookie).show_banner is False


def test_unregulated_visitor_with_stale_offer_gets_new_categories() -> None:
    cookie = make_cookie({"functional", "analytics"})
    consent = run(regulated=False, cookie=cookie, offer=BIGGER_OFFER)
    assert consent.granted == {"necessary", "functional", "analytics", "social"}


def test_unregulated_visitor_with_stale_cookie_refusing_ads_gets_ads_without_consent() -> None:
    cookie = make_cookie({"analytics"}, revision=REVISION - 1)
    consent = run(regulated=False, cookie=cookie, rules=AdRules(without_consent=AdMode.NONE))
    assert consent.ads is AdMode.NONE


def test_unregulated_visitor_with_stale_cookie_keeps_the_consent_id() -> None:
    cookie = make_cookie({"analytics"}, revision=REVISION - 1)
    assert run(regulated=False, cookie=cookie).consent_id == CONSENT_ID


# -- choose -----------------------------------------------------------------------------------


def test_accept_all_grants_every_category() -> None:
    assert choose(OFFER, Action.ACCEPT_ALL) == EVERYTHING


def test_reject_all_grants_only_necessary() -> None:
    assert choose(OFFER, Action.REJECT_ALL) == ONLY_NECESSARY


def test_reject_all_ignores_categories() -> None:
    assert choose(OFFER, Action.REJECT_ALL, ["analytics"]) == ONLY_NECESSARY


def test_withdraw_grants_only_necessary() -> None:
    assert choose(OFFER, Action.WITHDRAW, ["analytics"]) == ONLY_NECESSARY


def test_save_grants_the_chosen_categories_and_necessary() -> None:
    assert choose(OFFER, Action.SAVE, ["analytics"]) == {"necessary", "analytics"}


def test_save_drops_unknown_category_names() -> None:
    assert choose(OFFER, Action.SAVE, ["analytics", "bogus"]) == {"necessary", "analytics"}


def test_save_with_nothing_chosen_grants_only_necessary() -> None:
    assert choose(OFFER, Action.SAVE) == ONLY_NECESSARY


@pytest.mark.parametrize("action", list(Action))
def test_every_action_keeps_necessary(action: Action) -> None:
    assert "necessary" in choose(OFFER, action, [])


def test_action_values_are_the_wire_names() -> None:
    assert [a.value for a in Action] == ["accept_all", "reject_all", "save", "withdraw"]


@both_regions
def test_after_withdraw_the_visitor_is_decided_with_only_necessary_and_no_banner(
    regulated: bool,
) -> None:
    cookie = make_cookie(set(choose(OFFER, Action.WITHDRAW)))
    consent = run(regulated=regulated, cookie=cookie)
    assert (consent.decided, consent.show_banner, consent.granted) == (True, False, ONLY_NECESSARY)


# -- Offer ------------------------------------------------------------------------------------


def test_offer_optional_categories_exclude_necessary() -> None:
    assert OFFER.optional == ("functional", "analytics", "advertising")


def test_offer_maps_names_to_codes_dropping_unknown_names() -> None:
    assert OFFER.to_codes(["analytics", "advertising", "bogus"]) == {"a", "d"}


def test_offer_maps_codes_to_names_dropping_unknown_codes() -> None:
    assert OFFER.names(["a", "d", "z"]) == {"analytics", "advertising"}


def test_offer_hash_changes_with_the_categories() -> None:
    assert OFFER.hash != BIGGER_OFFER.hash


def test_offer_hash_changes_with_the_services() -> None:
    with_ga = Offer.build(DEFAULT_CATEGORIES, [("Google Analytics", "analytics", ["_ga"])])
    assert with_ga.hash != OFFER.hash


def test_offer_without_codes_uses_names_in_the_cookie() -> None:
    offer = Offer.build([("necessary", True, "necessary"), ("analytics", False, "analytics")])
    assert offer.to_codes(["analytics"]) == {"analytics"}
