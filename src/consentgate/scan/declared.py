"""What the site declares, as plain values the judge compares the scan with.

Built from :class:`~consentgate.ConsentSettings` by :func:`declarations_from_settings` (the
command line reads ``--config``); a scan without settings declares nothing but the consent
cookie, so everything else it sees is undeclared.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase

from ..catalogue import Catalogue, Tracker
from ..settings import ConsentSettings

__all__ = [
    "Declarations",
    "DeclaredService",
    "catalogue_domain",
    "declarations_from_settings",
    "host_matches",
]


@dataclass(frozen=True, slots=True)
class DeclaredService:
    """One declared service: its cookie names or globs and its script hosts."""

    name: str
    category: str
    cookies: tuple[str, ...] = ()
    hosts: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Declarations:
    """The site's declared services and categories."""

    services: tuple[DeclaredService, ...] = ()
    #: Categories that cannot be refused (``necessary``).
    required: frozenset[str] = frozenset({"necessary"})
    consent_cookie: str = "consentgate"
    endpoint_path: str = "/_consent"

    def cookie_service(self, name: str) -> DeclaredService | None:
        """The declared service whose cookie list covers ``name`` (globs allowed)."""
        if name == self.consent_cookie:
            return DeclaredService("consentgate", next(iter(sorted(self.required)), "necessary"))
        for service in self.services:
            if any(fnmatchcase(name, pattern) for pattern in service.cookies):
                return service
        return None

    def host_service(self, host: str) -> DeclaredService | None:
        """The declared service whose hosts cover ``host`` (exact or parent domain)."""
        for service in self.services:
            if any(host_matches(host, declared) for declared in service.hosts):
                return service
        return None

    def catalogue(self, base: Catalogue | None = None) -> Catalogue:
        """The built-in tracker catalogue extended with the declared services' hosts."""
        catalogue = base if base is not None else Catalogue.builtin()
        return catalogue.with_services(
            (s.name, s.category, s.hosts) for s in self.services if s.hosts
        )

    def is_required(self, category: str | None) -> bool:
        """Whether ``category`` may be used without consent."""
        return category is not None and category in self.required


def host_matches(host: str, domain: str) -> bool:
    """Whether ``host`` is ``domain`` or one of its subdomains."""
    return host == domain or host.endswith("." + domain)


def catalogue_domain(catalogue: Catalogue, host: str) -> tuple[str, Tracker] | None:
    """The shortest parent domain of ``host`` the catalogue knows, with its entry."""
    labels = host.split(".")
    for start in range(len(labels) - 2, -1, -1):
        candidate = ".".join(labels[start:])
        tracker = catalogue.lookup(candidate)
        if tracker is not None:
            return candidate, tracker
    return None


def declarations_from_settings(settings: ConsentSettings) -> Declarations:
    """The declarations of a site running with ``settings`` (built-in Google services too)."""
    from ..disclosure import effective_services

    services = tuple(
        DeclaredService(s.name, s.category, tuple(s.cookies), tuple(s.hosts))
        for s in effective_services(settings)
    )
    return Declarations(
        services=services,
        required=frozenset(c.name for c in settings.categories if c.required),
        consent_cookie=settings.cookie_name,
        endpoint_path=settings.endpoint_path,
    )
