"""Where consentgate keeps files it is not told where to put: the per-user data directory.

Linux and other Unix: ``$XDG_DATA_HOME/consentgate`` (``~/.local/share/consentgate`` when
``XDG_DATA_HOME`` is unset or, against the XDG rules, relative); macOS:
``~/Library/Application Support/consentgate``; Windows: ``%LOCALAPPDATA%\\consentgate``.
Never relative to the directory a server happens to start in.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

__all__ = ["DEFAULT_LEDGER_FILE", "data_dir", "default_ledger_url"]

#: The default ledger's file name inside :func:`data_dir`.
DEFAULT_LEDGER_FILE = "consent.db"


def data_dir(
    environ: Mapping[str, str] | None = None,
    *,
    home: Path | None = None,
    platform: str | None = None,
) -> Path:
    """consentgate's per-user data directory (an absolute path; not created here)."""
    env = os.environ if environ is None else environ
    home = home if home is not None else Path.home()
    platform = platform if platform is not None else sys.platform
    if platform == "win32":
        local = env.get("LOCALAPPDATA", "")
        base = Path(local) if local and Path(local).is_absolute() else home / "AppData" / "Local"
    elif platform == "darwin":
        base = home / "Library" / "Application Support"
    else:
        xdg = env.get("XDG_DATA_HOME", "")
        base = Path(xdg) if xdg and Path(xdg).is_absolute() else home / ".local" / "share"
    return base / "consentgate"


def default_ledger_url() -> str:
    """``sqlite:///`` + the default ledger file (see :func:`data_dir`)."""
    return f"sqlite:///{(data_dir() / DEFAULT_LEDGER_FILE).as_posix()}"
