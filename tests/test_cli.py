"""The ``consentgate`` command: keygen, check-config, geoip, demo without extras, errors."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import netaddr
import pytest
from mmdb_writer import MMDBWriter

from consentgate.cli import main

from .conftest import KEY


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(argv), out=out)
    return code, out.getvalue()


def test_keygen_prints_a_fresh_256_bit_key() -> None:
    code, first = run("keygen")
    _, second = run("keygen")
    assert code == 0
    assert len(first.strip()) >= 43
    assert first != second


def test_check_config_prints_settings_with_secrets_masked(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CONSENTGATE_SECRET_KEYS", KEY)
    monkeypatch.setenv("CONSENTGATE_SECRET_KEY", "typo")
    code, out = run("check-config")
    assert code == 0
    data = json.loads(out)
    assert KEY not in out
    assert data["secret_keys"] == [f"***({len(KEY)} chars)"]
    assert data["endpoint_path"] == "/_consent"
    assert "CONSENTGATE_SECRET_KEY matches no setting" in capsys.readouterr().err


def test_check_config_reads_a_toml_file_and_warns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "site.toml"
    config.write_text(
        f'secret_keys = ["{KEY}"]\n'
        '[ads]\nprovider = "adsense"\nclient = "ca-pub-1234567890123456"\n'
    )
    code, out = run("check-config", "--config", str(config))
    assert code == 0
    assert json.loads(out)["ads"]["provider"] == "adsense"
    assert "non_personalized" in capsys.readouterr().err


def test_check_config_without_key_exits_2_naming_keygen(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _ = run("check-config")
    assert code == 2
    assert "consentgate keygen" in capsys.readouterr().err


def test_check_config_with_bad_value_exits_2_with_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CONSENTGATE_SECRET_KEYS", KEY)
    monkeypatch.setenv("CONSENTGATE_CONSENT_MAX_AGE_DAYS", "999")
    code, _ = run("check-config")
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1
    assert err.startswith("error: consent_max_age_days:")


def test_check_config_with_missing_file_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = run("check-config", "--config", "/nonexistent/site.toml")
    assert code == 2
    assert "does not exist" in capsys.readouterr().err


def test_geoip_with_embedded_database_needs_no_key() -> None:
    code, out = run("geoip", "8.8.8.8")
    assert code == 0
    assert "country: US" in out
    assert "regulated: no" in out
    assert "iptocc" in out


def test_geoip_private_address_is_unknown_and_regulated() -> None:
    code, out = run("geoip", "192.168.1.10")
    assert code == 0
    assert "country: unknown" in out
    assert "regulated: yes" in out


def test_geoip_with_mmdb_file(tmp_path: Path) -> None:
    writer = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="GeoLite2-City")
    writer.insert_network(netaddr.IPSet(["203.0.113.0/24"]), {"country": {"iso_code": "AT"}})
    path = tmp_path / "city.mmdb"
    writer.to_db_file(str(path))
    code, out = run("geoip", "203.0.113.7", "--database", str(path))
    assert code == 0
    assert "country: AT" in out
    assert "regulated: yes" in out
    assert "GeoLite2-City" in out


def test_geoip_with_corrupt_database_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "broken.mmdb"
    path.write_bytes(b"not a database" * 100)
    code, _ = run("geoip", "8.8.8.8", "--database", str(path))
    assert code == 2
    assert "not a valid .mmdb" in capsys.readouterr().err


def test_geoip_rejects_a_bad_address(capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = run("geoip", "999.1.1.1")
    assert code == 2
    assert "not an IP address" in capsys.readouterr().err


def test_console_script_entry_point_runs() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "consentgate.cli", "keygen"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0
    assert len(result.stdout.strip()) >= 43


def test_demo_without_extras_exits_2_naming_the_extra() -> None:
    code = (
        "import sys; sys.modules['jinja2'] = None; sys.modules['uvicorn'] = None\n"
        "from consentgate.cli import main\n"
        "sys.exit(main(['demo']))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 2
    assert "pip install 'consentgate[demo]'" in result.stderr


def test_check_config_explains_that_without_trusted_proxies_forwarding_is_ignored(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CONSENTGATE_SECRET_KEYS", KEY)
    code, _ = run("check-config")
    err = capsys.readouterr().err
    assert code == 0
    assert "proxies: trusted_proxies is empty" in err
    assert "403" in err


def test_check_config_names_the_believed_header_family(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CONSENTGATE_SECRET_KEYS", KEY)
    monkeypatch.setenv("CONSENTGATE_TRUSTED_PROXIES", "10.0.0.5")
    monkeypatch.setenv("CONSENTGATE_FORWARDED_HEADERS", "forwarded")
    code, _ = run("check-config")
    err = capsys.readouterr().err
    assert code == 0
    assert "RFC 7239 Forwarded is believed from 10.0.0.5 and X-Forwarded-* is ignored" in err


def test_check_config_with_a_missing_mmdb_exits_2_naming_the_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CONSENTGATE_SECRET_KEYS", KEY)
    monkeypatch.setenv("CONSENTGATE_GEOIP_DATABASE", str(tmp_path / "gone.mmdb"))
    code, _ = run("check-config")
    assert code == 2
    assert "error: geoip_database:" in capsys.readouterr().err
