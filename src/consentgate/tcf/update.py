"""Download the GVL and its translations, validate them, and replace a local copy atomically.

Each file is written beside its target and moved into place with ``os.replace`` only after every
download has been validated; the files it replaces are kept in ``previous/``.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

from ..errors import ConsentGateError
from .gvl import MAX_FILE_BYTES, VENDOR_LIST, gvl_language, parse_translation, parse_vendor_list

__all__ = ["DEFAULT_GVL_URL", "GVLUpdateError", "update_gvl"]

#: Where IAB Europe publishes GVL v3 (``vendor-list.json``, ``purposes-{lang}.json``).
DEFAULT_GVL_URL = "https://vendor-list.consensu.org/v3/"
PREVIOUS = "previous"


class GVLUpdateError(ConsentGateError):
    """The GVL could not be downloaded or is not valid; the local copy is left unchanged."""


def _fetch(url: str, timeout: float) -> bytes | None:
    """The body at ``url``; ``None`` for a 404 (a translation that is not published)."""
    # update_gvl admits only http(s) URLs.
    request = urllib.request.Request(url, headers={"User-Agent": "consentgate-gvl-update"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            body: bytes = response.read(MAX_FILE_BYTES + 1)
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise GVLUpdateError(f"{url}: HTTP {exc.code}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise GVLUpdateError(f"{url}: {getattr(exc, 'reason', exc)}") from None
    if len(body) > MAX_FILE_BYTES:
        raise GVLUpdateError(f"{url}: larger than {MAX_FILE_BYTES} bytes")
    return body


def _json(url: str, body: bytes) -> object:
    try:
        return json.loads(body)
    except ValueError:
        raise GVLUpdateError(f"{url}: not JSON") from None


def update_gvl(
    *,
    url: str,
    out: Path,
    languages: Iterable[str],
    report: TextIO,
    timeout: float = 30.0,
) -> int:
    """Download into ``out``; returns the new vendor list version.

    Raises :class:`GVLUpdateError` (nothing written) when the vendor list is missing or invalid;
    a translation that is not published is skipped with a note (English is the fallback).
    """
    if not url.startswith(("https://", "http://")):
        raise GVLUpdateError(f"--url {url!r}: must be an http(s) URL")
    base = url if url.endswith("/") else url + "/"
    list_url = base + VENDOR_LIST
    body = _fetch(list_url, timeout)
    if body is None:
        raise GVLUpdateError(f"{list_url}: HTTP 404")
    try:
        gvl = parse_vendor_list(_json(list_url, body))
    except ValueError as exc:
        raise GVLUpdateError(f"{list_url}: not a valid GVL v3 ({exc})") from None
    files = {VENDOR_LIST: body}
    for language in dict.fromkeys(gvl_language(lang) for lang in languages):
        if language == "en":
            continue  # the vendor list itself carries the English texts
        name = f"purposes-{language}.json"
        translation = _fetch(base + name, timeout)
        if translation is None:
            print(f"note: no {name} published; English is shown instead", file=report)
            continue
        try:
            parse_translation(_json(base + name, translation), language)
        except ValueError as exc:
            raise GVLUpdateError(f"{base + name}: not a valid translation ({exc})") from None
        files[name] = translation
    _install(out, files)
    print(
        f"GVL version {gvl.vendor_list_version} (policy {gvl.policy_version}, "
        f"{len(gvl.vendors)} vendors, {len(files) - 1} translations) written to {out}",
        file=report,
    )
    return gvl.vendor_list_version


def _install(out: Path, files: dict[str, bytes]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    previous = out / PREVIOUS
    staged: list[tuple[Path, Path]] = []
    try:
        for name, body in files.items():
            handle, temp_name = tempfile.mkstemp(prefix=f".{name}.", dir=out)
            with os.fdopen(handle, "wb") as stream:
                stream.write(body)
                stream.flush()
                os.fsync(stream.fileno())
            staged.append((Path(temp_name), out / name))
        if any(target.exists() for _, target in staged):
            previous.mkdir(exist_ok=True)
        for temp, target in staged:
            if target.exists():
                shutil.copy2(target, previous / target.name)
            os.replace(temp, target)
    finally:
        for temp, _ in staged:
            temp.unlink(missing_ok=True)
