"""``{% load consentgate %}``: tags that let a template place consentgate's pieces itself.

``{% consentgate_open_link "Privacy settings" %}``
    a link that opens the privacy settings (the settings page without JavaScript); it
    carries ``data-consentgate-open``, so consentgate adds no reopen link of its own.
``{% consentgate_gated "analytics" %}<script src=…></script>{% endconsentgate_gated %}``
    the scripts inside run only when the visitor allows the category: otherwise they are
    written inert (``type="text/plain" data-consentgate-category="analytics"``) and the
    banner script starts them after an accept, without a reload.
``{% if consent|consent_allows:"analytics" %}``
    a filter for the rest (``False`` when there is no consent).

The endpoint prefix is the ``CONSENTGATE_ENDPOINT_PATH`` Django setting (default
``/_consent``): keep it equal to consentgate's ``endpoint_path``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from django import template
from django.conf import settings
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from ...consent import Consent
from ...integrations import inert_scripts

register = template.Library()

DEFAULT_LINK_TEXT = "Privacy settings"


def consentgate_open_link(text: str = DEFAULT_LINK_TEXT, next: str | None = None) -> SafeString:
    """A link to the privacy settings that the banner script opens in place."""
    endpoint = getattr(settings, "CONSENTGATE_ENDPOINT_PATH", "/_consent")
    href = f"{endpoint}/settings" + (f"?next={quote(next, safe='/')}" if next else "")
    result: SafeString = format_html('<a href="{}" data-consentgate-open>{}</a>', href, text)
    return result


def consent_allows(consent: Consent | None, category: str) -> bool:
    """Whether ``consent`` grants ``category`` (``False`` without a consent)."""
    return isinstance(consent, Consent) and consent.allows(str(category))


class GatedNode(template.Node):  # type: ignore[misc]  # Django ships no type hints
    """The body of ``{% consentgate_gated %}``: active when allowed, inert otherwise."""

    def __init__(self, nodelist: Any, category: Any) -> None:
        self.nodelist = nodelist
        self.category = category

    def render(self, context: Any) -> str:
        """Render the body, inert unless the visitor allows the category."""
        category = str(self.category.resolve(context))
        body = str(self.nodelist.render(context))
        if consent_allows(context.get("consent"), category):
            return body
        # inert_scripts only renames attributes of <script> tags in already-rendered markup.
        inert: str = mark_safe(inert_scripts(body, category))  # noqa: S308
        return inert


def consentgate_gated(parser: Any, token: Any) -> GatedNode:
    """``{% consentgate_gated "category" %}…{% endconsentgate_gated %}``."""
    bits = token.split_contents()
    if len(bits) != 2:
        raise template.TemplateSyntaxError(
            f'{bits[0]} takes one argument, the category: {{% {bits[0]} "analytics" %}}'
        )
    nodelist = parser.parse(("endconsentgate_gated",))
    parser.delete_first_token()
    return GatedNode(nodelist, parser.compile_filter(bits[1]))


register.simple_tag(consentgate_open_link)
register.filter("consent_allows", consent_allows)
register.tag("consentgate_gated", consentgate_gated)
