"""The IAB Global Vendor List (GVL v3): parse, validate and load a local copy.

A copy is a directory with ``vendor-list.json`` (vendors plus the English texts) and
``purposes-{lang}.json`` translations. ``consentgate tcf update-gvl`` writes one; the site
serves its own copy (the IAB asks CMPs not to load the list from its servers on every visit).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import ConfigError

__all__ = [
    "STALE_AFTER",
    "GlobalVendorList",
    "Stack",
    "Text",
    "Translation",
    "Vendor",
    "gvl_language",
    "load_gvl",
    "parse_translation",
    "parse_vendor_list",
    "synthetic_gvl_path",
]

#: The GVL is published weekly; a copy older than this is out of date.
STALE_AFTER = timedelta(days=14)
VENDOR_LIST = "vendor-list.json"
#: Largest file accepted (the real vendor list is a few MB).
MAX_FILE_BYTES = 32 * 1024 * 1024
_SECTIONS = ("purposes", "specialPurposes", "features", "specialFeatures")
# Banner languages whose GVL translation has another name.
_GVL_LANGUAGE = {"nb": "no", "nn": "no", "pt": "pt-pt"}


def gvl_language(language: str) -> str:
    """The GVL's name for a banner language (``nb`` → ``no``, ``pt`` → ``pt-pt``)."""
    return _GVL_LANGUAGE.get(language.lower(), language.lower())


def synthetic_gvl_path() -> Path:
    """The bundled synthetic GVL (made-up vendors; for tests and the demo only)."""
    return Path(str(resources.files("consentgate.tcf").joinpath("synthetic_gvl")))


@dataclass(frozen=True, slots=True)
class Text:
    """A purpose, special purpose, feature or special feature in one language."""

    id: int
    name: str
    description: str
    illustrations: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Stack:
    """A GVL stack: purposes and special features shown together under one name."""

    id: int
    name: str
    description: str
    purposes: frozenset[int]
    special_features: frozenset[int]


@dataclass(frozen=True, slots=True)
class Translation:
    """The GVL texts in one language."""

    language: str
    purposes: Mapping[int, Text]
    special_purposes: Mapping[int, Text]
    features: Mapping[int, Text]
    special_features: Mapping[int, Text]
    stacks: Mapping[int, Stack]
    data_categories: Mapping[int, str]


@dataclass(frozen=True, slots=True)
class Vendor:
    """One GVL vendor, with what the banner's vendor list shows."""

    id: int
    name: str
    purposes: frozenset[int]
    leg_int_purposes: frozenset[int]
    flexible_purposes: frozenset[int]
    special_purposes: frozenset[int]
    features: frozenset[int]
    special_features: frozenset[int]
    privacy_url: str | None
    leg_int_claim_url: str | None
    retention_days: int | None
    cookie_max_age_seconds: int | None
    uses_cookies: bool
    deleted: bool


@dataclass(frozen=True, slots=True)
class GlobalVendorList:
    """A validated GVL: versions, vendors and the translations loaded."""

    vendor_list_version: int
    policy_version: int
    last_updated: datetime
    vendors: Mapping[int, Vendor]
    translations: Mapping[str, Translation]
    #: True for the bundled made-up list (never for the real one).
    synthetic: bool = False
    missing_languages: tuple[str, ...] = field(default=())

    def texts(self, language: str) -> Translation:
        """The texts in ``language`` (a banner language), else English."""
        return self.translations.get(gvl_language(language)) or self.translations["en"]

    def is_stale(self, now: datetime) -> bool:
        """Whether the copy is older than two weeks at ``now``."""
        return now - self.last_updated > STALE_AFTER

    def unknown_vendors(self, vendor_ids: Iterable[int]) -> list[int]:
        """Ids that the list does not hold, or holds as deleted."""
        return [v for v in vendor_ids if v not in self.vendors or self.vendors[v].deleted]


class _Invalid(Exception):
    pass


def _dict(data: Any, where: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise _Invalid(f"{where} is not an object")
    return data


def _int(data: Mapping[str, Any], key: str, where: str, *, low: int = 0, high: int = 65535) -> int:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _Invalid(f"{where}.{key} is not an integer in {low}..{high}")
    return value


def _str(data: Mapping[str, Any], key: str, where: str) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        raise _Invalid(f"{where}.{key} is not a string")
    return value


def _ids(data: Mapping[str, Any], key: str, where: str, high: int = 65535) -> frozenset[int]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(
        isinstance(i, int) and not isinstance(i, bool) and 1 <= i <= high for i in value
    ):
        raise _Invalid(f"{where}.{key} is not a list of ids")
    return frozenset(value)


def _texts(data: Mapping[str, Any], section: str, high: int) -> dict[int, Text]:
    entries = _dict(data.get(section), section)
    texts = {}
    for key, raw in entries.items():
        item = _dict(raw, f"{section}.{key}")
        ident = _int(item, "id", f"{section}.{key}", low=1, high=high)
        illustrations = item.get("illustrations", [])
        texts[ident] = Text(
            id=ident,
            name=_str(item, "name", f"{section}.{key}"),
            description=_str(item, "description", f"{section}.{key}"),
            illustrations=tuple(i for i in illustrations if isinstance(i, str))
            if isinstance(illustrations, list)
            else (),
        )
    return texts


def _translation(data: Mapping[str, Any], language: str) -> Translation:
    stacks = {}
    for key, raw in _dict(data.get("stacks", {}), "stacks").items():
        item = _dict(raw, f"stacks.{key}")
        ident = _int(item, "id", f"stacks.{key}", low=1)
        stacks[ident] = Stack(
            id=ident,
            name=_str(item, "name", f"stacks.{key}"),
            description=_str(item, "description", f"stacks.{key}"),
            purposes=_ids(item, "purposes", f"stacks.{key}", 24),
            special_features=_ids(item, "specialFeatures", f"stacks.{key}", 12),
        )
    categories = {}
    for key, raw in _dict(data.get("dataCategories", {}), "dataCategories").items():
        item = _dict(raw, f"dataCategories.{key}")
        categories[_int(item, "id", f"dataCategories.{key}", low=1)] = _str(
            item, "name", f"dataCategories.{key}"
        )
    return Translation(
        language=language,
        purposes=_texts(data, "purposes", 24),
        special_purposes=_texts(data, "specialPurposes", 24),
        features=_texts(data, "features", 24),
        special_features=_texts(data, "specialFeatures", 12),
        stacks=stacks,
        data_categories=categories,
    )


def _vendor(key: str, raw: Any) -> Vendor:
    where = f"vendors.{key}"
    item = _dict(raw, where)
    urls = item.get("urls") or []
    first = urls[0] if isinstance(urls, list) and urls and isinstance(urls[0], dict) else {}
    english = (
        next((u for u in urls if isinstance(u, dict) and u.get("langId") == "en"), first)
        if isinstance(urls, list)
        else first
    )
    retention = item.get("dataRetention")
    std = retention.get("stdRetention") if isinstance(retention, dict) else None
    max_age = item.get("cookieMaxAgeSeconds")
    privacy = english.get("privacy")
    claim = english.get("legIntClaim")
    return Vendor(
        id=_int(item, "id", where, low=1),
        name=_str(item, "name", where),
        purposes=_ids(item, "purposes", where, 24),
        leg_int_purposes=_ids(item, "legIntPurposes", where, 24),
        flexible_purposes=_ids(item, "flexiblePurposes", where, 24),
        special_purposes=_ids(item, "specialPurposes", where, 24),
        features=_ids(item, "features", where, 24),
        special_features=_ids(item, "specialFeatures", where, 12),
        privacy_url=privacy if isinstance(privacy, str) and _is_http(privacy) else None,
        leg_int_claim_url=claim if isinstance(claim, str) and _is_http(claim) else None,
        retention_days=std if isinstance(std, int) and not isinstance(std, bool) else None,
        cookie_max_age_seconds=max_age
        if isinstance(max_age, int) and not isinstance(max_age, bool)
        else None,
        uses_cookies=item.get("usesCookies") is True,
        deleted=bool(item.get("deletedDate")),
    )


def _is_http(url: str) -> bool:
    return url.startswith(("https://", "http://")) and not any(c in url for c in "\"'<> \r\n")


def _last_updated(data: Mapping[str, Any]) -> datetime:
    text = _str(data, "lastUpdated", "vendor list")
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise _Invalid("vendor list.lastUpdated is not an ISO date") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def parse_vendor_list(data: Any) -> GlobalVendorList:
    """A :class:`GlobalVendorList` from the parsed ``vendor-list.json`` (English texts only).

    Raises ``ValueError`` naming the first field that does not match GVL v3.
    """
    try:
        root = _dict(data, "vendor list")
        if root.get("gvlSpecificationVersion") != 3:
            raise _Invalid("vendor list.gvlSpecificationVersion is not 3 (a GVL v3 is needed)")
        vendors = {}
        for key, raw in _dict(root.get("vendors"), "vendors").items():
            vendor = _vendor(key, raw)
            vendors[vendor.id] = vendor
        return GlobalVendorList(
            vendor_list_version=_int(root, "vendorListVersion", "vendor list", low=1, high=4095),
            policy_version=_int(root, "tcfPolicyVersion", "vendor list", low=1, high=63),
            last_updated=_last_updated(root),
            vendors=vendors,
            translations={"en": _translation(root, "en")},
            synthetic="syntheticNotice" in root,
        )
    except _Invalid as exc:
        raise ValueError(str(exc)) from None


def parse_translation(data: Any, language: str) -> Translation:
    """A :class:`Translation` from a parsed ``purposes-{lang}.json``; ``ValueError`` if invalid."""
    try:
        return _translation(_dict(data, f"purposes-{language}.json"), language)
    except _Invalid as exc:
        raise ValueError(str(exc)) from None


def _read_json(path: Path) -> Any:
    with path.open("rb") as handle:
        raw = handle.read(MAX_FILE_BYTES + 1)
    if len(raw) > MAX_FILE_BYTES:
        raise ValueError(f"{path.name} is larger than {MAX_FILE_BYTES} bytes")
    return json.loads(raw)


def load_gvl(path: Path, languages: Iterable[str]) -> GlobalVendorList:
    """Load the copy in directory ``path`` with the translations for ``languages``.

    A missing or invalid vendor list raises :class:`~consentgate.errors.ConfigError` naming
    ``tcf.gvl_path`` and the fix; a missing translation falls back to English and is listed in
    ``missing_languages``.
    """
    fix = "run `consentgate tcf update-gvl --out DIR` and point tcf.gvl_path at DIR"
    source = path / VENDOR_LIST
    try:
        gvl = parse_vendor_list(_read_json(source))
    except FileNotFoundError:
        raise ConfigError(f"tcf.gvl_path: {str(source)!r} does not exist — {fix}") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"tcf.gvl_path: {str(source)!r} is not a valid GVL v3 ({exc}) — {fix}"
        ) from None
    translations = dict(gvl.translations)
    missing = []
    for language in dict.fromkeys(gvl_language(lang) for lang in languages):
        if language in translations:
            continue
        target = path / f"purposes-{language}.json"
        try:
            translations[language] = parse_translation(_read_json(target), language)
        except FileNotFoundError:
            missing.append(language)
        except (OSError, ValueError) as exc:
            raise ConfigError(
                f"tcf.gvl_path: {str(target)!r} is not a valid GVL translation ({exc}) — {fix}"
            ) from None
    return GlobalVendorList(
        vendor_list_version=gvl.vendor_list_version,
        policy_version=gvl.policy_version,
        last_updated=gvl.last_updated,
        vendors=gvl.vendors,
        translations=translations,
        synthetic=gvl.synthetic,
        missing_languages=tuple(missing),
    )
