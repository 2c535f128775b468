"""Country lookup (embedded database and .mmdb files built here) and the regulated-country rule."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import netaddr
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from mmdb_writer import MMDBWriter

from consentgate.errors import ConfigError, ConsentGateError, GeoIPError
from consentgate.geo import (
    EmbeddedDatabase,
    FixedCountry,
    MmdbDatabase,
    RegulatedCountries,
    clean_country,
    open_database,
)

# -- clean_country ----------------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "expected"), [("DE", "DE"), ("de", "DE"), ("Gb", "GB")])
def test_clean_country_uppercases_a_two_letter_code(raw: str, expected: str) -> None:
    assert clean_country(raw) == expected


@pytest.mark.parametrize("code", ["XX", "ZZ", "T1", "A1", "A2", "O1", "AP", "xx", "t1"])
def test_clean_country_treats_placeholder_codes_as_unknown(code: str) -> None:
    assert clean_country(code) is None


@pytest.mark.parametrize("raw", ["DEU", "D", "", None, "12", "D1", "D-", " D", "D "])
def test_clean_country_rejects_what_is_not_two_letters(raw: str | None) -> None:
    assert clean_country(raw) is None


@pytest.mark.parametrize("raw", ["ÄÖ", "ßa", "ıd", "ﬀ", "Ｄｅ"])
def test_clean_country_rejects_non_ascii_letters(raw: str) -> None:
    assert clean_country(raw) is None


@given(st.text(max_size=4))
@example("ßa")  # str.upper() can lengthen a string: "ß".upper() == "SS"
def test_clean_country_returns_two_ascii_capitals_or_none(raw: str) -> None:
    result = clean_country(raw)
    assert result is None or re.fullmatch(r"[A-Z]{2}", result)


# -- the embedded database --------------------------------------------------------------------


@pytest.mark.parametrize(
    "ip", ["10.0.0.1", "192.168.1.1", "172.16.0.1", "127.0.0.1", "::1", "fe80::1", "fd00::1"]
)
def test_embedded_database_has_no_country_for_private_and_loopback(ip: str) -> None:
    assert EmbeddedDatabase().country(ip) is None


def test_embedded_database_maps_a_stable_public_address() -> None:
    assert EmbeddedDatabase().country("8.8.8.8") == "US"


def test_embedded_database_maps_a_public_ipv6_address_to_a_two_letter_code() -> None:
    assert re.fullmatch(r"[A-Z]{2}", EmbeddedDatabase().country("2001:4860:4860::8888") or "")


@pytest.mark.parametrize("ip", ["garbage", "", "1.2.3", "8.8.8.8.8", "::ffff:zz", "8.8.8.8/32"])
def test_embedded_database_gives_none_for_garbage(ip: str) -> None:
    assert EmbeddedDatabase().country(ip) is None


def test_embedded_database_description_names_iptocc() -> None:
    assert "iptocc" in EmbeddedDatabase().description


def test_open_database_without_path_is_the_embedded_database() -> None:
    assert isinstance(open_database(None), EmbeddedDatabase)


def test_fixed_country_gives_its_code_for_every_address() -> None:
    assert FixedCountry("de").country("8.8.8.8") == "DE"


# -- .mmdb files ------------------------------------------------------------------------------


def build_mmdb(
    path: Path,
    records: dict[str, dict[str, Any]],
    *,
    database_type: str = "GeoLite2-Country",
    ip_version: int = 6,
) -> Path:
    """Write a test database mapping each network to its record (see NOTES.md, Geo)."""
    writer = MMDBWriter(
        ip_version=ip_version, ipv4_compatible=ip_version == 6, database_type=database_type
    )
    for network, record in records.items():
        writer.insert_network(netaddr.IPSet([network]), record)
    writer.to_db_file(os.fspath(path))
    return path


COUNTRY_RECORDS: dict[str, dict[str, Any]] = {
    "81.2.69.0/24": {"country": {"iso_code": "GB"}, "registered_country": {"iso_code": "GB"}},
    "2a02:db8::/32": {"country": {"iso_code": "DE"}},
    "203.0.113.0/24": {"registered_country": {"iso_code": "FR"}},
    "198.51.100.0/24": {"country": {"iso_code": "IT"}, "registered_country": {"iso_code": "CH"}},
    "192.0.2.0/24": {"country": {"iso_code": "XX"}, "registered_country": {"iso_code": "NL"}},
    "100.64.0.0/24": {"continent": {"code": "EU"}},
}


@pytest.fixture(scope="module")
def mmdb_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mmdb")


@pytest.fixture(scope="module")
def country_db(mmdb_dir: Path) -> MmdbDatabase:
    return MmdbDatabase(build_mmdb(mmdb_dir / "country.mmdb", COUNTRY_RECORDS))


@pytest.fixture(scope="module")
def city_db(mmdb_dir: Path) -> MmdbDatabase:
    record = {
        "city": {"names": {"en": "London"}},
        "country": {"iso_code": "GB", "names": {"en": "United Kingdom"}},
        "location": {"latitude": 51.5, "longitude": -0.1},
    }
    path = build_mmdb(
        mmdb_dir / "city.mmdb", {"81.2.69.0/24": record}, database_type="GeoLite2-City"
    )
    return MmdbDatabase(path)


@pytest.fixture(scope="module")
def ipv4_db(mmdb_dir: Path) -> MmdbDatabase:
    records = {"81.2.69.0/24": {"country": {"iso_code": "GB"}}}
    return MmdbDatabase(build_mmdb(mmdb_dir / "ipv4.mmdb", records, ip_version=4))


def test_country_database_maps_an_ipv6_address(country_db: MmdbDatabase) -> None:
    assert country_db.country("2a02:db8::1") == "DE"


def test_ipv6_database_maps_an_ipv4_address(country_db: MmdbDatabase) -> None:
    assert country_db.country("81.2.69.160") == "GB"


def test_city_database_maps_an_address(city_db: MmdbDatabase) -> None:
    assert city_db.country("81.2.69.160") == "GB"


def test_record_with_only_registered_country_gives_that_code(country_db: MmdbDatabase) -> None:
    assert country_db.country("203.0.113.5") == "FR"


def test_country_wins_over_registered_country(country_db: MmdbDatabase) -> None:
    assert country_db.country("198.51.100.5") == "IT"


def test_placeholder_country_falls_back_to_registered_country(country_db: MmdbDatabase) -> None:
    assert country_db.country("192.0.2.5") == "NL"


def test_record_without_country_gives_none(country_db: MmdbDatabase) -> None:
    assert country_db.country("100.64.0.5") is None


def test_address_missing_from_the_database_gives_none(country_db: MmdbDatabase) -> None:
    assert country_db.country("8.8.8.8") is None


def test_ipv6_lookup_in_an_ipv4_database_gives_none(ipv4_db: MmdbDatabase) -> None:
    assert ipv4_db.country("2a02:db8::1") is None


def test_ipv4_database_maps_an_ipv4_address(ipv4_db: MmdbDatabase) -> None:
    assert ipv4_db.country("81.2.69.160") == "GB"


@pytest.mark.parametrize("ip", ["garbage", "", "1.2.3", "::ffff:zz"])
def test_mmdb_lookup_of_garbage_gives_none(country_db: MmdbDatabase, ip: str) -> None:
    assert country_db.country(ip) is None


@pytest.mark.parametrize(
    ("fixture", "database_type"),
    [("country_db", "GeoLite2-Country"), ("city_db", "GeoLite2-City")],
)
def test_description_names_the_database_type(
    request: pytest.FixtureRequest, fixture: str, database_type: str
) -> None:
    assert database_type in request.getfixturevalue(fixture).description


def test_open_database_with_a_path_reads_that_file(mmdb_dir: Path) -> None:
    path = build_mmdb(mmdb_dir / "open.mmdb", {"81.2.69.0/24": {"country": {"iso_code": "IE"}}})
    assert open_database(path).country("81.2.69.1") == "IE"


def test_missing_file_is_a_config_error_naming_the_setting_path_and_fix(tmp_path: Path) -> None:
    path = tmp_path / "GeoLite2-Country.mmdb"
    with pytest.raises(ConfigError, match=r"^geoip_database: .*does not exist — download") as info:
        MmdbDatabase(path)
    assert str(path) in str(info.value)


def test_corrupt_file_is_a_config_error_naming_the_setting_and_path(tmp_path: Path) -> None:
    path = tmp_path / "corrupt.mmdb"
    path.write_bytes(os.urandom(4096))
    with pytest.raises(ConfigError, match=r"^geoip_database: .*not a valid \.mmdb") as info:
        MmdbDatabase(path)
    assert str(path) in str(info.value)


def test_empty_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "empty.mmdb"
    path.write_bytes(b"")
    with pytest.raises(ConfigError, match="geoip_database"):
        MmdbDatabase(path)


def test_directory_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="geoip_database"):
        MmdbDatabase(tmp_path)


@pytest.mark.parametrize("content", [None, b"not a database"], ids=["missing", "corrupt"])
def test_middleware_start_up_with_a_bad_mmdb_is_a_config_error(
    tmp_path: Path, content: bytes | None
) -> None:
    from consentgate import ConsentMiddleware, ConsentSettings

    path = tmp_path / "country.mmdb"
    if content is not None:
        path.write_bytes(content)
    settings = ConsentSettings(secret_keys=["k" * 32], geoip_database=path, ledger_url=None)
    with pytest.raises(ConfigError, match="geoip_database"):
        ConsentMiddleware(lambda *_: None, settings=settings)  # type: ignore[arg-type]


def test_geoip_error_is_a_consentgate_error() -> None:
    assert issubclass(GeoIPError, ConsentGateError)


# -- RegulatedCountries -----------------------------------------------------------------------


def test_listed_country_is_regulated() -> None:
    assert RegulatedCountries(["DE", "FR"])("DE") is True


def test_unlisted_country_is_not_regulated() -> None:
    assert RegulatedCountries(["DE", "FR"])("US") is False


def test_lowercase_listed_codes_are_matched() -> None:
    assert RegulatedCountries(["de"])("DE") is True


def test_unknown_country_is_regulated_by_default() -> None:
    assert RegulatedCountries(["DE"])(None) is True


def test_unknown_country_is_unregulated_when_so_configured() -> None:
    assert RegulatedCountries(["DE"], unknown_regulated=False)(None) is False


@pytest.mark.parametrize("country", ["US", "DE", None])
def test_star_regulates_everyone(country: str | None) -> None:
    assert RegulatedCountries(["*"], unknown_regulated=False)(country) is True


def test_empty_list_regulates_nobody_with_a_known_country() -> None:
    assert RegulatedCountries([])("DE") is False
