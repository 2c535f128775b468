"""Settings: :class:`ConsentSettings`, read from keyword arguments, ``CONSENTGATE_*`` and TOML.

Every problem is reported as one :class:`~consentgate.errors.ConfigError` that names the
setting, the bad value (secrets masked) and the fix; pydantic and tomllib errors never escape.
"""

from __future__ import annotations

import contextvars
import ipaddress
import json
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Self
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)
from pydantic_settings.exceptions import SettingsError

from .errors import ConfigError
from .paths import default_ledger_url

__all__ = [
    "DEFAULT_LANGUAGES",
    "DEFAULT_REGULATED_COUNTRIES",
    "AdsSettings",
    "AnalyticsSettings",
    "BannerSettings",
    "Category",
    "ConsentSettings",
    "Service",
    "TcfSettings",
]

EU_MEMBERS = [
    "AT",
    "BE",
    "BG",
    "CY",
    "CZ",
    "DE",
    "DK",
    "EE",
    "ES",
    "FI",
    "FR",
    "GR",
    "HR",
    "HU",
    "IE",
    "IT",
    "LT",
    "LU",
    "LV",
    "MT",
    "NL",
    "PL",
    "PT",
    "RO",
    "SE",
    "SI",
    "SK",
]
# Outermost regions and Åland carry their own ISO codes but are EU territory.
EU_TERRITORIES = {"FR": ("GF", "GP", "MQ", "RE", "YT", "MF"), "FI": ("AX",)}
DEFAULT_REGULATED_COUNTRIES: tuple[str, ...] = (
    *EU_MEMBERS,
    *EU_TERRITORIES["FR"],
    *EU_TERRITORIES["FI"],
    "EU",  # RIR code some registries use for EU-wide blocks
    "IS",
    "LI",
    "NO",  # EEA
    "GB",
    "GI",  # UK GDPR
    "CH",  # revFADP
)
DEFAULT_LANGUAGES: tuple[str, ...] = tuple(
    [
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
    ]
)

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_CODE = re.compile(r"^[a-z0-9]{1,8}$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_COOKIE_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_LANG = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})*$")
_GA4_ID = re.compile(r"^G-[A-Z0-9]{4,16}$")
_ADSENSE_ID = re.compile(r"^ca-pub-[0-9]{10,20}$")
_HOST = re.compile(
    r"^(?=.{1,253}$)[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$"
)
_MIN_KEY_LENGTH = 32
_MAX_TCF_VENDORS = 300
_SECRET_FIELDS = frozenset({"secret_keys"})

_toml_path: contextvars.ContextVar[Path | None] = contextvars.ContextVar(
    "consentgate_toml_path", default=None
)


def _split_list(value: Any) -> Any:
    """Accept a list, a JSON array, comma-separated values or one bare value (env friendly)."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text.startswith("["):
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not a valid JSON list ({exc.msg})") from None
    return [part.strip() for part in text.split(",") if part.strip()]


StrList = Annotated[list[str], NoDecode]


def _country_or_none(value: str | None) -> str | None:
    """An optional two-letter country code, upper-cased; empty means ``None``."""
    if value is None or value == "":
        return None
    if not _COUNTRY.match(value.upper()):
        raise ValueError("must be a two-letter ISO country code such as 'DE'")
    return value.upper()


def _cookie_name(value: str) -> str:
    if not _COOKIE_NAME.match(value):
        raise ValueError("must be a cookie name (letters, digits, '-', '_', '.')")
    return value


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Category(_Model):
    """A consent category, e.g. ``analytics``; ``required`` ones cannot be refused."""

    name: str
    required: bool = False
    #: Short code used in the consent cookie instead of the name (keeps the cookie small).
    code: str | None = None
    #: Title and description shown in the banner; default: the banner texts for known names.
    title: str | None = None
    description: str | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("must be lowercase letters, digits and '_', starting with a letter")
        return value

    @field_validator("code")
    @classmethod
    def _code(cls, value: str | None) -> str | None:
        if value is not None and not _CODE.match(value):
            raise ValueError("must be 1-8 lowercase letters or digits")
        return value

    @property
    def cookie_code(self) -> str:
        """What the consent cookie stores for this category."""
        return self.code or self.name


DEFAULT_CATEGORIES: tuple[Category, ...] = (
    Category(name="necessary", required=True, code="n"),
    Category(name="functional", code="f"),
    Category(name="analytics", code="a"),
    Category(name="advertising", code="d"),
)


class Service(_Model):
    """A third-party or first-party service gated by one category."""

    name: str
    category: str
    description: str = ""
    #: The company behind the service, named in the banner as a third party.
    vendor: str | None = None
    privacy_url: str | None = None
    #: Cookie names or globs (``_ga*``) the service sets; expired on refusal.
    cookies: StrList = Field(default_factory=list)
    cookie_path: str = "/"
    #: HTML snippets loaded only when the category is granted (inert before).
    scripts: StrList = Field(default_factory=list)
    #: Script hosts whose hard-coded ``<script src>`` is made inert until consent.
    hosts: StrList = Field(default_factory=list)

    @field_validator("cookies", "scripts", "hosts", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        return _split_list(value)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value.strip()

    @field_validator("hosts")
    @classmethod
    def _hosts(cls, value: list[str]) -> list[str]:
        hosts = [host.strip().lower().lstrip(".") for host in value]
        for host in hosts:
            if not _HOST.match(host):
                raise ValueError(f"{host!r} is not a host name (write 'cdn.example.com')")
        return hosts

    @field_validator("cookie_path")
    @classmethod
    def _cookie_path(cls, value: str) -> str:
        if not value.startswith("/") or any(c in value for c in ";,\r\n "):
            raise ValueError("must be a cookie path starting with '/'")
        return value


class AdsSettings(_Model):
    """Which ad network is used and what ads each consent state gets."""

    provider: Literal["none", "adsense", "gpt"] = "none"
    client: str | None = None
    before_choice: Literal["none", "limited"] = "none"
    without_consent: Literal["non_personalized", "limited", "none"] = "non_personalized"

    @field_validator("client")
    @classmethod
    def _client(cls, value: str | None) -> str | None:
        if value is not None and not _ADSENSE_ID.match(value):
            raise ValueError("must be an AdSense publisher id such as 'ca-pub-1234567890123456'")
        return value


class AnalyticsSettings(_Model):
    """Which analytics tool is used (GA4 stores no IP addresses; no anonymize_ip is sent)."""

    provider: Literal["none", "ga4"] = "none"
    measurement_id: str | None = None
    #: Let GA4 use Google signals / ad personalization when advertising is granted.
    allow_google_signals: bool = True

    @field_validator("measurement_id")
    @classmethod
    def _measurement_id(cls, value: str | None) -> str | None:
        if value is not None and not _GA4_ID.match(value):
            raise ValueError("must be a GA4 measurement id such as 'G-ABC123XYZ9'")
        return value


class TcfSettings(_Model):
    """IAB TCF v2.3 mode: a TC string for regulated visitors, under the publisher's own CMP id."""

    enabled: bool = False
    #: The CMP id IAB Europe registered for this site's consent tool (0 and 1 are invalid).
    cmp_id: int | None = None
    cmp_version: int = Field(default=1, ge=0, le=4095)
    #: GVL vendor ids the site works with, e.g. ``[755]`` (Google Advertising Products).
    vendors: Annotated[list[int], NoDecode] = Field(default_factory=list)
    #: Directory with ``vendor-list.json`` and ``purposes-{lang}.json`` (``consentgate tcf
    #: update-gvl`` writes it).
    gvl_path: Path | None = None
    #: Country of the publisher's legal jurisdiction (ISO code), written into the TC string.
    publisher_country: str | None = None
    #: Google ad technology provider ids for the Additional Consent string (outside the GVL).
    google_atps: Annotated[list[int], NoDecode] = Field(default_factory=list)
    cookie_name: str = "euconsent-v2"

    @field_validator("vendors", "google_atps", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        return _split_list(value)

    @field_validator("cmp_id")
    @classmethod
    def _cmp_id(cls, value: int | None) -> int | None:
        if value is not None and not 2 <= value <= 4095:
            raise ValueError(
                "must be the CMP id IAB Europe registered for you, 2 to 4095 (0 and 1 are invalid)"
            )
        return value

    @field_validator("vendors")
    @classmethod
    def _vendor_ids(cls, value: list[int]) -> list[int]:
        for vendor in value:
            if not 1 <= vendor <= 65535:
                raise ValueError(f"{vendor} is not a GVL vendor id (1 to 65535; Google is 755)")
        if len(set(value)) > _MAX_TCF_VENDORS:
            raise ValueError(
                f"at most {_MAX_TCF_VENDORS} vendors: the signed consent cookie holds a choice "
                "per vendor and browsers keep 4 KB per cookie; list only the vendors you use"
            )
        return sorted(set(value))

    @field_validator("google_atps")
    @classmethod
    def _atp_ids(cls, value: list[int]) -> list[int]:
        for atp in value:
            if atp < 1:
                raise ValueError(f"{atp} is not a Google ATP id (positive integers)")
        return sorted(set(value))

    @field_validator("publisher_country")
    @classmethod
    def _publisher_country(cls, value: str | None) -> str | None:
        return _country_or_none(value)

    @field_validator("cookie_name")
    @classmethod
    def _tcf_cookie_name(cls, value: str) -> str:
        return _cookie_name(value)

    def problems(self) -> list[str]:
        """What is missing for TCF mode to start (empty when disabled or complete)."""
        if not self.enabled:
            return []
        found = []
        if self.cmp_id is None:
            found.append(
                "tcf.cmp_id: required when tcf.enabled is true — register your consent tool "
                "with IAB Europe and set the CMP id it gives you"
            )
        if self.gvl_path is None:
            found.append(
                "tcf.gvl_path: required when tcf.enabled is true — run "
                "`consentgate tcf update-gvl --out DIR` and set this to DIR"
            )
        if self.publisher_country is None:
            found.append(
                "tcf.publisher_country: required when tcf.enabled is true — the ISO code of "
                "the country whose law governs the site, e.g. 'DE'"
            )
        if not self.vendors:
            found.append(
                "tcf.vendors: required when tcf.enabled is true — list the GVL vendor ids the "
                "site works with, e.g. [755] for Google"
            )
        return found


class BannerSettings(_Model):
    """Banner languages, policy link and text overrides."""

    languages: StrList = Field(default_factory=lambda: list(DEFAULT_LANGUAGES))
    default_language: str = "en"
    privacy_policy_url: str = "/privacy"
    #: ``True``: a modal banner, the page behind it inert until a choice. ``False``: a
    #: non-blocking banner; focus still moves to it, the page stays usable behind it.
    block_page: bool = True
    #: Per-language text overrides, ``{"en": {"title": "..."}}``; ``"*"`` applies to all.
    texts: dict[str, dict[str, str]] = Field(default_factory=dict)

    @field_validator("languages", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        return _split_list(value)

    @field_validator("languages")
    @classmethod
    def _languages(cls, value: list[str]) -> list[str]:
        langs = [lang.strip().lower() for lang in value]
        for lang in langs:
            if not _LANG.match(lang):
                raise ValueError(f"{lang!r} is not a language tag such as 'de' or 'pt-br'")
        if not langs:
            raise ValueError("must name at least one language")
        return list(dict.fromkeys(langs))

    @field_validator("privacy_policy_url")
    @classmethod
    def _policy_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("", "http", "https") or any(c in value for c in '"<>\r\n'):
            raise ValueError("must be a path such as '/privacy' or an http(s) URL")
        return value

    @model_validator(mode="after")
    def _default_in_languages(self) -> Self:
        if self.default_language not in self.languages:
            raise ValueError(
                f"banner.default_language {self.default_language!r} must be one of banner.languages"
            )
        return self


class ConsentSettings(BaseSettings):
    """Every consentgate setting (see the README's settings table).

    Sources, highest precedence first: keyword arguments, ``CONSENTGATE_*`` environment
    variables (nested with ``__``), the TOML file (:meth:`from_toml` or ``CONSENTGATE_CONFIG``),
    defaults. Invalid values raise :class:`~consentgate.errors.ConfigError`.
    """

    model_config = SettingsConfigDict(
        env_prefix="CONSENTGATE_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
        validate_default=True,
    )

    secret_keys: StrList = Field(default_factory=list, repr=False)
    policy_revision: int = Field(1, ge=1)
    consent_max_age_days: int = Field(182, ge=1, le=395)
    cookie_name: str = "consentgate"
    cookie_domain: str | None = None
    cookie_secure: bool | None = None
    cookie_samesite: Literal["lax", "strict", "none"] = "lax"
    regulated_countries: StrList = Field(default_factory=lambda: list(DEFAULT_REGULATED_COUNTRIES))
    unknown_country: Literal["regulated", "unregulated"] = "regulated"
    geoip_database: Path | None = None
    force_country: str | None = None
    trusted_proxies: StrList = Field(default_factory=list)
    forwarded_headers: Literal["x-forwarded", "forwarded"] = "x-forwarded"
    country_header: str | None = None
    allowed_origins: StrList = Field(default_factory=list)
    endpoint_path: str = "/_consent"
    exclude_paths: StrList = Field(default_factory=list)
    categories: list[Category] = Field(default_factory=lambda: list(DEFAULT_CATEGORIES))
    services: list[Service] = Field(default_factory=list)
    ads: AdsSettings = Field(default_factory=AdsSettings)
    analytics: AnalyticsSettings = Field(default_factory=AnalyticsSettings)
    google_consent_mode: bool = True
    wait_for_update_ms: int = Field(500, ge=0, le=10_000)
    ads_data_redaction: bool = True
    url_passthrough: bool = False
    honor_gpc: bool = True
    banner: BannerSettings = Field(default_factory=BannerSettings)
    tcf: TcfSettings = Field(default_factory=TcfSettings)
    #: Default: a SQLite file in the per-user data directory (:mod:`consentgate.paths`).
    ledger_url: str | None = Field(default_factory=default_ledger_url)
    ip_retention_days: int = Field(30, ge=1, le=60)
    record_retention_days: int = Field(1095, ge=1)
    rate_limit_per_minute: int = Field(30, ge=1)
    undeclared_cookies: Literal["allow", "warn", "block"] = "warn"
    #: Load YouTube embeds from youtube-nocookie.com once allowed (fail-closed placeholders).
    youtube_nocookie: bool = True

    @field_validator(
        "secret_keys",
        "regulated_countries",
        "trusted_proxies",
        "allowed_origins",
        "exclude_paths",
        mode="before",
    )
    @classmethod
    def _lists(cls, value: Any) -> Any:
        return _split_list(value)

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise ConfigError(_describe(exc)) from None
        except SettingsError as exc:
            raise ConfigError(f"settings: {exc} — check the CONSENTGATE_* variables") from None

    # -- sources ---------------------------------------------------------------------------
    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Keyword arguments, then env, then the TOML file, then defaults."""
        path = _toml_path.get()
        if path is None and os.environ.get("CONSENTGATE_CONFIG"):
            path = _checked_toml(Path(os.environ["CONSENTGATE_CONFIG"]), "CONSENTGATE_CONFIG")
        if path is None:
            return (init_settings, env_settings)
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file=path))

    @classmethod
    def from_toml(cls, path: str | os.PathLike[str], **overrides: Any) -> ConsentSettings:
        """Load settings from a TOML file; env vars and ``overrides`` take precedence."""
        checked = _checked_toml(Path(path), "config file")
        token = _toml_path.set(checked)
        try:
            return cls(**overrides)
        finally:
            _toml_path.reset(token)

    # -- validation ------------------------------------------------------------------------
    @field_validator("secret_keys")
    @classmethod
    def _secret_keys(cls, value: list[str]) -> list[str]:
        for key in value:
            if len(key) < _MIN_KEY_LENGTH:
                raise ValueError(f"each key needs at least {_MIN_KEY_LENGTH} characters")
        return value

    @field_validator("regulated_countries")
    @classmethod
    def _countries(cls, value: list[str]) -> list[str]:
        codes = [code.strip().upper() for code in value]
        if codes == ["*"]:
            return codes
        for code in codes:
            if not _COUNTRY.match(code):
                raise ValueError(f"{code!r} is not a two-letter ISO country code (or use ['*'])")
        return codes

    @field_validator("force_country")
    @classmethod
    def _force_country(cls, value: str | None) -> str | None:
        return _country_or_none(value)

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, value: list[str]) -> list[str]:
        for item in value:
            try:
                ipaddress.ip_network(item.strip(), strict=False)
            except ValueError:
                raise ValueError(f"{item!r} is not an IP address or CIDR network") from None
        return [item.strip() for item in value]

    @field_validator("country_header")
    @classmethod
    def _country_header(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not _COOKIE_NAME.match(value):
            raise ValueError("must be an HTTP header name such as 'cf-ipcountry'")
        return value.lower()

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        origins = []
        for item in value:
            parts = urlsplit(item.strip().lower())
            if (
                parts.scheme not in ("http", "https")
                or not parts.netloc
                or parts.path not in ("", "/")
            ):
                raise ValueError(f"{item!r} is not an origin such as 'https://www.example.com'")
            origins.append(f"{parts.scheme}://{parts.netloc}")
        return origins

    @field_validator("endpoint_path")
    @classmethod
    def _endpoint_path(cls, value: str) -> str:
        if not re.fullmatch(r"(/[A-Za-z0-9._~-]+)+", value):
            raise ValueError("must be a path such as '/_consent' (no trailing slash)")
        return value

    @field_validator("exclude_paths")
    @classmethod
    def _exclude_paths(cls, value: list[str]) -> list[str]:
        for item in value:
            if not item.startswith("/"):
                raise ValueError(f"{item!r} must start with '/'")
        return value

    @field_validator("cookie_name")
    @classmethod
    def _cookie_name(cls, value: str) -> str:
        return _cookie_name(value)

    @field_validator("cookie_domain")
    @classmethod
    def _cookie_domain(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        domain = value.strip().lower().lstrip(".")
        if not _HOST.match(domain):
            raise ValueError("must be a domain such as 'example.com'")
        return domain

    @field_validator("ledger_url")
    @classmethod
    def _ledger_url(cls, value: str | None) -> str | None:
        if value is None or value.strip().lower() in ("", "none", "off"):
            return None
        scheme = value.split(":", 1)[0].split("+", 1)[0].lower()
        if scheme not in ("sqlite", "postgresql", "postgres", "memory") or "://" not in value:
            raise ValueError(
                "must be 'sqlite:///path.db', 'postgresql://…', 'memory://' (no persistence) "
                "or empty to disable"
            )
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        problems = []
        names = [c.name for c in self.categories]
        codes = [c.cookie_code for c in self.categories]
        if len(set(names)) != len(names):
            problems.append("categories: names must be unique")
        if len(set(codes)) != len(codes):
            problems.append("categories: cookie codes must be unique")
        if not any(c.name == "necessary" and c.required for c in self.categories):
            problems.append("categories: must contain {name = 'necessary', required = true}")
        for service in self.services:
            if service.category not in names:
                problems.append(
                    f"services: {service.name!r} names category {service.category!r}, "
                    f"which is not one of {names}"
                )
        if self.ads.provider == "adsense" and not self.ads.client:
            problems.append("ads.client: required when ads.provider is 'adsense' (ca-pub-…)")
        if "limited" in (self.ads.before_choice, self.ads.without_consent) and (
            self.ads.provider != "gpt"
        ):
            problems.append(
                "ads: 'limited' ads need ads.provider = 'gpt' (Google Publisher Tag loaded "
                "from the limited-ads URL); use 'none' or 'non_personalized' otherwise"
            )
        if self.analytics.provider == "ga4" and not self.analytics.measurement_id:
            problems.append("analytics.measurement_id: required when analytics.provider is 'ga4'")
        if self.cookie_samesite == "none" and self.cookie_secure is False:
            problems.append("cookie_samesite: 'none' needs cookie_secure true (browsers insist)")
        if self.record_retention_days < self.ip_retention_days:
            problems.append("record_retention_days: must be at least ip_retention_days")
        problems.extend(self.tcf.problems())
        if self.tcf.enabled and self.ads.before_choice != "none":
            problems.append(
                "ads.before_choice: must be 'none' with tcf.enabled (Google's tags wait for a TC "
                "string)"
            )
        if self.tcf.enabled and self.tcf.cookie_name == self.cookie_name:
            problems.append("tcf.cookie_name: must differ from cookie_name (use 'euconsent-v2')")
        if problems:
            raise ValueError("\n".join(problems))  # one line per problem (see _describe)
        return self

    # -- helpers used by the middleware and the command line -------------------------------
    def require_secret_keys(self) -> list[str]:
        """The signing keys, or a :class:`ConfigError` saying how to make one."""
        if not self.secret_keys:
            raise ConfigError(
                "secret_keys: missing — run `consentgate keygen` and set CONSENTGATE_SECRET_KEYS "
                "(or secret_keys in the TOML file)"
            )
        return list(self.secret_keys)

    def warnings(self) -> list[str]:
        """Things that are allowed but deserve a warning at start-up and in ``check-config``."""
        notes = []
        if self.force_country:
            notes.append(
                f"force_country = {self.force_country!r}: every visitor is treated as from this "
                "country; for development and tests only"
            )
        regulated_any = bool(self.regulated_countries)
        if (
            self.ads.provider != "none"
            and regulated_any
            and (self.ads.without_consent == "non_personalized")
        ):
            notes.append(
                "ads.without_consent = 'non_personalized': Google's non-personalized ads still "
                "use cookies, which EEA law and Google's EU user consent policy tie to consent; "
                "regulated visitors who refuse advertising get them anyway. Consider 'limited' "
                "(with ads.provider = 'gpt'), 'none', or a TCF-certified setup"
            )
        listed = set(self.regulated_countries)
        for member, territories in EU_TERRITORIES.items():
            missing = [t for t in territories if t not in listed]
            if member in listed and missing:
                notes.append(
                    f"regulated_countries lists {member} without its EU territories "
                    f"{', '.join(missing)}"
                )
        return notes

    def proxy_summary(self) -> str:
        """What is believed about the client's address, scheme and host (``check-config``)."""
        if not self.trusted_proxies:
            return (
                "trusted_proxies is empty: the client is the direct peer and every forwarding "
                "header is ignored. Behind a reverse proxy or TLS terminator, list its address "
                "(CONSENTGATE_TRUSTED_PROXIES='10.0.0.5' or a CIDR), else visitors get the "
                "proxy's country and consent changes from https pages are refused with 403"
            )
        family = (
            "X-Forwarded-For/-Proto/-Host"
            if self.forwarded_headers == "x-forwarded"
            else "RFC 7239 Forwarded"
        )
        other = "Forwarded" if self.forwarded_headers == "x-forwarded" else "X-Forwarded-*"
        return (
            f"{family} is believed from {', '.join(self.trusted_proxies)} and {other} is "
            "ignored (forwarded_headers); the client is the rightmost hop that is not a "
            "trusted proxy, and a hop naming nobody usable leaves the client unknown"
        )

    def ledger_notice(self) -> str | None:
        """The start-up line that says where the ledger is when ``ledger_url`` was not set."""
        if "ledger_url" in self.model_fields_set or self.ledger_url is None:
            return None
        return (
            f"ledger_url is not set: proofs of consent go to {self.ledger_url} (the per-user "
            "data directory); set ledger_url (CONSENTGATE_LEDGER_URL) to choose where"
        )

    def masked(self) -> dict[str, Any]:
        """Effective settings as plain data, secrets masked (for ``check-config``)."""
        data = self.model_dump(mode="json")
        data["secret_keys"] = [_mask(key) for key in self.secret_keys]
        return data

    #: Names of every top-level setting, for reporting unknown ``CONSENTGATE_*`` variables.
    setting_names: ClassVar[frozenset[str]] = frozenset()


ConsentSettings.setting_names = frozenset(ConsentSettings.model_fields)


def unknown_env_vars(environ: Mapping[str, str] | None = None) -> list[str]:
    """``CONSENTGATE_*`` variables that match no setting (typos pydantic ignores)."""
    env = os.environ if environ is None else environ
    # CONSENTGATE_PURE_PYTHON=1: the scanner without its C module (consentgate.scanner).
    known = ConsentSettings.setting_names | {"config", "test_pg_url", "pure_python"}
    unknown = []
    for name in env:
        if name.upper().startswith("CONSENTGATE_"):
            head = name[len("CONSENTGATE_") :].lower().split("__", 1)[0]
            if head not in known:
                unknown.append(name)
    return sorted(unknown)


def _checked_toml(path: Path, what: str) -> Path:
    if not path.is_file():
        raise ConfigError(f"{what}: {str(path)!r} does not exist — give the path of a TOML file")
    try:
        tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{what}: {str(path)!r} is not valid TOML ({exc})") from None
    return path


def _mask(secret: str) -> str:
    return f"***({len(secret)} chars)"


_FIXES = {
    "secret_keys": "run `consentgate keygen` and set CONSENTGATE_SECRET_KEYS",
    "consent_max_age_days": "use 1 to 395 days (13 months at most)",
    "ip_retention_days": "use 1 to 60 days",
    "regulated_countries": "list ISO codes such as ['DE', 'FR'] or ['*'] for everyone",
    "trusted_proxies": "list IPs or CIDRs such as ['10.0.0.0/8']",
    "forwarded_headers": "use 'x-forwarded' (X-Forwarded-*) or 'forwarded' (RFC 7239)",
    "unknown_country": "use 'regulated' or 'unregulated'",
    "cookie_samesite": "use 'lax', 'strict' or 'none'",
    "undeclared_cookies": "use 'allow', 'warn' or 'block'",
}


def _describe(exc: ValidationError) -> list[str]:
    lines = []
    for error in exc.errors():
        loc = ".".join(str(part) for part in error["loc"]) or "settings"
        top = str(error["loc"][0]) if error["loc"] else ""
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "missing":
            message = "missing"
        elif error["type"] == "extra_forbidden":
            message = "unknown setting (check its spelling against the README's settings table)"
        if not error["loc"]:  # model-level checks name their settings themselves
            lines.extend(message.splitlines())
            continue
        value = error.get("input")
        shown = _mask(str(value)) if top in _SECRET_FIELDS else _short(value)
        line = f"{loc}: {message}"
        if error["type"] not in ("missing",) and not isinstance(value, dict):
            line += f" (got {shown})"
        fix = _FIXES.get(top)
        if fix and fix not in message:
            line += f" — {fix}"
        lines.append(line)
    return lines


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
