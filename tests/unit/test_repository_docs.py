"""The repository stands alone (issue 7: 10): its docs link only inside it, the architecture
document and the licence pyproject names are there, and CONTRIBUTING lists the checks."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINK = re.compile(r"\]\(([^)\s]+)\)")


@pytest.mark.parametrize(
    "name", ["README.md", "CHANGELOG.md", "CONTRIBUTING.md", "docs/architecture.md"]
)
def test_links_stay_in_the_repository(name: str) -> None:
    path = ROOT / name
    for target in LINK.findall(path.read_text(encoding="utf-8")):
        assert "://" not in target, (name, target)
        assert (path.parent / target.split("#")[0]).resolve().is_relative_to(ROOT), target
        assert (path.parent / target.split("#")[0]).exists(), (name, target)


def test_readme_links_the_architecture_contributing_and_licence() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for target in ("docs/architecture.md", "CONTRIBUTING.md", "LICENSE"):
        assert f"]({target})" in readme


def test_the_licence_is_the_one_pyproject_names() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["license"] == "MIT"
    assert (ROOT / "LICENSE").read_text(encoding="utf-8").startswith("MIT License")


def test_architecture_covers_what_a_newcomer_needs() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    for heading in ("## Data flow", "## Packages and what each may import", "## Contracts",
                    "## Adding a gateway", "## Running the benchmarks"):  # fmt: skip
        assert heading in text
    checks = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    for command in ("ruff check", "ruff format --check", "mypy", "pytest"):
        assert command in checks
