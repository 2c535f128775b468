"""Jinja2 helpers: the generated privacy policy, cookie table and a "Privacy settings" link.

>>> from consentgate.jinja import install
>>> install(env, settings)  # doctest: +SKIP

Templates then have ``consentgate_policy_sections`` (list of
:class:`~consentgate.disclosure.Section`), ``consentgate_cookie_table`` (list of
:class:`~consentgate.disclosure.CookieRow`), the ready-made ``consentgate_policy_html`` and
``consentgate_cookie_table_html``, and ``consent_open_link(text="Privacy settings")``: a link
to the settings page that the banner script turns into "open the dialog here"; because it
carries ``data-consentgate-open``, it stands in for the reopen link consentgate adds.

This is the only consentgate module that imports Jinja2 (the ``consentgate[demo]`` extra).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from urllib.parse import quote

import jinja2
from markupsafe import Markup

from .disclosure import (
    cookie_table,
    policy_sections,
    render_cookie_table_html,
    render_policy_html,
)
from .settings import ConsentSettings

__all__ = ["install", "open_link"]

DEFAULT_LINK_TEXT = "Privacy settings"


def open_link(endpoint_path: str) -> Callable[..., Markup]:
    """A ``consent_open_link(text, *, next=None, class_=None)`` helper for ``endpoint_path``."""
    base = f"{endpoint_path}/settings"

    def consent_open_link(
        text: str = DEFAULT_LINK_TEXT, *, next: str | None = None, class_: str | None = None
    ) -> Markup:
        """A link that opens the privacy settings (the settings page without JavaScript)."""
        href = base + (f"?next={quote(next, safe='/')}" if next else "")
        # Markup.format escapes every argument.
        if class_:
            return Markup('<a href="{}" class="{}" data-consentgate-open>{}</a>').format(
                href, class_, text
            )
        return Markup('<a href="{}" data-consentgate-open>{}</a>').format(href, text)

    return consent_open_link


def install(
    env: jinja2.Environment,
    settings: ConsentSettings,
    *,
    cookie_lifetimes: Mapping[str, str] | None = None,
) -> None:
    """Add the consentgate globals to ``env`` (computed once: settings are frozen).

    ``cookie_lifetimes`` gives lifetime hints for cookies consentgate cannot know about
    (see :func:`consentgate.disclosure.cookie_table`).
    """
    env.globals.update(
        consentgate_policy_sections=policy_sections(settings),
        consentgate_cookie_table=cookie_table(settings, lifetimes=cookie_lifetimes),
        # Both are built with html.escape from the settings: safe to mark as markup.
        consentgate_policy_html=Markup(render_policy_html(settings)),  # noqa: S704
        consentgate_cookie_table_html=Markup(  # noqa: S704
            render_cookie_table_html(settings, lifetimes=cookie_lifetimes)
        ),
        consent_open_link=open_link(settings.endpoint_path),
    )
