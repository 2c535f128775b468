"""The signed consent cookie: round trip, tampering, key rotation, expiry from decided_at."""

from __future__ import annotations

import hashlib
import math
import re
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st
from itsdangerous import Signer

from consentgate.cookie import (
    MAX_COOKIE_LENGTH,
    SALT,
    ConsentCookie,
    CookieState,
    new_consent_id,
    offer_hash,
)

OLD_KEY = "old-key-" + "o" * 32
NEW_KEY = "new-key-" + "n" * 32
MAX_AGE = 182 * 86400
DECIDED_AT = 1_700_000_000
SOON = DECIDED_AT + 60
#: Characters allowed in a cookie value without quoting (RFC 6265 cookie-octet).
COOKIE_OCTETS = set(string.ascii_letters + string.digits + "!#$%&'()*+-./:<=>?@[]^_`{|}~")


def make_state(**overrides: object) -> CookieState:
    fields: dict[str, object] = {
        "consent_id": "AbCdEfGhIjKlMnOp",
        "revision": 1,
        "granted": frozenset({"n", "f", "a"}),
        "refused": frozenset({"d"}),
        "decided_at": DECIDED_AT,
        "offer": "0123abcd",
        "gpc": False,
    }
    fields.update(overrides)
    return CookieState(**fields)  # type: ignore[arg-type]


def codec(*keys: str, max_age: int = MAX_AGE, cache_bytes: int = 1 << 20) -> ConsentCookie:
    return ConsentCookie(list(keys) or [NEW_KEY], max_age=max_age, cache_bytes=cache_bytes)


def split(value: str) -> tuple[str, str]:
    payload, _, signature = value.rpartition(".")
    return payload, signature


# -- round trip and shape ---------------------------------------------------------------------


def test_round_trip_returns_the_same_state() -> None:
    state = make_state()
    assert codec().loads(codec().dumps(state), now=SOON) == (state, False)


def test_round_trip_with_nothing_granted_or_refused() -> None:
    state = make_state(granted=frozenset(), refused=frozenset())
    assert codec().loads(codec().dumps(state), now=SOON) == (state, False)


def test_round_trip_keeps_the_gpc_flag() -> None:
    state = make_state(gpc=True)
    loaded = codec().loads(codec().dumps(state), now=SOON)
    assert loaded is not None
    assert loaded[0].gpc is True


def test_round_trip_keeps_the_banner_language() -> None:
    state = make_state(language="pt-br")
    value = codec().dumps(state)
    assert value.split(".")[8] == "pt-br"
    assert codec().loads(value, now=SOON) == (state, False)


def test_a_cookie_without_a_language_loads_with_none() -> None:
    value = codec().dumps(make_state())
    assert len(value.split(".")) == 9  # eight fields and the signature
    loaded = codec().loads(value, now=SOON)
    assert loaded is not None
    assert loaded[0].language is None


def test_value_with_three_categories_is_under_200_bytes() -> None:
    value = codec().dumps(make_state(granted=frozenset({"n", "f", "a"}), refused=frozenset()))
    assert len(value.encode()) < 200


def test_value_uses_only_cookie_safe_characters() -> None:
    assert set(codec().dumps(make_state())) <= COOKIE_OCTETS


def test_value_does_not_depend_on_set_order() -> None:
    first = make_state(granted=frozenset(["n", "f", "a"]))
    second = make_state(granted=frozenset(["a", "n", "f"]))
    assert codec().dumps(first) == codec().dumps(second)


alphabet = string.ascii_letters + string.digits + "-_"
states = st.builds(
    CookieState,
    consent_id=st.text(alphabet, min_size=1, max_size=22),
    revision=st.integers(min_value=1, max_value=10**6),
    granted=st.frozensets(st.from_regex(r"[a-z0-9]{1,8}", fullmatch=True), max_size=5),
    refused=st.frozensets(st.from_regex(r"[a-z0-9]{1,8}", fullmatch=True), max_size=5),
    decided_at=st.integers(min_value=0, max_value=2**40),
    offer=st.from_regex(r"[0-9a-f]{8}", fullmatch=True),
    gpc=st.booleans(),
)


@given(states)
def test_any_state_round_trips(state: CookieState) -> None:
    assert codec().loads(codec().dumps(state), now=state.decided_at) == (state, False)


# -- what is rejected -------------------------------------------------------------------------


@given(data=st.data())
def test_any_changed_payload_character_is_rejected(data: st.DataObject) -> None:
    value = codec().dumps(make_state())
    payload, _ = split(value)
    index = data.draw(st.integers(min_value=0, max_value=len(payload) - 1))
    replacement = data.draw(st.sampled_from(alphabet + ".").filter(lambda c: c != value[index]))
    tampered = value[:index] + replacement + value[index + 1 :]
    assert codec().loads(tampered, now=SOON) is None


@given(data=st.data())
def test_any_changed_signature_character_is_rejected(data: st.DataObject) -> None:
    value = codec().dumps(make_state())
    payload, signature = split(value)
    # The last base64 character also carries unused padding bits, so it is left out.
    index = data.draw(st.integers(min_value=0, max_value=len(signature) - 2))
    replacement = data.draw(st.sampled_from(alphabet).filter(lambda c: c != signature[index]))
    tampered = f"{payload}.{signature[:index]}{replacement}{signature[index + 1 :]}"
    assert codec().loads(tampered, now=SOON) is None


def test_granting_an_extra_category_in_the_payload_is_rejected() -> None:
    value = codec().dumps(make_state(granted=frozenset({"n"}), refused=frozenset({"d"})))
    tampered = value.replace(".n.d.", ".d-n..", 1)
    assert tampered != value
    assert codec().loads(tampered, now=SOON) is None


@pytest.mark.parametrize(
    "cut",
    [
        lambda v: v[:-1],
        lambda v: v[: len(v) // 2],
        lambda v: split(v)[0],
        lambda v: split(v)[0] + ".",
    ],
    ids=["last-char", "half", "payload-only", "empty-signature"],
)
def test_truncated_value_is_rejected(cut: object) -> None:
    value = codec().dumps(make_state())
    assert codec().loads(cut(value), now=SOON) is None  # type: ignore[operator]


def test_oversized_value_is_rejected_even_when_correctly_signed() -> None:
    value = codec().dumps(make_state(consent_id="x" * MAX_COOKIE_LENGTH))
    assert len(value) > MAX_COOKIE_LENGTH
    assert codec().loads(value, now=SOON) is None


def test_non_ascii_value_is_rejected() -> None:
    value = codec().dumps(make_state())
    assert codec().loads(value + "é", now=SOON) is None


@pytest.mark.parametrize("value", ["", ".", "not-a-cookie", "1.a.b.c", "\x00"])
def test_garbage_value_is_rejected(value: str) -> None:
    assert codec().loads(value, now=SOON) is None


def sign_raw(payload: str, key: str = NEW_KEY) -> str:
    """Sign ``payload`` exactly as the codec does, to forge well-signed but malformed cookies."""
    signer = Signer(key, salt=SALT, key_derivation="hmac", digest_method=hashlib.sha256)
    return signer.sign(payload).decode("ascii")


def test_raw_signer_helper_matches_the_codec() -> None:
    value = codec().dumps(make_state())
    assert sign_raw(split(value)[0]) == value


def test_wrong_format_version_is_rejected() -> None:
    payload = split(codec().dumps(make_state()))[0]
    assert codec().loads(sign_raw("2" + payload[1:]), now=SOON) is None


@pytest.mark.parametrize(
    "payload",
    [
        "1.AbCdEfGhIjKlMnOp.1.n-f.d.kmhi9s.0123abcd",
        "1.AbCdEfGhIjKlMnOp.1.n-f.d.kmhi9s.0123abcd.0.de.extra",
        "1.AbCdEfGhIjKlMnOp.1.n-f.d.kmhi9s.0123abcd.0.extra",
        "1.AbCdEfGhIjKlMnOp.1.n-f.d.kmhi9s.0123abcd.0.",
        "1.AbCdEfGhIjKlMnOp.one.n-f.d.kmhi9s.0123abcd.0",
        "1.AbCdEfGhIjKlMnOp.1.n-f.d.not*b36.0123abcd.0",
    ],
    ids=[
        "too-few-fields",
        "too-many-fields",
        "bad-language",
        "empty-language",
        "bad-revision",
        "bad-time",
    ],
)
def test_well_signed_malformed_payload_is_rejected(payload: str) -> None:
    assert codec().loads(sign_raw(payload), now=SOON) is None


def test_codec_without_keys_cannot_be_built() -> None:
    with pytest.raises(ValueError):
        ConsentCookie([], max_age=MAX_AGE)


@given(st.text(max_size=400))
def test_arbitrary_text_never_raises(value: str) -> None:
    assert codec().loads(value, now=SOON) is None


# -- key rotation -----------------------------------------------------------------------------


def test_cookie_signed_with_old_key_verifies_and_is_flagged() -> None:
    state = make_state()
    value = codec(OLD_KEY).dumps(state)
    assert codec(OLD_KEY, NEW_KEY).loads(value, now=SOON) == (state, True)


def test_cookie_signed_with_newest_key_is_not_flagged() -> None:
    value = codec(NEW_KEY).dumps(make_state())
    loaded = codec(OLD_KEY, NEW_KEY).loads(value, now=SOON)
    assert loaded is not None
    assert loaded[1] is False


def test_resigned_cookie_verifies_with_only_the_newest_key() -> None:
    state = make_state()
    rotating = codec(OLD_KEY, NEW_KEY)
    loaded = rotating.loads(codec(OLD_KEY).dumps(state), now=SOON)
    assert loaded is not None
    assert codec(NEW_KEY).loads(rotating.dumps(loaded[0]), now=SOON) == (state, False)


def test_removed_key_no_longer_verifies() -> None:
    value = codec(OLD_KEY).dumps(make_state())
    assert codec(NEW_KEY).loads(value, now=SOON) is None


def test_cookie_signed_with_newest_key_does_not_verify_with_old_key_only() -> None:
    value = codec(OLD_KEY, NEW_KEY).dumps(make_state())
    assert codec(OLD_KEY).loads(value, now=SOON) is None


def test_other_salt_does_not_verify() -> None:
    value = ConsentCookie([NEW_KEY], max_age=MAX_AGE, salt="other").dumps(make_state())
    assert codec().loads(value, now=SOON) is None


# -- expiry -----------------------------------------------------------------------------------


def test_cookie_is_valid_just_before_its_lifetime_ends() -> None:
    value = codec().dumps(make_state())
    assert codec().loads(value, now=DECIDED_AT + MAX_AGE - 1) is not None


@pytest.mark.parametrize("after", [0, 1, 86400])
def test_cookie_expires_max_age_after_the_decision(after: int) -> None:
    value = codec().dumps(make_state())
    assert codec().loads(value, now=DECIDED_AT + MAX_AGE + after) is None


def test_remaining_counts_from_the_decision() -> None:
    assert codec().remaining(make_state(), DECIDED_AT + 1000) == MAX_AGE - 1000


def test_remaining_is_zero_after_expiry() -> None:
    assert codec().remaining(make_state(), DECIDED_AT + MAX_AGE + 5000) == 0


def test_resigning_keeps_decided_at_so_remaining_shrinks() -> None:
    rotating = codec(OLD_KEY, NEW_KEY)
    first = rotating.loads(codec(OLD_KEY).dumps(make_state()), now=DECIDED_AT + 1000)
    assert first is not None
    resigned = rotating.loads(rotating.dumps(first[0]), now=DECIDED_AT + 2000)
    assert resigned is not None
    assert resigned[0].decided_at == DECIDED_AT
    assert rotating.remaining(resigned[0], DECIDED_AT + 2000) == MAX_AGE - 2000


def test_resigned_cookie_still_expires_max_age_after_the_decision() -> None:
    rotating = codec(OLD_KEY, NEW_KEY)
    first = rotating.loads(codec(OLD_KEY).dumps(make_state()), now=DECIDED_AT + 1000)
    assert first is not None
    assert rotating.loads(rotating.dumps(first[0]), now=DECIDED_AT + MAX_AGE) is None


def test_small_clock_skew_into_the_future_is_tolerated() -> None:
    value = codec().dumps(make_state())
    assert codec().loads(value, now=DECIDED_AT - 60) is not None


def test_decision_time_far_in_the_future_is_rejected() -> None:
    value = codec().dumps(make_state())
    assert codec().loads(value, now=DECIDED_AT - 3600) is None


# -- the cache --------------------------------------------------------------------------------


def test_cached_value_still_expires() -> None:
    cookie = codec()
    value = cookie.dumps(make_state())
    assert cookie.loads(value, now=SOON) is not None
    assert cookie.loads(value, now=DECIDED_AT + MAX_AGE) is None


def test_cached_value_loads_again() -> None:
    cookie = codec()
    value = cookie.dumps(make_state())
    first = cookie.loads(value, now=SOON)
    assert cookie.loads(value, now=SOON + 1) == first


def test_full_cache_keeps_answering_correctly() -> None:
    cookie = codec(cache_bytes=4000)  # room for about two entries
    states = [make_state(consent_id=f"id{n:014d}") for n in range(5)]
    values = [cookie.dumps(state) for state in states]
    for _ in range(2):
        assert [cookie.loads(v, now=SOON) for v in values] == [(s, False) for s in states]


def test_judgement_holds_until_expiry_or_until_a_future_date_arrives() -> None:
    cookie = codec()
    value = cookie.dumps(make_state())
    assert cookie.holds_until(value, SOON) == DECIDED_AT + MAX_AGE
    assert cookie.holds_until(value, DECIDED_AT + MAX_AGE) == math.inf
    assert cookie.holds_until(value[:-2], SOON) == math.inf
    # Dated an hour ahead: "no consent" only until the clock (minus the skew) gets there.
    early = DECIDED_AT - 3600
    assert cookie.loads(value, now=early) is None
    assert cookie.holds_until(value, early) == DECIDED_AT - 300
    assert cookie.loads(value, now=DECIDED_AT - 300) is not None


def test_rejected_value_is_not_cached_as_valid() -> None:
    cookie = codec()
    value = cookie.dumps(make_state())
    assert cookie.loads(value[:-2], now=SOON) is None
    assert cookie.loads(value[:-2], now=SOON) is None


# -- ids and offer hashes ---------------------------------------------------------------------


def test_new_consent_id_is_16_url_safe_characters() -> None:
    assert re.fullmatch(r"[A-Za-z0-9_-]{16}", new_consent_id())


def test_new_consent_ids_differ() -> None:
    assert len({new_consent_id() for _ in range(100)}) == 100


CATEGORIES = ("necessary", "functional", "analytics", "advertising")
GA4 = ("Google Analytics", "analytics", ("_ga", "_ga_*"))
ADSENSE = ("AdSense", "advertising", ("__gads",))


def test_offer_hash_is_eight_hex_characters() -> None:
    assert re.fullmatch(r"[0-9a-f]{8}", offer_hash(CATEGORIES, [GA4]))


def test_offer_hash_is_stable() -> None:
    assert offer_hash(CATEGORIES, [GA4, ADSENSE]) == offer_hash(CATEGORIES, [GA4, ADSENSE])


def test_offer_hash_ignores_service_order() -> None:
    assert offer_hash(CATEGORIES, [GA4, ADSENSE]) == offer_hash(CATEGORIES, [ADSENSE, GA4])


def test_offer_hash_ignores_cookie_order() -> None:
    swapped = ("Google Analytics", "analytics", ("_ga_*", "_ga"))
    assert offer_hash(CATEGORIES, [GA4]) == offer_hash(CATEGORIES, [swapped])


def test_offer_hash_changes_with_a_new_category() -> None:
    assert offer_hash(CATEGORIES, [GA4]) != offer_hash((*CATEGORIES, "social"), [GA4])


def test_offer_hash_changes_with_a_new_service() -> None:
    assert offer_hash(CATEGORIES, [GA4]) != offer_hash(CATEGORIES, [GA4, ADSENSE])


def test_offer_hash_changes_with_a_service_cookie() -> None:
    more = ("Google Analytics", "analytics", ("_ga", "_ga_*", "_gid"))
    assert offer_hash(CATEGORIES, [GA4]) != offer_hash(CATEGORIES, [more])


def test_offer_hash_changes_when_a_service_moves_category() -> None:
    moved = ("Google Analytics", "advertising", ("_ga", "_ga_*"))
    assert offer_hash(CATEGORIES, [GA4]) != offer_hash(CATEGORIES, [moved])
