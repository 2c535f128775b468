"""TCF settings, the GVL loader and `consentgate tcf update-gvl` against a loopback server."""

from __future__ import annotations

import io
import json
import shutil
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from consentgate import ConfigError, ConsentSettings
from consentgate.cli import main
from consentgate.tcf.gvl import load_gvl, parse_vendor_list, synthetic_gvl_path
from consentgate.tcf.update import GVLUpdateError, update_gvl

SYNTHETIC = synthetic_gvl_path()


def tcf(**values: Any) -> dict[str, Any]:
    return {
        "enabled": True,
        "cmp_id": 300,
        "vendors": [755],
        "gvl_path": str(SYNTHETIC),
        "publisher_country": "DE",
    } | values


# ---------------------------------------------------------------- settings


def test_tcf_is_off_by_default() -> None:
    settings = ConsentSettings()
    assert settings.tcf.enabled is False
    assert settings.tcf.cookie_name == "euconsent-v2"


def test_complete_tcf_settings_are_accepted() -> None:
    settings = ConsentSettings(tcf=tcf(google_atps="89,70"))
    assert settings.tcf.cmp_id == 300
    assert settings.tcf.google_atps == [70, 89]


@pytest.mark.parametrize("cmp_id", [0, 1, 4096])
def test_invalid_cmp_ids_are_refused_with_the_fix(cmp_id: int) -> None:
    with pytest.raises(ConfigError, match=r"tcf\.cmp_id: .*IAB Europe.*0 and 1 are invalid"):
        ConsentSettings(tcf=tcf(cmp_id=cmp_id))


def test_enabled_without_the_required_settings_names_each() -> None:
    with pytest.raises(ConfigError) as caught:
        ConsentSettings(tcf={"enabled": True})
    lines = caught.value.problems
    assert [line.split(":")[0] for line in lines] == [
        "tcf.cmp_id",
        "tcf.gvl_path",
        "tcf.publisher_country",
        "tcf.vendors",
    ]
    assert "consentgate tcf update-gvl" in lines[1]


@pytest.mark.parametrize(
    ("values", "setting"),
    [
        ({"vendors": [0]}, "tcf.vendors"),
        ({"vendors": "seven"}, "tcf.vendors"),
        ({"publisher_country": "Germany"}, "tcf.publisher_country"),
        ({"cookie_name": "bad name"}, "tcf.cookie_name"),
        ({"cmp_version": -1}, "tcf.cmp_version"),
        ({"google_atps": [-3]}, "tcf.google_atps"),
        ({"cookie_name": "consentgate"}, "tcf.cookie_name"),
    ],
)
def test_bad_tcf_values_name_the_setting(values: dict[str, Any], setting: str) -> None:
    with pytest.raises(ConfigError, match=setting.replace(".", r"\.")):
        ConsentSettings(tcf=tcf(**values))


def test_tcf_vendors_from_env_accept_comma_separated_values(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CONSENTGATE_TCF__VENDORS", "755, 1")
    assert ConsentSettings().tcf.vendors == [1, 755]


# ---------------------------------------------------------------- loading


def test_the_synthetic_gvl_loads_and_says_it_is_synthetic() -> None:
    gvl = load_gvl(SYNTHETIC, ["en", "de", "fr"])
    assert gvl.synthetic is True
    assert gvl.vendors[755].purposes == frozenset({1, 3, 4})
    assert gvl.vendors[755].flexible_purposes == frozenset({2, 7, 9, 10})
    assert gvl.texts("de").purposes[1].name.startswith("Informationen")
    assert gvl.texts("fr") is gvl.texts("en")  # no French copy: English
    assert gvl.missing_languages == ("fr",)
    assert gvl.unknown_vendors([755, 5, 4]) == [5, 4]  # 5 is deleted, 4 never existed


def test_a_missing_gvl_is_refused_with_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"tcf\.gvl_path: .*does not exist.*update-gvl"):
        load_gvl(tmp_path, ["en"])


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        '{"gvlSpecificationVersion": 2}',
        json.dumps({"gvlSpecificationVersion": 3, "vendorListVersion": "x"}),
    ],
)
def test_an_invalid_gvl_is_refused(tmp_path: Path, content: str) -> None:
    (tmp_path / "vendor-list.json").write_text(content)
    with pytest.raises(ConfigError, match=r"tcf\.gvl_path: .*not a valid GVL v3"):
        load_gvl(tmp_path, ["en"])


def test_an_invalid_translation_is_refused(tmp_path: Path) -> None:
    shutil.copy(SYNTHETIC / "vendor-list.json", tmp_path)
    (tmp_path / "purposes-de.json").write_text('{"purposes": []}')
    with pytest.raises(ConfigError, match=r"purposes-de\.json"):
        load_gvl(tmp_path, ["de"])


def test_staleness_is_two_weeks_after_last_updated() -> None:
    gvl = load_gvl(SYNTHETIC, ["en"])
    assert not gvl.is_stale(gvl.last_updated + timedelta(days=13))
    assert gvl.is_stale(gvl.last_updated + timedelta(days=15))


def test_vendor_urls_that_are_not_http_are_dropped() -> None:
    data = json.loads((SYNTHETIC / "vendor-list.json").read_text())
    data["vendors"]["755"]["urls"] = [{"langId": "en", "privacy": "javascript:alert(1)"}]
    assert parse_vendor_list(data).vendors[755].privacy_url is None


# ---------------------------------------------------------------- update-gvl


@pytest.fixture
def gvl_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A loopback server of a directory that starts as a copy of the synthetic GVL."""
    root = tmp_path / "served"
    shutil.copytree(SYNTHETIC, root)

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", root
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_update_downloads_validates_and_writes(
    gvl_server: tuple[str, Path], tmp_path: Path
) -> None:
    url, _ = gvl_server
    out = tmp_path / "gvl"
    report = io.StringIO()
    assert update_gvl(url=url, out=out, languages=["en", "de", "fr"], report=report) == 1
    assert sorted(p.name for p in out.iterdir()) == ["purposes-de.json", "vendor-list.json"]
    assert "no purposes-fr.json published" in report.getvalue()
    assert load_gvl(out, ["de"]).texts("de").purposes[2].name.startswith("Eingeschränkte")


def test_update_keeps_the_previous_copy(gvl_server: tuple[str, Path], tmp_path: Path) -> None:
    url, served = gvl_server
    out = tmp_path / "gvl"
    update_gvl(url=url, out=out, languages=["en"], report=io.StringIO())
    data = json.loads((served / "vendor-list.json").read_text())
    data["vendorListVersion"] = 2
    (served / "vendor-list.json").write_text(json.dumps(data))
    assert update_gvl(url=url, out=out, languages=["en"], report=io.StringIO()) == 2
    assert load_gvl(out, ["en"]).vendor_list_version == 2
    assert load_gvl(out / "previous", ["en"]).vendor_list_version == 1


def test_an_invalid_download_leaves_the_copy_unchanged(
    gvl_server: tuple[str, Path], tmp_path: Path
) -> None:
    url, served = gvl_server
    out = tmp_path / "gvl"
    update_gvl(url=url, out=out, languages=["en"], report=io.StringIO())
    before = (out / "vendor-list.json").read_bytes()
    (served / "vendor-list.json").write_text('{"gvlSpecificationVersion": 3}')
    with pytest.raises(GVLUpdateError, match="not a valid GVL v3"):
        update_gvl(url=url, out=out, languages=["en"], report=io.StringIO())
    assert (out / "vendor-list.json").read_bytes() == before
    assert sorted(p.name for p in out.iterdir()) == ["vendor-list.json"]


def test_update_refuses_non_http_urls(tmp_path: Path) -> None:
    with pytest.raises(GVLUpdateError, match="http"):
        update_gvl(url="file:///etc/", out=tmp_path, languages=["en"], report=io.StringIO())


def test_cli_update_gvl(
    gvl_server: tuple[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url, served = gvl_server
    out = io.StringIO()
    code = main(["tcf", "update-gvl", "--url", url, "--out", str(tmp_path / "gvl")], out=out)
    assert code == 0
    assert "GVL version 1" in out.getvalue()
    (served / "vendor-list.json").unlink()
    code = main(["tcf", "update-gvl", "--url", url, "--out", str(tmp_path / "gvl")], out=out)
    assert code == 1
    assert "HTTP 404" in capsys.readouterr().err


def test_cli_update_gvl_needs_a_destination(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tcf", "update-gvl", "--url", "http://127.0.0.1:9/"]) == 2
    assert "--out" in capsys.readouterr().err


def test_synthetic_gvl_last_updated_is_a_real_date() -> None:
    assert load_gvl(SYNTHETIC, ["en"]).last_updated < datetime.now(UTC)
