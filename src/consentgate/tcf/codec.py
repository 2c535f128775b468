"""Encode and decode IAB TCF v2.3 TC strings (core, disclosed vendors, publisher TC); no I/O.

A TC string is a few base64url segments joined by ``.``: the core segment first, then segments
that each start with a 3-bit type (1 disclosed vendors, 2 allowed vendors, 3 publisher TC).
Bits are written most significant first; each segment is padded with zero bits to a multiple of
24 bits before base64url without ``=`` padding, as the IAB reference library does.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from ..errors import TCStringError

__all__ = [
    "MAX_TC_STRING_LENGTH",
    "PublisherRestriction",
    "PublisherTC",
    "TCModel",
    "decode",
    "encode",
]

#: Strings longer than this are refused before decoding (a full GVL in bitfields is ~12 KB).
MAX_TC_STRING_LENGTH = 32 * 1024

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_SEXTETS = {ch: format(i, "06b") for i, ch in enumerate(_ALPHABET)}
_SEGMENT_RE = re.compile(r"[A-Za-z0-9_-]+")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

_CORE, _DISCLOSED, _ALLOWED, _PUBLISHER = 0, 1, 2, 3
_MAX_VENDOR_ID = 0xFFFF
_MAX_ENTRIES = 0xFFF
#: Ids that the range entries of one string may expand to, all vectors together.
_MAX_EXPANDED_IDS = 4 * (_MAX_VENDOR_ID + 1)
#: Purposes for which legitimate interest is never allowed (TCF policy): 1 and 3 to 6.
LI_FORBIDDEN_PURPOSES = frozenset({1, 3, 4, 5, 6})


@dataclass(frozen=True, slots=True)
class PublisherRestriction:
    """A publisher restriction: for ``purpose_id``, ``restriction_type`` applies to ``vendors``.

    ``restriction_type``: 0 purpose flatly not allowed, 1 require consent, 2 require legitimate
    interest.
    """

    purpose_id: int
    restriction_type: int
    vendors: frozenset[int]


@dataclass(frozen=True, slots=True)
class PublisherTC:
    """The publisher TC segment: the publisher's own purposes and its custom purposes."""

    purpose_consents: frozenset[int] = frozenset()
    purpose_li_transparency: frozenset[int] = frozenset()
    num_custom_purposes: int = 0
    custom_purpose_consents: frozenset[int] = frozenset()
    custom_purpose_li_transparency: frozenset[int] = frozenset()


@dataclass(frozen=True, slots=True)
class TCModel:
    """Every field a TCF v2 TC string carries, as plain Python values.

    Id sets are 1-based (purpose 1 is "Store and/or access information on a device").
    ``disclosed_vendors`` is ``None`` only when a decoded string had no such segment; the
    encoder always writes the segment (mandatory since TCF v2.3).
    """

    cmp_id: int
    cmp_version: int
    vendor_list_version: int
    policy_version: int
    created: datetime
    last_updated: datetime
    consent_screen: int = 1
    consent_language: str = "EN"
    version: int = 2
    is_service_specific: bool = True
    use_non_standard_texts: bool = False
    special_feature_opt_ins: frozenset[int] = frozenset()
    purpose_consents: frozenset[int] = frozenset()
    purpose_li_transparency: frozenset[int] = frozenset()
    purpose_one_treatment: bool = False
    publisher_country: str = "AA"
    vendor_consents: frozenset[int] = frozenset()
    vendor_li: frozenset[int] = frozenset()
    publisher_restrictions: tuple[PublisherRestriction, ...] = ()
    disclosed_vendors: frozenset[int] | None = field(default_factory=frozenset)
    allowed_vendors: frozenset[int] | None = None
    publisher: PublisherTC | None = None


# ---------------------------------------------------------------- writing


class _BitWriter:
    """Collects fields as strings of ``0``/``1``."""

    __slots__ = ("parts",)

    def __init__(self) -> None:
        self.parts: list[str] = []

    def uint(self, value: int, width: int, name: str) -> None:
        if not 0 <= value < (1 << width):
            raise TCStringError(f"{name} = {value!r} does not fit in {width} bits")
        self.parts.append(format(value, f"0{width}b"))

    def flag(self, value: bool) -> None:
        self.parts.append("1" if value else "0")

    def fixed(self, ids: frozenset[int], width: int, name: str) -> None:
        bits = ["0"] * width
        for i in ids:
            if not 1 <= i <= width:
                raise TCStringError(f"{name}: id {i!r} is outside 1..{width}")
            bits[i - 1] = "1"
        self.parts.append("".join(bits))

    def letters(self, code: str, name: str) -> None:
        upper = code.upper()
        if len(upper) != 2 or not all("A" <= c <= "Z" for c in upper):
            raise TCStringError(f"{name} = {code!r} is not two letters A-Z")
        self.uint(ord(upper[0]) - 65, 6, name)
        self.uint(ord(upper[1]) - 65, 6, name)

    def date(self, when: datetime, name: str) -> None:
        if when.tzinfo is None:
            raise TCStringError(f"{name} must be timezone-aware")
        delta = when - _EPOCH
        micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
        self.uint((micros + 50_000) // 100_000, 36, name)

    def vendors(self, ids: frozenset[int], name: str) -> None:
        """MaxVendorId, then the bitfield or the range encoding, whichever is shorter."""
        for i in ids:
            if not 1 <= i <= _MAX_VENDOR_ID:
                raise TCStringError(f"{name}: vendor id {i!r} is outside 1..{_MAX_VENDOR_ID}")
        max_id = max(ids, default=0)
        self.uint(max_id, 16, name)
        runs = _runs(ids)
        range_bits = 12 + sum(17 if lo == hi else 33 for lo, hi in runs)
        if range_bits < max_id and len(runs) <= _MAX_ENTRIES:
            self.flag(True)
            self._ranges(runs)
        else:
            self.flag(False)
            self.fixed(ids, max_id, name)

    def _ranges(self, runs: list[tuple[int, int]]) -> None:
        self.uint(len(runs), 12, "NumEntries")
        for lo, hi in runs:
            self.flag(lo != hi)
            self.uint(lo, 16, "vendor id")
            if lo != hi:
                self.uint(hi, 16, "vendor id")

    def restrictions(self, restrictions: tuple[PublisherRestriction, ...]) -> None:
        self.uint(len(restrictions), 12, "NumPubRestrictions")
        for r in restrictions:
            self.uint(r.purpose_id, 6, "PurposeId")
            self.uint(r.restriction_type, 2, "RestrictionType")
            if r.restriction_type == 3:
                raise TCStringError("RestrictionType 3 is undefined")
            for v in r.vendors:
                if not 1 <= v <= _MAX_VENDOR_ID:
                    raise TCStringError(f"restriction vendor id {v!r} is out of range")
            runs = _runs(r.vendors)
            if len(runs) > _MAX_ENTRIES:
                raise TCStringError("too many publisher restriction entries")
            self._ranges(runs)

    def segment(self) -> str:
        bits = "".join(self.parts)
        bits += "0" * (-len(bits) % 24)
        return "".join(_ALPHABET[int(bits[i : i + 6], 2)] for i in range(0, len(bits), 6))


def _runs(ids: Iterable[int]) -> list[tuple[int, int]]:
    """Consecutive runs of the sorted ids, as (first, last) pairs."""
    runs: list[tuple[int, int]] = []
    for i in sorted(ids):
        if runs and runs[-1][1] == i - 1:
            runs[-1] = (runs[-1][0], i)
        else:
            runs.append((i, i))
    return runs


def encode(model: TCModel) -> str:
    """The TC string for ``model``: core, disclosed vendors and (if set) publisher TC segments.

    Raises :class:`~consentgate.errors.TCStringError` when a value does not fit its field.
    """
    if model.version != 2:
        raise TCStringError(f"Version = {model.version!r}: only TCF v2 strings are written")
    if model.cmp_id < 2:
        raise TCStringError(f"CmpId = {model.cmp_id!r}: ids 0 and 1 are invalid")
    w = _BitWriter()
    w.uint(model.version, 6, "Version")
    w.date(model.created, "Created")
    w.date(model.last_updated, "LastUpdated")
    w.uint(model.cmp_id, 12, "CmpId")
    w.uint(model.cmp_version, 12, "CmpVersion")
    w.uint(model.consent_screen, 6, "ConsentScreen")
    w.letters(model.consent_language, "ConsentLanguage")
    w.uint(model.vendor_list_version, 12, "VendorListVersion")
    w.uint(model.policy_version, 6, "TcfPolicyVersion")
    w.flag(model.is_service_specific)
    w.flag(model.use_non_standard_texts)
    w.fixed(model.special_feature_opt_ins, 12, "SpecialFeatureOptIns")
    w.fixed(model.purpose_consents, 24, "PurposesConsent")
    w.fixed(model.purpose_li_transparency, 24, "PurposesLITransparency")
    w.flag(model.purpose_one_treatment)
    w.letters(model.publisher_country, "PublisherCC")
    w.vendors(model.vendor_consents, "VendorConsents")
    w.vendors(model.vendor_li, "VendorLegitimateInterests")
    w.restrictions(model.publisher_restrictions)
    segments = [w.segment()]
    for seg_type, vendor_ids in (
        (_DISCLOSED, model.disclosed_vendors or frozenset()),
        (_ALLOWED, model.allowed_vendors),
    ):
        if vendor_ids is None:
            continue
        w = _BitWriter()
        w.uint(seg_type, 3, "SegmentType")
        w.vendors(vendor_ids, "DisclosedVendors" if seg_type == _DISCLOSED else "AllowedVendors")
        segments.append(w.segment())
    if model.publisher is not None:
        segments.append(_encode_publisher(model.publisher))
    return ".".join(segments)


def _encode_publisher(pub: PublisherTC) -> str:
    w = _BitWriter()
    w.uint(_PUBLISHER, 3, "SegmentType")
    w.fixed(pub.purpose_consents, 24, "PubPurposesConsent")
    w.fixed(pub.purpose_li_transparency, 24, "PubPurposesLITransparency")
    w.uint(pub.num_custom_purposes, 6, "NumCustomPurposes")
    w.fixed(pub.custom_purpose_consents, pub.num_custom_purposes, "CustomPurposesConsent")
    w.fixed(
        pub.custom_purpose_li_transparency,
        pub.num_custom_purposes,
        "CustomPurposesLITransparency",
    )
    return w.segment()


# ---------------------------------------------------------------- reading


class _BitReader:
    """Reads fields from one segment's bits."""

    __slots__ = ("bits", "budget", "pos")

    def __init__(self, segment: str, budget: int = _MAX_EXPANDED_IDS) -> None:
        self.bits = "".join(_SEXTETS[ch] for ch in segment)
        self.pos = 0
        self.budget = budget

    def take(self, width: int, name: str) -> str:
        end = self.pos + width
        if end > len(self.bits):
            raise TCStringError(f"TC string ends inside {name}")
        chunk = self.bits[self.pos : end]
        self.pos = end
        return chunk

    def uint(self, width: int, name: str) -> int:
        return int(self.take(width, name), 2) if width else 0

    def flag(self, name: str) -> bool:
        return self.take(1, name) == "1"

    def fixed(self, width: int, name: str) -> frozenset[int]:
        chunk = self.take(width, name)
        return frozenset(i + 1 for i, bit in enumerate(chunk) if bit == "1")

    def letters(self, name: str) -> str:
        first, second = self.uint(6, name), self.uint(6, name)
        if first > 25 or second > 25:
            raise TCStringError(f"{name} is not two letters A-Z")
        return chr(65 + first) + chr(65 + second)

    def date(self, name: str) -> datetime:
        return _EPOCH + timedelta(milliseconds=100 * self.uint(36, name))

    def ranges(self, max_id: int, name: str) -> frozenset[int]:
        ids: set[int] = set()
        for _ in range(self.uint(12, name)):
            is_range = self.flag(name)
            lo = self.uint(16, name)
            hi = self.uint(16, name) if is_range else lo
            if not 1 <= lo <= hi <= max_id:
                raise TCStringError(f"{name}: range {lo}-{hi} is outside 1..{max_id}")
            # A budget for the whole string: a few hundred bytes of ranges cannot cost seconds.
            self.budget -= hi - lo + 1
            if self.budget < 0:
                raise TCStringError("TC string expands to too many vendor ids")
            ids.update(range(lo, hi + 1))
        return frozenset(ids)

    def vendors(self, name: str) -> frozenset[int]:
        max_id = self.uint(16, name)
        if self.flag(name):
            return self.ranges(max_id, name)
        return self.fixed(max_id, name)

    def restrictions(self) -> tuple[PublisherRestriction, ...]:
        found: list[PublisherRestriction] = []
        for _ in range(self.uint(12, "NumPubRestrictions")):
            purpose_id = self.uint(6, "PurposeId")
            restriction_type = self.uint(2, "RestrictionType")
            vendors = self.ranges(_MAX_VENDOR_ID, "PubRestrictionEntry")
            found.append(PublisherRestriction(purpose_id, restriction_type, vendors))
        return tuple(found)


def decode(tc_string: str) -> TCModel:
    """The :class:`TCModel` that ``tc_string`` carries.

    Raises :class:`~consentgate.errors.TCStringError` for anything that is not a well-formed
    TCF v2 string (bad characters, truncated fields, unknown or repeated segments).
    """
    if not isinstance(tc_string, str) or not tc_string:
        raise TCStringError("TC string is empty")
    if len(tc_string) > MAX_TC_STRING_LENGTH:
        raise TCStringError(f"TC string is longer than {MAX_TC_STRING_LENGTH} characters")
    parts = tc_string.split(".")
    for part in parts:
        if not _SEGMENT_RE.fullmatch(part):
            raise TCStringError("TC string has a segment that is not base64url")
    core = _BitReader(parts[0])
    version = core.uint(6, "Version")
    if version != 2:
        raise TCStringError(f"Version = {version}: only TCF v2 strings are read")
    # Keyword arguments are evaluated left to right: the field order of the core segment.
    model = TCModel(
        version=version,
        created=core.date("Created"),
        last_updated=core.date("LastUpdated"),
        cmp_id=core.uint(12, "CmpId"),
        cmp_version=core.uint(12, "CmpVersion"),
        consent_screen=core.uint(6, "ConsentScreen"),
        consent_language=core.letters("ConsentLanguage"),
        vendor_list_version=core.uint(12, "VendorListVersion"),
        policy_version=core.uint(6, "TcfPolicyVersion"),
        is_service_specific=core.flag("IsServiceSpecific"),
        use_non_standard_texts=core.flag("UseNonStandardTexts"),
        special_feature_opt_ins=core.fixed(12, "SpecialFeatureOptIns"),
        purpose_consents=core.fixed(24, "PurposesConsent"),
        purpose_li_transparency=core.fixed(24, "PurposesLITransparency"),
        purpose_one_treatment=core.flag("PurposeOneTreatment"),
        publisher_country=core.letters("PublisherCC"),
        vendor_consents=core.vendors("VendorConsents"),
        vendor_li=core.vendors("VendorLegitimateInterests"),
        publisher_restrictions=core.restrictions(),
        disclosed_vendors=None,
    )
    seen: set[int] = set()
    budget = core.budget
    for part in parts[1:]:
        reader = _BitReader(part, budget)
        seg_type = reader.uint(3, "SegmentType")
        if seg_type in seen:
            raise TCStringError(f"segment type {seg_type} appears twice")
        seen.add(seg_type)
        if seg_type == _DISCLOSED:
            model = replace(model, disclosed_vendors=reader.vendors("DisclosedVendors"))
        elif seg_type == _ALLOWED:
            model = replace(model, allowed_vendors=reader.vendors("AllowedVendors"))
        elif seg_type == _PUBLISHER:
            model = replace(model, publisher=_decode_publisher(reader))
        else:
            raise TCStringError(f"unknown segment type {seg_type}")
        budget = reader.budget
    return model


def _decode_publisher(reader: _BitReader) -> PublisherTC:
    consents = reader.fixed(24, "PubPurposesConsent")
    li = reader.fixed(24, "PubPurposesLITransparency")
    num_custom = reader.uint(6, "NumCustomPurposes")
    return PublisherTC(
        purpose_consents=consents,
        purpose_li_transparency=li,
        num_custom_purposes=num_custom,
        custom_purpose_consents=reader.fixed(num_custom, "CustomPurposesConsent"),
        custom_purpose_li_transparency=reader.fixed(num_custom, "CustomPurposesLITransparency"),
    )
