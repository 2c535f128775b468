"""The TC string codec: field layout, bitfield/range choice, round-trips and hostile input."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consentgate.errors import ConsentGateError, TCStringError
from consentgate.tcf import PublisherRestriction, PublisherTC, TCModel, decode, encode
from consentgate.tcf.codec import MAX_TC_STRING_LENGTH

DAY = datetime(2026, 2, 1, tzinfo=UTC)
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def model(**changes: object) -> TCModel:
    base = TCModel(
        cmp_id=300,
        cmp_version=2,
        vendor_list_version=150,
        policy_version=5,
        created=DAY,
        last_updated=DAY,
        publisher_country="DE",
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def bits_of(segment: str) -> str:
    return "".join(format(ALPHABET.index(ch), "06b") for ch in segment)


def test_core_fields_sit_at_their_bit_offsets() -> None:
    tc = encode(model(consent_language="FR", purpose_consents=frozenset({1, 24})))
    bits = bits_of(tc.split(".")[0])
    assert int(bits[0:6], 2) == 2
    assert int(bits[6:42], 2) == int(DAY.timestamp() * 10)
    assert int(bits[42:78], 2) == int(DAY.timestamp() * 10)
    assert int(bits[78:90], 2) == 300
    assert int(bits[90:102], 2) == 2
    assert int(bits[102:108], 2) == 1
    assert (int(bits[108:114], 2), int(bits[114:120], 2)) == (ord("F") - 65, ord("R") - 65)
    assert int(bits[120:132], 2) == 150
    assert int(bits[132:138], 2) == 5
    assert bits[138] == "1"  # IsServiceSpecific
    assert bits[152:176] == "1" + "0" * 22 + "1"
    assert (int(bits[201:207], 2), int(bits[207:213], 2)) == (ord("D") - 65, ord("E") - 65)


def test_segments_are_padded_to_24_bits_without_base64_padding() -> None:
    for segment in encode(model()).split("."):
        assert len(segment) % 4 == 0
        assert "=" not in segment


def test_disclosed_vendors_segment_is_always_written() -> None:
    parts = encode(model(disclosed_vendors=frozenset())).split(".")
    assert len(parts) == 2
    assert bits_of(parts[1])[:3] == "001"
    assert decode(".".join(parts)).disclosed_vendors == frozenset()


def test_publisher_segment_is_written_when_set() -> None:
    pub = PublisherTC(
        purpose_consents=frozenset({1, 2}),
        purpose_li_transparency=frozenset({2}),
        num_custom_purposes=3,
        custom_purpose_consents=frozenset({1, 3}),
        custom_purpose_li_transparency=frozenset({2}),
    )
    tc = encode(model(publisher=pub))
    assert bits_of(tc.split(".")[2])[:3] == "011"
    assert decode(tc).publisher == pub


def test_dense_vendors_use_a_bitfield() -> None:
    tc = encode(model(vendor_consents=frozenset(range(1, 40, 2))))
    bits = bits_of(tc.split(".")[0])
    assert int(bits[213:229], 2) == 39  # MaxVendorId
    assert bits[229] == "0"  # bitfield


def test_sparse_vendors_use_ranges() -> None:
    tc = encode(model(vendor_consents=frozenset({755})))
    bits = bits_of(tc.split(".")[0])
    assert int(bits[213:229], 2) == 755
    assert bits[229] == "1"  # range encoding
    assert int(bits[230:242], 2) == 1  # one entry
    assert bits[242] == "0"  # a single id
    assert int(bits[243:259], 2) == 755


def test_a_long_run_becomes_one_range_entry() -> None:
    tc = encode(model(vendor_consents=frozenset(range(10, 1001))))
    bits = bits_of(tc.split(".")[0])
    assert bits[229] == "1"
    assert int(bits[230:242], 2) == 1
    assert bits[242] == "1"
    assert (int(bits[243:259], 2), int(bits[259:275], 2)) == (10, 1000)
    assert decode(tc).vendor_consents == frozenset(range(10, 1001))


def test_created_is_kept_to_the_decisecond() -> None:
    when = DAY + timedelta(seconds=3, microseconds=149_999)
    assert decode(encode(model(created=when))).created == DAY + timedelta(seconds=3.1)


def test_publisher_restrictions_round_trip() -> None:
    restrictions = (
        PublisherRestriction(2, 1, frozenset({1, 2, 3, 755})),
        PublisherRestriction(7, 0, frozenset({8})),
    )
    assert decode(encode(model(publisher_restrictions=restrictions))).publisher_restrictions == (
        restrictions
    )


@pytest.mark.parametrize(
    ("changes", "field_name"),
    [
        ({"cmp_id": 1}, "CmpId"),
        ({"cmp_id": 4096}, "CmpId"),
        ({"cmp_version": -1}, "CmpVersion"),
        ({"publisher_country": "D1"}, "PublisherCC"),
        ({"consent_language": "english"}, "ConsentLanguage"),
        ({"purpose_consents": frozenset({25})}, "PurposesConsent"),
        ({"special_feature_opt_ins": frozenset({0})}, "SpecialFeatureOptIns"),
        ({"vendor_consents": frozenset({70000})}, "VendorConsents"),
        ({"created": datetime(2026, 1, 1)}, "Created"),
        ({"version": 1}, "Version"),
    ],
)
def test_values_that_do_not_fit_are_refused_naming_the_field(
    changes: dict[str, object], field_name: str
) -> None:
    with pytest.raises(TCStringError, match=field_name):
        encode(model(**changes))


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "not a tc string",
        "CQe8esA",  # ends inside the core segment
        "BOEFEAyOEFEAyAHABDENAI4AAAB9vABAASA",  # a TCF v1 string
        "=" * 8,
        "A" * (MAX_TC_STRING_LENGTH + 1),
    ],
)
def test_malformed_strings_raise_one_error_type(bad: str) -> None:
    with pytest.raises(TCStringError):
        decode(bad)


def test_errors_belong_to_the_library_hierarchy() -> None:
    assert issubclass(TCStringError, ConsentGateError)
    assert issubclass(TCStringError, ValueError)


def test_unknown_and_repeated_segments_are_refused() -> None:
    tc = encode(model())
    core, disclosed = tc.split(".")
    with pytest.raises(TCStringError, match="twice"):
        decode(f"{core}.{disclosed}.{disclosed}")
    with pytest.raises(TCStringError, match="unknown segment"):
        decode(f"{core}.{ALPHABET[0b100000]}AAA")


def test_range_beyond_max_vendor_id_is_refused() -> None:
    bits = bits_of(encode(model(vendor_consents=frozenset({755}))).split(".")[0])
    # Lower MaxVendorId to 700 while the range entry still names 755.
    tampered = bits[:213] + format(700, "016b") + bits[229:]
    chars = "".join(ALPHABET[int(tampered[i : i + 6], 2)] for i in range(0, len(tampered), 6))
    with pytest.raises(TCStringError, match="outside"):
        decode(chars)


def test_a_string_of_huge_ranges_is_refused_quickly() -> None:
    # 100 publisher restrictions, each one range entry covering every vendor id.
    entry = format(1, "06b") + "01" + format(1, "012b") + "1" + format(1, "016b") + "1" * 16
    before_restrictions = bits_of(encode(model()).split(".")[0])[: 213 + 2 * 17]
    bits = before_restrictions + format(100, "012b") + entry * 100
    bits += "0" * (-len(bits) % 6)
    tc = "".join(ALPHABET[int(bits[i : i + 6], 2)] for i in range(0, len(bits), 6))
    with pytest.raises(TCStringError, match="too many"):
        decode(tc)


ids = st.integers(min_value=1, max_value=24)
sparse_vendors = st.frozensets(st.integers(min_value=1, max_value=65535), max_size=20)
# Dense sets from a seeded generator: hypothesis drawing 1,000 ids one by one is slow.
dense_vendors = st.builds(
    lambda top, share, rnd: frozenset(i for i in range(1, top + 1) if rnd.random() < share),
    st.integers(min_value=1, max_value=1500),
    st.floats(min_value=0.3, max_value=1.0),
    st.randoms(use_true_random=False),
)
vendors = st.one_of(sparse_vendors, dense_vendors)
letters = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=2, max_size=2)
deciseconds = st.integers(min_value=0, max_value=(1 << 36) - 1).map(
    lambda d: datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=100 * d)
)
publishers = st.none() | st.builds(
    lambda n, a, b, c, d: PublisherTC(
        purpose_consents=a,
        purpose_li_transparency=b,
        num_custom_purposes=n,
        custom_purpose_consents=frozenset(i for i in c if i <= n),
        custom_purpose_li_transparency=frozenset(i for i in d if i <= n),
    ),
    st.integers(min_value=0, max_value=63),
    st.frozensets(ids),
    st.frozensets(ids),
    st.frozensets(st.integers(min_value=1, max_value=63)),
    st.frozensets(st.integers(min_value=1, max_value=63)),
)
restrictions = st.lists(
    st.builds(
        PublisherRestriction,
        st.integers(min_value=1, max_value=24),
        st.integers(min_value=0, max_value=2),
        st.frozensets(st.integers(min_value=1, max_value=3000), min_size=1, max_size=30),
    ),
    max_size=4,
).map(tuple)


@settings(max_examples=100, deadline=None)
@given(
    cmp_id=st.integers(min_value=2, max_value=4095),
    cmp_version=st.integers(min_value=0, max_value=4095),
    vendor_list_version=st.integers(min_value=0, max_value=4095),
    policy_version=st.integers(min_value=0, max_value=63),
    created=deciseconds,
    last_updated=deciseconds,
    consent_screen=st.integers(min_value=0, max_value=63),
    consent_language=letters,
    publisher_country=letters,
    use_non_standard_texts=st.booleans(),
    purpose_one_treatment=st.booleans(),
    special_feature_opt_ins=st.frozensets(st.integers(min_value=1, max_value=12)),
    purpose_consents=st.frozensets(ids),
    purpose_li_transparency=st.frozensets(ids),
    vendor_consents=vendors,
    vendor_li=vendors,
    disclosed_vendors=vendors,
    publisher_restrictions=restrictions,
    publisher=publishers,
)
def test_round_trip(**fields: object) -> None:
    original = TCModel(**fields)  # type: ignore[arg-type]
    assert decode(encode(original)) == original


@settings(max_examples=100, deadline=None)
@given(vendor_ids=vendors)
def test_vendor_encoding_is_never_longer_than_the_alternative(vendor_ids: frozenset[int]) -> None:
    tc = encode(model(vendor_consents=vendor_ids)).split(".")[0]
    bits = bits_of(tc)
    max_id = max(vendor_ids, default=0)
    assert int(bits[213:229], 2) == max_id
    runs = singles = 0
    for i in sorted(vendor_ids):
        if i - 1 not in vendor_ids:
            runs += 1
            singles += i + 1 not in vendor_ids
    range_len = 12 + singles * 17 + (runs - singles) * 33
    assert bits[229] == ("1" if range_len < max_id else "0")
    assert decode(encode(model(vendor_consents=vendor_ids))).vendor_consents == vendor_ids
