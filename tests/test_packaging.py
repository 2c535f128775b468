"""Without a C compiler the package still builds, ships every data file and runs pure Python."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "consentgate"
#: Build inputs: the rest of the tree only goes into the sdist.
FILES = ("setup.py", "pyproject.toml", "MANIFEST.in", "README.md")
NOT_SHIPPED = ("__pycache__", "*.py[cod]", "*.so", "*.c")


def _build_without_compiler(tmp_path: Path) -> Path:
    tree = tmp_path / "tree"
    shutil.copytree(PACKAGE, tree / "src" / "consentgate", ignore=shutil.ignore_patterns("*.so"))
    for name in FILES:
        shutil.copy(ROOT / name, tree / name)
    out = tmp_path / "wheel"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            out,
            tree,
        ],
        env={**os.environ, "CC": "false"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (wheel,) = out.glob("*.whl")
    return wheel


def _shipped_files() -> set[str]:
    """Every file of the package directory that a wheel must hold."""
    ignored = shutil.ignore_patterns(*NOT_SHIPPED)
    found = set()
    for folder, dirs, files in os.walk(PACKAGE):
        dirs[:] = sorted(set(dirs) - ignored(folder, dirs))
        for name in set(files) - ignored(folder, files):
            found.add((Path(folder) / name).relative_to(PACKAGE.parent).as_posix())
    return found


def test_a_wheel_built_without_a_compiler_is_the_pure_package_with_every_file(
    tmp_path: Path,
) -> None:
    wheel = _build_without_compiler(tmp_path)
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        archive.extractall(tmp_path / "site")
    packaged = {n for n in names if n.startswith("consentgate/")}
    assert packaged == _shipped_files()
    assert "consentgate/_scanfast.pyi" in packaged
    assert "consentgate/trackers.toml" in packaged

    code = (
        "import consentgate.scanner as s\n"
        "page = b'<html><head></head><body><img src=\"https://www.google-analytics.com/c\">'\n"
        "out = s.StreamInjector(b'<h>', b'<b>', inert_hosts={'google-analytics.com': 'a'})\n"
        "print(s.__file__, s.ACCELERATED, out.feed_last(page).count(b'data-consentgate-src'))\n"
    )
    site = tmp_path / "site"
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONPATH": str(site)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    where, accelerated, inert = done.stdout.split()
    assert Path(where).is_relative_to(site)
    assert (accelerated, inert) == ("False", "1")
