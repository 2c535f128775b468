"""The docs: the generated settings reference is current; every framework page is linked."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from consentgate import ConsentSettings
from consentgate import settings_reference as reference

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
FRAMEWORKS = ["starlette", "fastapi", "django", "litestar", "quart", "datasette", "asgi"]


def test_committed_settings_reference_is_current() -> None:
    committed = (DOCS / "settings.md").read_text(encoding="utf-8")
    assert committed == reference.render(), (
        "docs/settings.md is stale: run `python -m consentgate.settings_reference "
        "> docs/settings.md`"
    )


def test_reference_names_every_setting_and_its_environment_variable() -> None:
    text = reference.render()
    for name, info in ConsentSettings.model_fields.items():
        nested = info.annotation
        if isinstance(nested, type) and hasattr(nested, "model_fields"):
            for sub in nested.model_fields:
                assert f"`CONSENTGATE_{name.upper()}__{sub.upper()}`" in text
        else:
            assert f"| `{name}` | `CONSENTGATE_{name.upper()}` |" in text


def test_a_setting_without_a_description_stops_the_generator(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delitem(reference.DESCRIPTIONS, "banner.block_page")
    with pytest.raises(SystemExit, match=r"banner\.block_page"):
        reference.render()


def test_check_mode_tells_a_stale_file(tmp_path: Path) -> None:
    stale = tmp_path / "settings.md"
    stale.write_text("old\n", encoding="utf-8")
    assert reference.main(["--check", str(stale)]) == 1
    stale.write_text(reference.render(), encoding="utf-8")
    assert reference.main(["--check", str(stale)]) == 0
    out = io.StringIO()
    assert reference.main([], out) == 0
    assert out.getvalue() == reference.render()


def test_machine_dependent_default_is_shown_as_its_rule() -> None:
    assert "`sqlite:///$XDG_DATA_HOME/consentgate/consent.db`" in reference.render()
    assert str(Path.home()) not in reference.render()


@pytest.mark.parametrize("name", FRAMEWORKS)
def test_readme_links_each_framework_page(name: str) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"(docs/frameworks/{name}.md)" in readme
    assert (DOCS / "frameworks" / f"{name}.md").is_file()


def test_every_relative_link_in_the_docs_resolves() -> None:
    for page in [ROOT / "README.md", *DOCS.rglob("*.md")]:
        for target in re.findall(r"\]\(([^)#:]+?)(?:#[^)]*)?\)", page.read_text("utf-8")):
            assert (page.parent / target).exists(), f"{page.name}: {target}"
