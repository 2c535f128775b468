"""The inline IAB TCF CMP API script (``__tcfapi``) a page gets in ``<head>``, before any ad tag.

The script answers ``ping``, ``addEventListener``, ``removeEventListener`` and ``getTCData``
from the state the server already knows, serves frames through the ``__tcfapiLocator`` iframe
and the ``__tcfapiCall``/``__tcfapiReturn`` messages, and follows the banner's
``consentgate:change`` event (``useractioncomplete``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

__all__ = ["CmpState", "cmp_script"]


@dataclass(frozen=True, slots=True)
class CmpState:
    """Everything the script needs to answer for one visitor."""

    tc_string: str | None
    gdpr_applies: bool
    banner_shown: bool
    advertising: bool
    cmp_id: int
    cmp_version: int
    gvl_version: int
    policy_version: int
    publisher_country: str
    google_atps: tuple[int, ...]
    cookie_name: str
    #: Unix time at which the visitor's consent (and so the TC string cookie) expires.
    expires_at: int


@cache
def _template() -> str:
    source = resources.files("consentgate.tcf").joinpath("cmpapi.js").read_text("utf-8")
    lines = (line.strip() for line in source.splitlines())
    return "\n".join(line for line in lines if line and not line.startswith("//"))


_UNSAFE = re.compile(r"[<>&\u2028\u2029]")


def cmp_script(state: CmpState) -> str:
    """The script's source (without ``<script>`` tags), safe to inline in HTML."""
    config = {
        "tc": state.tc_string,
        "gdpr": state.gdpr_applies,
        "shown": state.banner_shown,
        "ads": state.advertising,
        "id": state.cmp_id,
        "ver": state.cmp_version,
        "gvl": state.gvl_version,
        "pol": state.policy_version,
        "cc": state.publisher_country,
        "atps": ".".join(map(str, state.google_atps)),
        "ck": state.cookie_name,
        "exp": state.expires_at,
    }
    text = json.dumps(config, separators=(",", ":"))
    # No "</script>" or HTML-significant characters can end up in the inline script.
    text = _UNSAFE.sub(lambda m: f"\\u{ord(m.group(0)):04x}", text)
    return _template().replace("/*CONFIG*/", text)
