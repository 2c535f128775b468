"""ConsentSettings: defaults, source precedence, env list parsing, every ConfigError, warnings."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from pydantic import ValidationError

from consentgate.errors import ConfigError, ConsentGateError
from consentgate.settings import ConsentSettings, unknown_env_vars

KEY_A = "a" * 32
KEY_B = "b" * 40
ADSENSE_ID = "ca-pub-1234567890123456"

EU_27 = [
    *("AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU"),
    *("IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK"),
]
OTHER_REGULATED = [
    *("GF", "GP", "MQ", "RE", "YT", "MF", "AX"),  # outermost regions and Åland
    "EU",  # the RIR code for EU-wide blocks
    *("IS", "LI", "NO"),  # the rest of the EEA
    *("GB", "GI"),  # UK GDPR
    "CH",  # revFADP
]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No CONSENTGATE_* variable of the developer's shell leaks into a test."""
    import os

    for name in list(os.environ):
        if name.upper().startswith("CONSENTGATE_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def write_toml(tmp_path: Path, text: str, name: str = "consentgate.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def config_error(**kwargs: object) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        ConsentSettings(**kwargs)
    return info.value


# -- defaults ---------------------------------------------------------------------------------


@pytest.mark.parametrize("code", EU_27 + OTHER_REGULATED)
def test_default_regulated_countries_include(code: str) -> None:
    assert code in ConsentSettings().regulated_countries


def test_default_regulated_countries_are_exactly_the_documented_list() -> None:
    assert sorted(ConsentSettings().regulated_countries) == sorted(EU_27 + OTHER_REGULATED)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("policy_revision", 1),
        ("consent_max_age_days", 182),
        ("cookie_name", "consentgate"),
        ("cookie_domain", None),
        ("cookie_secure", None),
        ("cookie_samesite", "lax"),
        ("unknown_country", "regulated"),
        ("geoip_database", None),
        ("force_country", None),
        ("trusted_proxies", []),
        ("country_header", None),
        ("allowed_origins", []),
        ("endpoint_path", "/_consent"),
        ("exclude_paths", []),
        ("services", []),
        ("ads.provider", "none"),
        ("ads.client", None),
        ("ads.before_choice", "none"),
        ("ads.without_consent", "non_personalized"),
        ("analytics.provider", "none"),
        ("analytics.measurement_id", None),
        ("google_consent_mode", True),
        ("wait_for_update_ms", 500),
        ("ads_data_redaction", True),
        ("url_passthrough", False),
        ("honor_gpc", True),
        ("banner.default_language", "en"),
        ("banner.privacy_policy_url", "/privacy"),
        ("ip_retention_days", 30),
        ("record_retention_days", 1095),
        ("rate_limit_per_minute", 30),
        ("undeclared_cookies", "warn"),
    ],
)
def test_default_value(path: str, expected: object) -> None:
    value: object = ConsentSettings()
    for part in path.split("."):
        value = getattr(value, part)
    assert value == expected


def test_default_categories_are_the_four_documented_ones() -> None:
    names = [category.name for category in ConsentSettings().categories]
    assert names == ["necessary", "functional", "analytics", "advertising"]


def test_only_necessary_is_required_by_default() -> None:
    required = [c.name for c in ConsentSettings().categories if c.required]
    assert required == ["necessary"]


def test_default_banner_languages_are_the_eu_languages_plus_is_and_nb() -> None:
    languages = ConsentSettings().banner.languages
    assert len(languages) == 26
    assert {"en", "de", "ga", "mt", "is", "nb"} <= set(languages)


def test_settings_without_secret_keys_can_be_built_for_commands_that_do_not_sign() -> None:
    assert ConsentSettings().secret_keys == []


# -- precedence -------------------------------------------------------------------------------


def test_env_overrides_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONSENTGATE_POLICY_REVISION", "4")
    assert ConsentSettings().policy_revision == 4


def test_keyword_argument_overrides_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONSENTGATE_POLICY_REVISION", "4")
    assert ConsentSettings(policy_revision=7).policy_revision == 7


def test_toml_overrides_default(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "policy_revision = 3\n")
    assert ConsentSettings.from_toml(path).policy_revision == 3


def test_env_overrides_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_toml(tmp_path, "policy_revision = 3\n")
    monkeypatch.setenv("CONSENTGATE_POLICY_REVISION", "5")
    assert ConsentSettings.from_toml(path).policy_revision == 5


def test_from_toml_overrides_win_over_env_and_toml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_toml(tmp_path, "policy_revision = 3\n")
    monkeypatch.setenv("CONSENTGATE_POLICY_REVISION", "5")
    assert ConsentSettings.from_toml(path, policy_revision=9).policy_revision == 9


def test_toml_value_is_kept_where_env_and_kwargs_are_silent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_toml(tmp_path, 'policy_revision = 3\ncookie_name = "cg"\n')
    monkeypatch.setenv("CONSENTGATE_POLICY_REVISION", "5")
    assert ConsentSettings.from_toml(path).cookie_name == "cg"


def test_config_env_var_names_the_toml_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_toml(tmp_path, "consent_max_age_days = 90\n")
    monkeypatch.setenv("CONSENTGATE_CONFIG", str(path))
    assert ConsentSettings().consent_max_age_days == 90


def test_env_overrides_toml_named_by_config_env_var(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_toml(tmp_path, "consent_max_age_days = 90\n")
    monkeypatch.setenv("CONSENTGATE_CONFIG", str(path))
    monkeypatch.setenv("CONSENTGATE_CONSENT_MAX_AGE_DAYS", "30")
    assert ConsentSettings().consent_max_age_days == 30


def test_from_toml_path_is_used_instead_of_config_env_var(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_file = write_toml(tmp_path, "policy_revision = 2\n", name="env.toml")
    explicit = write_toml(tmp_path, "policy_revision = 6\n", name="explicit.toml")
    monkeypatch.setenv("CONSENTGATE_CONFIG", str(env_file))
    assert ConsentSettings.from_toml(explicit).policy_revision == 6


def test_toml_is_not_read_after_from_toml_returns(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "policy_revision = 3\n")
    ConsentSettings.from_toml(path)
    assert ConsentSettings().policy_revision == 1


def test_nested_env_var_sets_a_nested_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONSENTGATE_ADS__PROVIDER", "gpt")
    assert ConsentSettings().ads.provider == "gpt"


def test_toml_table_and_nested_env_var_deep_merge(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_toml(tmp_path, '[ads]\nprovider = "adsense"\n')
    monkeypatch.setenv("CONSENTGATE_ADS__CLIENT", ADSENSE_ID)
    ads = ConsentSettings.from_toml(path).ads
    assert (ads.provider, ads.client) == ("adsense", ADSENSE_ID)


def test_nested_env_var_overrides_one_key_of_a_toml_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_toml(tmp_path, '[ads]\nprovider = "gpt"\nbefore_choice = "limited"\n')
    monkeypatch.setenv("CONSENTGATE_ADS__BEFORE_CHOICE", "none")
    ads = ConsentSettings.from_toml(path).ads
    assert (ads.provider, ads.before_choice) == ("gpt", "none")


# -- list settings from env -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('["10.0.0.1", "10.0.0.2"]', ["10.0.0.1", "10.0.0.2"]),
        ("10.0.0.1,10.0.0.2", ["10.0.0.1", "10.0.0.2"]),
        ("10.0.0.1, 10.0.0.2", ["10.0.0.1", "10.0.0.2"]),
        ("10.0.0.1", ["10.0.0.1"]),
    ],
    ids=["json", "comma", "comma-space", "single"],
)
def test_list_setting_from_env(
    monkeypatch: pytest.MonkeyPatch, raw: str, expected: list[str]
) -> None:
    monkeypatch.setenv("CONSENTGATE_TRUSTED_PROXIES", raw)
    assert ConsentSettings().trusted_proxies == expected


@pytest.mark.parametrize(
    "raw", [f"{KEY_A},{KEY_B}", f'["{KEY_A}", "{KEY_B}"]'], ids=["comma", "json"]
)
def test_secret_keys_from_env_keep_their_order(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv("CONSENTGATE_SECRET_KEYS", raw)
    assert ConsentSettings().secret_keys == [KEY_A, KEY_B]


def test_single_secret_key_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONSENTGATE_SECRET_KEYS", KEY_A)
    assert ConsentSettings().secret_keys == [KEY_A]


def test_regulated_countries_from_env_are_uppercased(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONSENTGATE_REGULATED_COUNTRIES", "de,fr")
    assert ConsentSettings().regulated_countries == ["DE", "FR"]


def test_nested_list_setting_from_env_accepts_comma_separated_values(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CONSENTGATE_BANNER__LANGUAGES", "de,en")
    assert ConsentSettings().banner.languages == ["de", "en"]


def test_broken_json_list_in_env_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONSENTGATE_TRUSTED_PROXIES", '["10.0.0.1"')
    with pytest.raises(ConfigError, match="trusted_proxies"):
        ConsentSettings()


def test_non_integer_env_value_is_a_config_error_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CONSENTGATE_POLICY_REVISION", "abc")
    with pytest.raises(ConfigError, match="policy_revision"):
        ConsentSettings()


# -- secret keys ------------------------------------------------------------------------------


def test_missing_secret_keys_are_a_config_error_naming_the_setting() -> None:
    with pytest.raises(ConfigError, match="secret_keys"):
        ConsentSettings().require_secret_keys()


def test_missing_secret_keys_error_says_run_consentgate_keygen() -> None:
    with pytest.raises(ConfigError, match="consentgate keygen"):
        ConsentSettings().require_secret_keys()


def test_require_secret_keys_returns_the_keys_oldest_first() -> None:
    assert ConsentSettings(secret_keys=[KEY_A, KEY_B]).require_secret_keys() == [KEY_A, KEY_B]


def test_short_secret_key_is_a_config_error_naming_the_setting_and_keygen() -> None:
    message = str(config_error(secret_keys=["too-short-secret"]))
    assert "secret_keys" in message
    assert "consentgate keygen" in message


def test_short_secret_key_is_masked_in_the_message() -> None:
    secret = "s3cr3t-but-short-xyz"
    assert secret not in str(config_error(secret_keys=[secret]))


def test_valid_key_next_to_a_short_one_is_masked_in_the_message() -> None:
    message = str(config_error(secret_keys=[KEY_B, "s3cr3t-but-short-xyz"]))
    assert KEY_B not in message
    assert "s3cr3t-but-short-xyz" not in message


def test_short_secret_key_from_env_is_masked_in_the_message(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    secret = "env-s3cr3t-short"
    monkeypatch.setenv("CONSENTGATE_SECRET_KEYS", secret)
    with pytest.raises(ConfigError) as info:
        ConsentSettings()
    assert secret not in str(info.value)


def test_key_of_exactly_32_characters_is_accepted() -> None:
    assert ConsentSettings(secret_keys=["x" * 32]).secret_keys == ["x" * 32]


# -- ranges and formats -----------------------------------------------------------------------


@pytest.mark.parametrize("days", [0, 396, -1])
def test_consent_max_age_days_out_of_range_is_a_config_error(days: int) -> None:
    message = str(config_error(consent_max_age_days=days))
    assert "consent_max_age_days" in message
    assert str(days) in message


@pytest.mark.parametrize("days", [1, 395])
def test_consent_max_age_days_bounds_are_accepted(days: int) -> None:
    assert ConsentSettings(consent_max_age_days=days).consent_max_age_days == days


@pytest.mark.parametrize("days", [0, 61])
def test_ip_retention_days_out_of_range_is_a_config_error(days: int) -> None:
    assert "ip_retention_days" in str(config_error(ip_retention_days=days))


@pytest.mark.parametrize("days", [1, 60])
def test_ip_retention_days_bounds_are_accepted(days: int) -> None:
    assert ConsentSettings(ip_retention_days=days).ip_retention_days == days


@pytest.mark.parametrize("proxy", ["not-an-ip", "10.0.0.300", "10.0.0.0/33"])
def test_bad_trusted_proxy_is_a_config_error_naming_setting_and_value(proxy: str) -> None:
    message = str(config_error(trusted_proxies=[proxy]))
    assert "trusted_proxies" in message
    assert proxy in message


def test_trusted_proxies_accept_addresses_and_cidrs() -> None:
    proxies = ["10.0.0.1", "10.0.0.0/8", "2001:db8::/32"]
    assert ConsentSettings(trusted_proxies=proxies).trusted_proxies == proxies


def test_forwarded_headers_default_to_the_x_forwarded_family(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert ConsentSettings().forwarded_headers == "x-forwarded"
    monkeypatch.setenv("CONSENTGATE_FORWARDED_HEADERS", "forwarded")
    assert ConsentSettings().forwarded_headers == "forwarded"


def test_an_unknown_forwarded_header_family_is_a_config_error_with_the_fix() -> None:
    message = str(config_error(forwarded_headers="x-real-ip"))
    assert message.startswith("forwarded_headers:")
    assert "'x-forwarded'" in message
    assert "x-real-ip" in message


@pytest.mark.parametrize("code", ["DEU", "D", "D1", "12", "*X"])
def test_bad_country_code_is_a_config_error_naming_setting_and_value(code: str) -> None:
    message = str(config_error(regulated_countries=["FR", code]))
    assert "regulated_countries" in message
    assert code in message


def test_regulated_countries_star_means_everyone() -> None:
    assert ConsentSettings(regulated_countries=["*"]).regulated_countries == ["*"]


def test_lowercase_regulated_countries_are_uppercased() -> None:
    assert ConsentSettings(regulated_countries=["de", "fr"]).regulated_countries == ["DE", "FR"]


def test_bad_force_country_is_a_config_error() -> None:
    assert "force_country" in str(config_error(force_country="Germany"))


def test_two_problems_give_two_lines() -> None:
    error = config_error(consent_max_age_days=0, ip_retention_days=0)
    assert len(error.problems) == 2
    assert len(str(error).splitlines()) == 2


# -- TOML problems ----------------------------------------------------------------------------


def test_unknown_toml_key_is_a_config_error_naming_the_key(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "polcy_revision = 2\n")
    with pytest.raises(ConfigError, match="polcy_revision"):
        ConsentSettings.from_toml(path)


def test_unknown_key_in_a_toml_table_is_a_config_error_with_the_dotted_name(
    tmp_path: Path,
) -> None:
    path = write_toml(tmp_path, '[ads]\nprovder = "gpt"\n')
    with pytest.raises(ConfigError, match=r"ads\.provder"):
        ConsentSettings.from_toml(path)


def test_missing_toml_file_is_a_config_error_naming_the_path(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.toml"
    with pytest.raises(ConfigError, match=r"nowhere\.toml"):
        ConsentSettings.from_toml(path)


def test_missing_toml_file_named_by_config_env_var_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONSENTGATE_CONFIG", str(tmp_path / "nowhere.toml"))
    with pytest.raises(ConfigError, match=r"nowhere\.toml"):
        ConsentSettings()


def test_broken_toml_is_a_config_error(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "policy_revision = = 2\n[ads\n")
    with pytest.raises(ConfigError) as info:
        ConsentSettings.from_toml(path)
    assert not isinstance(info.value, tomllib.TOMLDecodeError)


def test_broken_toml_named_by_config_env_var_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONSENTGATE_CONFIG", str(write_toml(tmp_path, "[ads\n")))
    with pytest.raises(ConfigError):
        ConsentSettings()


def test_wrong_type_in_toml_is_a_config_error_naming_the_setting(tmp_path: Path) -> None:
    path = write_toml(tmp_path, 'consent_max_age_days = "half a year"\n')
    with pytest.raises(ConfigError, match="consent_max_age_days"):
        ConsentSettings.from_toml(path)


# -- consistency ------------------------------------------------------------------------------


def test_adsense_without_client_is_a_config_error_naming_ads_client() -> None:
    assert "ads.client" in str(config_error(ads={"provider": "adsense"}))


def test_adsense_with_client_is_accepted() -> None:
    settings = ConsentSettings(ads={"provider": "adsense", "client": ADSENSE_ID})
    assert settings.ads.client == ADSENSE_ID


def test_malformed_adsense_client_is_a_config_error() -> None:
    assert "ads.client" in str(config_error(ads={"provider": "adsense", "client": "pub-1"}))


@pytest.mark.parametrize(
    "ads",
    [
        {"provider": "adsense", "client": ADSENSE_ID, "before_choice": "limited"},
        {"provider": "adsense", "client": ADSENSE_ID, "without_consent": "limited"},
        {"provider": "none", "without_consent": "limited"},
    ],
    ids=["before_choice", "without_consent", "no-provider"],
)
def test_limited_ads_without_gpt_are_a_config_error(ads: dict[str, str]) -> None:
    message = str(config_error(ads=ads))
    assert "limited" in message
    assert "gpt" in message


def test_limited_ads_with_gpt_are_accepted() -> None:
    ads = {"provider": "gpt", "before_choice": "limited", "without_consent": "limited"}
    assert ConsentSettings(ads=ads).ads.before_choice == "limited"


def test_ga4_without_measurement_id_is_a_config_error() -> None:
    assert "analytics.measurement_id" in str(config_error(analytics={"provider": "ga4"}))


def test_ga4_with_measurement_id_is_accepted() -> None:
    analytics = {"provider": "ga4", "measurement_id": "G-ABC123XYZ9"}
    assert ConsentSettings(analytics=analytics).analytics.measurement_id == "G-ABC123XYZ9"


def test_service_naming_an_unknown_category_is_a_config_error() -> None:
    message = str(config_error(services=[{"name": "Chat widget", "category": "marketing"}]))
    assert "Chat widget" in message
    assert "marketing" in message


def test_service_naming_a_known_category_is_accepted() -> None:
    settings = ConsentSettings(services=[{"name": "Matomo", "category": "analytics"}])
    assert settings.services[0].category == "analytics"


# -- the error type ---------------------------------------------------------------------------


def test_config_error_is_a_value_error() -> None:
    assert isinstance(config_error(consent_max_age_days=0), ValueError)


def test_config_error_is_a_consentgate_error() -> None:
    assert isinstance(config_error(consent_max_age_days=0), ConsentGateError)


def test_config_error_is_not_a_pydantic_validation_error() -> None:
    error = config_error(consent_max_age_days=0)
    assert not isinstance(error, ValidationError)
    assert not isinstance(error.__cause__, ValidationError)


def test_unknown_keyword_argument_is_a_config_error() -> None:
    assert "polcy_revision" in str(config_error(polcy_revision=2))


# -- warnings ---------------------------------------------------------------------------------


def test_default_settings_have_no_warnings() -> None:
    assert ConsentSettings().warnings() == []


def test_force_country_gives_a_warning() -> None:
    notes = ConsentSettings(force_country="de").warnings()
    assert any("force_country" in note and "DE" in note for note in notes)


def test_non_personalized_ads_with_an_ad_provider_give_a_warning() -> None:
    notes = ConsentSettings(ads={"provider": "adsense", "client": ADSENSE_ID}).warnings()
    assert any("non_personalized" in note for note in notes)


def test_no_ads_without_consent_give_no_warning() -> None:
    ads = {"provider": "adsense", "client": ADSENSE_ID, "without_consent": "none"}
    assert ConsentSettings(ads=ads).warnings() == []


def test_france_without_its_territories_gives_a_warning() -> None:
    notes = ConsentSettings(regulated_countries=["FR", "DE"]).warnings()
    assert any("FR" in note and "GF" in note and "RE" in note for note in notes)


def test_finland_without_aland_gives_a_warning() -> None:
    notes = ConsentSettings(regulated_countries=["FI"]).warnings()
    assert any("FI" in note and "AX" in note for note in notes)


def test_france_with_all_its_territories_gives_no_warning() -> None:
    codes = ["FR", "GF", "GP", "MQ", "RE", "YT", "MF"]
    assert ConsentSettings(regulated_countries=codes).warnings() == []


# -- unknown env vars -------------------------------------------------------------------------


def test_unknown_env_vars_finds_a_misspelt_setting() -> None:
    assert unknown_env_vars({"CONSENTGATE_SECRET_KEY": KEY_A}) == ["CONSENTGATE_SECRET_KEY"]


def test_unknown_env_vars_reads_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONSENTGATE_SECRET_KEY", KEY_A)
    assert "CONSENTGATE_SECRET_KEY" in unknown_env_vars()


@pytest.mark.parametrize(
    "name",
    [
        "CONSENTGATE_SECRET_KEYS",
        "CONSENTGATE_ADS__PROVIDER",
        "CONSENTGATE_CONFIG",
        "CONSENTGATE_POLICY_REVISION",
        "CONSENTGATE_PURE_PYTHON",
        "HOME",
    ],
)
def test_unknown_env_vars_ignores_known_and_foreign_names(name: str) -> None:
    assert unknown_env_vars({name: "x"}) == []


def test_misspelt_env_var_does_not_stop_settings_from_loading(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CONSENTGATE_SECRET_KEY", KEY_A)
    assert ConsentSettings().secret_keys == []


def test_two_consistency_problems_give_two_lines() -> None:
    error = config_error(ads={"provider": "adsense"}, analytics={"provider": "ga4"})
    assert len(error.problems) == 2
    assert len(str(error).splitlines()) == 2
