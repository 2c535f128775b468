"""The default ledger lives in the per-user data directory, never where the server starts."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from consentgate import ConsentMiddleware, ConsentSettings
from consentgate.paths import data_dir, default_ledger_url

from .conftest import KEY, client, html_app

HOME = Path("/home/ada")


def test_xdg_data_home_is_used_when_absolute() -> None:
    env = {"XDG_DATA_HOME": "/srv/data"}
    assert data_dir(env, home=HOME, platform="linux") == Path("/srv/data/consentgate")


@pytest.mark.parametrize("value", ["", "relative/dir"])
def test_unset_or_relative_xdg_data_home_falls_back_to_local_share(value: str) -> None:
    env = {"XDG_DATA_HOME": value}
    assert data_dir(env, home=HOME, platform="linux") == HOME / ".local/share/consentgate"


def test_macos_and_windows_have_their_own_places() -> None:
    assert data_dir({}, home=HOME, platform="darwin") == (
        HOME / "Library/Application Support/consentgate"
    )
    env = {"LOCALAPPDATA": "/c/Users/ada/AppData/Local"}
    assert data_dir(env, home=HOME, platform="win32") == Path(
        "/c/Users/ada/AppData/Local/consentgate"
    )


def test_default_ledger_url_is_absolute_whatever_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    url = default_ledger_url()
    assert url == f"sqlite:///{tmp_path}/data/consentgate/consent.db"
    assert ConsentSettings().ledger_url == url


def test_the_suite_never_uses_the_real_data_directory() -> None:
    real = Path.home() / ".local" / "share"
    assert not str(data_dir()).startswith(str(real))
    assert os.environ["XDG_DATA_HOME"] != str(real)


async def test_default_ledger_is_announced_and_created_in_the_data_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    with caplog.at_level(logging.WARNING, logger="consentgate"):
        app = ConsentMiddleware(html_app(), settings=ConsentSettings(secret_keys=[KEY]))
    database = tmp_path / "data" / "consentgate" / "consent.db"
    assert f"proofs of consent go to sqlite:///{database}" in caplog.text
    async with client(app) as c:
        response = await c.post("/_consent", data={"action": "accept_all"})
        assert response.status_code == 303
    await app.shutdown()
    assert database.is_file()
    assert sorted(os.listdir(tmp_path)) == ["data"]  # nothing in the working directory


def test_an_explicit_ledger_url_is_not_announced(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="consentgate"):
        ConsentMiddleware(html_app(), settings=ConsentSettings(secret_keys=[KEY], ledger_url=""))
    assert "proofs of consent go to" not in caplog.text
    assert ConsentSettings(secret_keys=[KEY], ledger_url="").ledger_notice() is None
