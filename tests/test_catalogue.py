"""The tracker catalogue: data file, lookups by host and parent domain, declared services."""

from __future__ import annotations

import tomllib
from importlib import resources

import pytest

from consentgate.catalogue import Catalogue, Tracker, normalise_pattern


def _data() -> dict[str, list[dict[str, object]]]:
    text = resources.files("consentgate").joinpath("trackers.toml").read_text("utf-8")
    return tomllib.loads(text)


def test_every_entry_names_the_vendor_documentation_it_comes_from() -> None:
    for entry in _data()["tracker"]:
        source = entry.get("source")
        assert isinstance(source, str), entry
        assert source.startswith("https://"), entry


def test_no_host_pattern_is_listed_twice() -> None:
    patterns = [normalise_pattern(h) for e in _data()["tracker"] for h in e["hosts"]]  # type: ignore[union-attr]
    assert len(patterns) == len(set(patterns))


def test_builtin_is_loaded_once() -> None:
    assert Catalogue.builtin() is Catalogue.builtin()


@pytest.mark.parametrize(
    ("host", "category"),
    [
        ("google-analytics.com", "analytics"),
        ("googletagmanager.com", "analytics"),
        ("googlesyndication.com", "advertising"),
        ("doubleclick.net", "advertising"),
        ("googletagservices.com", "advertising"),
        ("adservice.google.com", "advertising"),
    ],
)
def test_the_google_hosts_of_the_contract_are_in_it(host: str, category: str) -> None:
    tracker = Catalogue.builtin().lookup(host)
    assert tracker is not None
    assert tracker.category == category


@pytest.mark.parametrize(
    ("host", "service"),
    [
        ("connect.facebook.net", "Meta Pixel"),
        ("www.facebook.com", "Meta Pixel"),
        ("www.clarity.ms", "Microsoft Clarity"),
        ("bat.bing.com", "Microsoft Advertising UET"),
        ("static.hotjar.com", "Hotjar"),
        ("analytics.tiktok.com", "TikTok Pixel"),
        ("snap.licdn.com", "LinkedIn Insight Tag"),
        ("static.ads-twitter.com", "X (Twitter) Pixel"),
        ("s.pinimg.com", "Pinterest Tag"),
        ("static.criteo.net", "Criteo"),
        ("cdn.taboola.com", "Taboola"),
        ("amplify.outbrain.com", "Outbrain"),
        ("mc.yandex.ru", "Yandex Metrica"),
        ("cdn.matomo.cloud", "Matomo Cloud"),
        ("cdn.segment.com", "Segment"),
        ("cdn.mxpnl.com", "Mixpanel"),
        ("cdn.amplitude.com", "Amplitude"),
        ("js.hs-scripts.com", "HubSpot"),
        ("www.youtube.com", "YouTube"),
        ("www.youtube-nocookie.com", "YouTube"),
        ("player.vimeo.com", "Vimeo"),
        ("maps.google.com", "Google Maps"),
    ],
)
def test_common_trackers_are_in_it(host: str, service: str) -> None:
    tracker = Catalogue.builtin().lookup(host)
    assert tracker is not None
    assert tracker.service == service


def test_embed_providers_are_marked() -> None:
    catalogue = Catalogue.builtin()
    assert catalogue.lookup("www.youtube.com") == Tracker("YouTube", "functional", embed=True)
    assert catalogue.lookup("player.vimeo.com").embed  # type: ignore[union-attr]
    assert not catalogue.lookup("www.googletagmanager.com").embed  # type: ignore[union-attr]


def test_a_host_matches_its_parent_domains_only() -> None:
    catalogue = Catalogue([("doubleclick.net", Tracker("Ads", "advertising"))])
    assert catalogue.lookup("stats.g.doubleclick.net") is not None
    assert catalogue.lookup("doubleclick.net") is not None
    assert catalogue.lookup("notdoubleclick.net") is None
    assert catalogue.lookup("doubleclick.net.example") is None
    assert catalogue.lookup("net") is None
    assert catalogue.lookup("") is None


def test_the_nearest_parent_wins() -> None:
    catalogue = Catalogue(
        [("google.com", Tracker("Broad", "functional")), ("ads.google.com", Tracker("Ads", "x"))]
    )
    assert catalogue.lookup("a.ads.google.com").service == "Ads"  # type: ignore[union-attr]
    assert catalogue.lookup("www.google.com").service == "Broad"  # type: ignore[union-attr]


def test_path_patterns_match_whole_segments_through_lookup_url() -> None:
    catalogue = Catalogue.builtin()
    assert catalogue.lookup("www.google.com") is None
    assert catalogue.lookup_url("www.google.com", "/maps/embed").service == "Google Maps"  # type: ignore[union-attr]
    assert catalogue.lookup_url("www.google.com", "/maps").service == "Google Maps"  # type: ignore[union-attr]
    assert catalogue.lookup_url("www.google.com", "/mapsfoo") is None
    assert catalogue.lookup_url("www.google.com", "/search") is None
    assert catalogue.lookup_url("www.googletagmanager.com", "/gtm.js") is not None


def test_declared_services_add_and_override() -> None:
    catalogue = Catalogue.builtin().with_services(
        [
            ("Our GTM container", "advertising", ["googletagmanager.com"]),
            ("Plausible", "analytics", ["Plausible.io."]),
            ("Video", "marketing", ["youtube.com"]),
        ]
    )
    assert catalogue.lookup("www.googletagmanager.com") == Tracker(
        "Our GTM container", "advertising"
    )
    assert catalogue.lookup("plausible.io") == Tracker("Plausible", "analytics")
    assert catalogue.lookup("www.youtube.com") == Tracker("Video", "marketing", embed=True)
    # The built-in catalogue itself is unchanged.
    assert Catalogue.builtin().lookup("plausible.io") is None
    assert len(catalogue) == len(Catalogue.builtin()) + 1


def test_iteration_gives_every_pattern_once() -> None:
    catalogue = Catalogue.builtin()
    patterns = [pattern for pattern, _ in catalogue]
    assert len(patterns) == len(catalogue) == len(set(patterns))
    assert "www.google.com/maps" in patterns
    assert all(isinstance(t, Tracker) for _, t in catalogue)
    assert len(catalogue) >= 60


def test_normalise_pattern() -> None:
    assert normalise_pattern(" .Example.COM. ") == "example.com"
    assert normalise_pattern("Example.com/Maps/") == "example.com/Maps"
    assert normalise_pattern("example.com/") == "example.com"
    assert normalise_pattern(" . ") == ""


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[tracker]]\ncategory='a'\nhosts=['x.com']", "'service'"),
        ("[[tracker]]\nservice='S'\nhosts=['x.com']", "'category'"),
        ("[[tracker]]\nservice='S'\ncategory='a'\nhosts=[]", "'hosts'"),
        ("[[tracker]]\nservice='S'\ncategory='a'\nhosts=['x']\nembed='yes'", "'embed'"),
    ],
)
def test_malformed_entries_are_named(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Catalogue.from_toml(text)
