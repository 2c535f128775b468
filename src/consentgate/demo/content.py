"""The demo site's articles: metadata here, bodies in ``templates/articles/<slug>.html``."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ARTICLES", "Article", "article"]


@dataclass(frozen=True, slots=True)
class Article:
    """One article of the demo health publisher."""

    slug: str
    title: str
    summary: str
    topic: str
    minutes: int

    @property
    def template(self) -> str:
        """The template holding the article's body."""
        return f"articles/{self.slug}.html"

    @property
    def url(self) -> str:
        """The article's path on the site."""
        return f"/articles/{self.slug}"


ARTICLES: tuple[Article, ...] = (
    Article(
        slug="sleep-hygiene",
        title="Sleep hygiene: small habits for steadier nights",
        summary="A regular rhythm, a calm bedroom and a gentle wind-down do more for most "
        "people than any gadget. Here is where to start.",
        topic="Sleep",
        minutes=5,
    ),
    Article(
        slug="staying-hydrated",
        title="Staying hydrated: a practical guide",
        summary="There is no single magic number of glasses. What you need depends on you, "
        "the weather and your day, and your body gives useful clues.",
        topic="Everyday health",
        minutes=4,
    ),
    Article(
        slug="reading-a-nutrition-label",
        title="How to read a nutrition label",
        summary="The panel on the back of the pack is more useful than it looks, once you "
        "know to start with the serving size.",
        topic="Food",
        minutes=5,
    ),
    Article(
        slug="walking-for-health",
        title="Walking for health: an easy way to start moving",
        summary="No gym, no kit, no special skills. Regular walking is one of the simplest "
        "ways to be more active; here is how to build the habit.",
        topic="Activity",
        minutes=4,
    ),
)

_BY_SLUG = {a.slug: a for a in ARTICLES}


def article(slug: str) -> Article | None:
    """The article with ``slug``, ``None`` when there is none."""
    return _BY_SLUG.get(slug)
