"""What the banner shows about each category and service, as plain frozen values."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CategoryInfo", "ServiceInfo"]


@dataclass(frozen=True, slots=True)
class ServiceInfo:
    """A service listed under its category: who runs it and which cookies it sets.

    A ``vendor`` is named as a third party; ``privacy_url`` (http(s) or a path) is linked.
    """

    name: str
    description: str
    vendor: str | None
    privacy_url: str | None
    cookies: tuple[str, ...]
    #: A banner text key whose translation replaces ``description`` (built-in services).
    description_key: str | None = None


@dataclass(frozen=True, slots=True)
class CategoryInfo:
    """A consent category as shown to the visitor.

    ``title``/``description`` ``None`` → the texts ``cat_<name>``/``cat_<name>_desc`` when the
    language has them, else the name and an empty description. ``required`` categories are
    shown as always on and cannot be refused.
    """

    name: str
    required: bool
    title: str | None
    description: str | None
    services: tuple[ServiceInfo, ...]
