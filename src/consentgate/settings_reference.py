"""The settings reference (``docs/settings.md``), generated from :class:`ConsentSettings`.

    python -m consentgate.settings_reference > docs/settings.md
    python -m consentgate.settings_reference --check docs/settings.md   # exit 1 when stale

Names, environment variables, types, allowed values, bounds and defaults come from the
model itself; the sentences come from :data:`DESCRIPTIONS`. A setting without a sentence
stops the generator, so a new setting cannot slip into a release undocumented.
"""

from __future__ import annotations

import argparse
import sys
import types
import typing
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal, TextIO

from annotated_types import Ge, Le
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from .settings import ConsentSettings

__all__ = ["DESCRIPTIONS", "main", "render"]

ENV_PREFIX = "CONSENTGATE_"

#: One sentence (or two) per setting, keyed by its dotted name.
DESCRIPTIONS: dict[str, str] = {
    "secret_keys": "Signing keys for the consent cookie, oldest first; the newest signs, all "
    "verify. At least 32 characters each: `consentgate keygen` makes one. Required.",
    "policy_revision": "Bump to ask everyone again: consent given under an older revision "
    "counts as undecided.",
    "consent_max_age_days": "Consent lifetime, counted from the decision (never from a "
    "re-signing).",
    "cookie_name": "Name of the consent cookie (always `HttpOnly`, `Path=/`).",
    "cookie_domain": "`Domain=` of the consent cookie; unset = host-only.",
    "cookie_secure": "`Secure` flag; unset = Secure when the request is https (including "
    "`X-Forwarded-Proto`/`Forwarded: proto=` from a trusted proxy).",
    "cookie_samesite": "`SameSite` of the consent cookie (`none` needs `cookie_secure`).",
    "regulated_countries": 'ISO codes whose visitors get the banner; `["*"]` = everyone.',
    "unknown_country": "How visitors whose country is unknown (private IPs, failed lookups, "
    "`XX`, `ZZ`, …) are treated.",
    "geoip_database": "Path to a MaxMind/DB-IP `.mmdb` of any type; unset = the embedded "
    "offline database (iptocc).",
    "force_country": "Development and tests only: every visitor is from this country "
    "(warned at start-up). See [Test it locally](testing-locally.md).",
    "trusted_proxies": "IPs/CIDRs whose `X-Forwarded-*` (or `Forwarded`) headers and "
    "`country_header` are believed.",
    "forwarded_headers": "Which forwarding headers a trusted proxy's word is read from: "
    "`x-forwarded` (`X-Forwarded-For`/`-Proto`/`-Host`, as uvicorn) or `forwarded` (RFC 7239); "
    "the other family is ignored, so a client cannot add one that the proxy passes through.",
    "country_header": "A header with the visitor's country set by a trusted proxy, e.g. "
    "`cf-ipcountry`.",
    "allowed_origins": "Extra origins (`https://www.example.com`) allowed to change consent.",
    "endpoint_path": "Prefix of the consent endpoints and assets.",
    "exclude_paths": "Path prefixes whose pages get nothing injected.",
    "categories": "Consent categories; `necessary` is always granted and cannot be refused. "
    "Each: the fields below.",
    "categories.name": "Lowercase name (`analytics`), used in the API and the cookie.",
    "categories.required": "A required category cannot be refused.",
    "categories.code": "Short code stored in the cookie instead of the name.",
    "categories.title": "Title in the banner; default: the banner texts for known names.",
    "categories.description": "Description in the banner; default: the banner texts.",
    "services": "What the site uses, each gated by one category. Declare your framework's "
    "own cookies here as `necessary` ([framework cookies](framework-cookies.md)).",
    "services.name": "Name shown in the banner.",
    "services.category": "The category that gates the service.",
    "services.description": "What the service does, shown in the banner.",
    "services.vendor": "The company behind the service (named as a third party).",
    "services.privacy_url": "Link to the vendor's privacy page.",
    "services.cookies": "Cookie names or globs (`_ga*`) the service sets; expired on refusal, "
    "and `Set-Cookie` for them is removed while the category is refused.",
    "services.cookie_path": "`Path` of those cookies, for expiring them.",
    "services.scripts": "HTML snippets loaded only when the category is granted.",
    "services.hosts": "Script hosts whose hard-coded tags are held back until consent.",
    "ads": "Ad network settings (a TOML table `[ads]`).",
    "ads.provider": "Which ad network the site uses.",
    "ads.client": "AdSense publisher id (`ca-pub-…`), required with `adsense`.",
    "ads.before_choice": "Ads while a regulated visitor has not chosen.",
    "ads.without_consent": "Ads after a refusal of advertising (`limited` needs `gpt`). "
    "Non-personalized Google ads still use cookies: read the README.",
    "analytics": "Analytics settings (a TOML table `[analytics]`).",
    "analytics.provider": "Which analytics tool the site uses.",
    "analytics.measurement_id": "GA4 measurement id (`G-…`), required with `ga4`.",
    "analytics.allow_google_signals": "Let GA4 use Google signals and ad personalization "
    "when advertising is granted.",
    "google_consent_mode": "Emit Google Consent Mode v2 `default` before any Google tag and "
    "`update` on choice.",
    "wait_for_update_ms": "Consent Mode `wait_for_update`.",
    "ads_data_redaction": "Consent Mode `ads_data_redaction`.",
    "url_passthrough": "Consent Mode `url_passthrough`.",
    "honor_gpc": "`Sec-GPC: 1` outside regulated countries opts out of personalized ads.",
    "banner": "The banner (a TOML table `[banner]`).",
    "youtube_nocookie": "A held-back YouTube embed, once allowed, loads from "
    "`www.youtube-nocookie.com` instead of `www.youtube.com`.",
    "tcf.enabled": "IAB TCF v2.3 mode: regulated visitors get a TC string and the CMP API "
    "(`docs/tcf.md`).",
    "tcf.cmp_id": "The CMP id IAB Europe registered for this site's consent tool (2–4095); "
    "required when TCF is on.",
    "tcf.cmp_version": "The version of the consent tool, written into the TC string.",
    "tcf.vendors": "GVL vendor ids the site works with, e.g. `[755]` (Google).",
    "tcf.gvl_path": "Directory with `vendor-list.json` and `purposes-{lang}.json` "
    "(`consentgate tcf update-gvl` writes it).",
    "tcf.publisher_country": "Country of the publisher's jurisdiction (ISO code), in the TC "
    "string.",
    "tcf.google_atps": "Google ad technology provider ids for the Additional Consent string.",
    "tcf.cookie_name": "The first-party cookie that holds the TC string.",
    "banner.languages": "Banner languages, matched from `Accept-Language`.",
    "banner.default_language": "Language when none matches; one of `banner.languages`.",
    "banner.privacy_policy_url": "Linked from the banner.",
    "banner.block_page": "`true`: a modal banner, the page behind it inert until a choice. "
    "`false`: a non-blocking banner; focus still moves to it, the page stays usable.",
    "banner.texts": 'Text overrides per language, `{"en": {"title": "…"}}`; `"*"` '
    "applies to every language.",
    "ledger_url": "Where proofs of consent go: `sqlite:///path`, `postgresql://…`, "
    "`memory://`, or empty to keep none. When unset, the path is printed at start-up.",
    "ip_retention_days": "Full IPs in the ledger are erased after this many days; a /24 or "
    "/48 prefix stays.",
    "record_retention_days": "Whole ledger records older than this are deleted.",
    "rate_limit_per_minute": "State-changing consent requests per client IP (loopback and "
    "trusted proxies exempt).",
    "undeclared_cookies": "What happens to `Set-Cookie` for a cookie no service declares.",
}

#: Defaults that depend on the machine, shown as the rule that makes them.
_DOCUMENTED_DEFAULTS = {
    "ledger_url": "`sqlite:///$XDG_DATA_HOME/consentgate/consent.db` (`~/.local/share/…` "
    "when unset; macOS `~/Library/Application Support/…`; Windows `%LOCALAPPDATA%\\…`)",
}

_TYPE_NAMES: dict[Any, str] = {str: "string", int: "integer", bool: "boolean", Path: "path"}

_HEADER = """\
# Settings reference

<!-- Generated by `python -m consentgate.settings_reference`; do not edit by hand. -->

Every setting of `ConsentSettings`. Sources, highest precedence first: keyword arguments,
`CONSENTGATE_*` environment variables (nested settings with `__`, e.g.
`CONSENTGATE_BANNER__BLOCK_PAGE=false`; lists as JSON or comma-separated), a TOML file
(`ConsentSettings.from_toml(path)` or `CONSENTGATE_CONFIG=path`; nested settings are tables
such as `[banner]`), then the defaults below. `consentgate check-config` prints the effective
settings.
"""


def render() -> str:
    """The whole reference as Markdown."""
    lines = [_HEADER]
    lines += _table(ConsentSettings, prefix="", env=True)
    for name, info in ConsentSettings.model_fields.items():
        item = _list_item_model(info.annotation)
        if item is not None:
            lines.append(f"\n## `{name}` entries\n")
            lines.append(f"{_description(name, info)}\n")
            lines += _table(item, prefix=f"{name}.", env=False)
    return "\n".join(lines).rstrip() + "\n"


def _table(model: type[BaseModel], *, prefix: str, env: bool) -> list[str]:
    head = "| setting |" + (" environment |" if env else "") + " type | default | meaning |"
    lines = [head, "|---" * head.count(" |") + "|"]
    for name, info in _rows(model, prefix):
        variable = f" `{ENV_PREFIX}{name.upper().replace('.', '__')}` |" if env else ""
        lines.append(
            f"| `{name}` |{variable} {_type(info)} | {_default(name, info)} "
            f"| {_description(name, info)} |"
        )
    return lines


def _rows(model: type[BaseModel], prefix: str) -> Iterator[tuple[str, FieldInfo]]:
    for name, info in model.model_fields.items():
        dotted = prefix + name
        nested = _model(info.annotation)
        if nested is not None and not prefix:
            yield from _rows(nested, f"{dotted}.")
        else:
            yield dotted, info


def _model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _list_item_model(annotation: Any) -> type[BaseModel] | None:
    if typing.get_origin(annotation) is list:
        (item,) = typing.get_args(annotation)
        return _model(item)
    return None


def _description(name: str, info: FieldInfo) -> str:
    try:
        text = DESCRIPTIONS[name]
    except KeyError:
        raise SystemExit(
            f"settings reference: no description for {name!r}; add one to DESCRIPTIONS in "
            "consentgate/settings_reference.py"
        ) from None
    return _cell(text)


def _type(info: FieldInfo) -> str:
    text = _type_name(info.annotation)
    bounds = [
        f"≥ {m.ge}" if isinstance(m, Ge) else f"≤ {m.le}"
        for m in info.metadata
        if isinstance(m, Ge | Le)
    ]
    return _cell(text + (f" ({', '.join(bounds)})" if bounds else ""))


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is Literal:
        return " or ".join(f'`"{a}"`' for a in args)
    if origin in (typing.Union, types.UnionType):
        members = [_type_name(a) for a in args if a is not type(None)]
        return " or ".join(members) + (" or unset" if type(None) in args else "")
    if origin is list:
        return f"list of {_type_name(args[0])}"
    if origin is dict:
        return "table"
    if _model(annotation) is not None:
        return "table"
    name: str = _TYPE_NAMES.get(annotation, getattr(annotation, "__name__", str(annotation)))
    return name


def _default(name: str, info: FieldInfo) -> str:
    if name in _DOCUMENTED_DEFAULTS:
        return _cell(_DOCUMENTED_DEFAULTS[name])
    if info.is_required():
        return "required"
    value = info.get_default(call_default_factory=True)
    if name == "secret_keys":
        return "required"
    return _cell(_value(value))


def _value(value: Any) -> str:
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, BaseModel):
        name = getattr(value, "name", None)
        return f"`{name}`" if name is not None else ""
    if isinstance(value, list | tuple):
        if not value:
            return "`[]`"
        if all(isinstance(v, str) for v in value):
            return "`" + ", ".join(value) + "`"
        return ", ".join(_value(v) for v in value)
    if isinstance(value, dict):
        return "`{}`" if not value else f"`{value}`"
    if isinstance(value, str):
        return f'`"{value}"`'
    return f"`{value}`"


def _cell(text: str) -> str:
    return text.replace("\n", " ").replace("|", "\\|")


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Print the reference, or with ``--check FILE`` say whether FILE is up to date."""
    parser = argparse.ArgumentParser(prog="python -m consentgate.settings_reference")
    parser.add_argument("--check", metavar="FILE", help="exit 1 when FILE differs")
    args = parser.parse_args(argv)
    out = out if out is not None else sys.stdout
    text = render()
    if args.check:
        path = Path(args.check)
        current = path.read_text(encoding="utf-8") if path.is_file() else ""
        if current != text:
            print(
                f"{path} is stale: run `python -m consentgate.settings_reference > {path}`",
                file=sys.stderr,
            )
            return 1
        return 0
    out.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
