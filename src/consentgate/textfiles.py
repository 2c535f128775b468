"""Texts shipped as package data: one ``<lang>.json`` object of strings per language."""

from __future__ import annotations

import functools
import json
from importlib.resources.abc import Traversable

__all__ = ["TextFiles"]


class TextFiles:
    """The ``<lang>.json`` files of one package folder (``what`` names them in errors)."""

    def __init__(self, folder: Traversable, *, what: str) -> None:
        self.folder = folder
        self.what = what
        try:
            entries = list(folder.iterdir())
        except (FileNotFoundError, NotADirectoryError):
            entries = []
        #: The languages that have a file.
        self.languages: frozenset[str] = frozenset(
            e.name[: -len(".json")] for e in entries if e.name.endswith(".json")
        )
        self.read = functools.cache(self._read)

    def _read(self, lang: str) -> dict[str, str]:
        """The strings in ``<lang>.json`` (non-string values are left out)."""
        raw = json.loads(self.folder.joinpath(f"{lang}.json").read_text(encoding="utf-8"))
        if not isinstance(raw, dict):
            raise ValueError(f"{self.what} {lang}.json must hold a JSON object")
        return {k: v for k, v in raw.items() if isinstance(v, str)}
