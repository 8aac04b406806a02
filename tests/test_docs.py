"""The README is a front door: short, the two commands on its first screen, every link resolving."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import ROOT

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def anchors(page: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to dashes."""
    found = set()
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            found.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return found


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_every_relative_link_resolves(page: Path) -> None:
    for target in LINK.findall(page.read_text(encoding="utf-8")):
        if target.startswith(("http://", "https://")):
            continue
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        assert resolved.exists(), (page.name, target)
        if anchor:
            assert anchor in anchors(resolved), (page.name, target)


def test_the_readme_is_a_front_door() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 200
    first_screen = "\n".join(text.splitlines()[:40])
    assert "pip install -q -r requirements.txt && .venv/bin/python index.py samples/*.json" in first_screen
    assert "pip install -q -r requirements-dev.txt && .venv/bin/python -m pytest" in first_screen
    for page in ("callbacks", "deploy", "operations", "design", "security", "settings", "benchmarks", "testing",
                 "forwarding", "reconciliation"):
        assert f"docs/{page}.md" in text, page


def test_commands_are_given_with_the_virtual_environment() -> None:
    for page in PAGES:
        for line in page.read_text(encoding="utf-8").splitlines():
            if line.startswith("python index.py") and ": " in line.split(" --")[0]:
                continue  # the CLI's own output, whose program name is "python index.py"
            command = re.search(r"(?<![\w/.])python3? (index\.py|-m (bench|pytest|tests))", line)
            assert command is None or "python3 -m venv" in line or "python3 -c" in line, (page.name, line)


def test_tencent_docs_are_cited_as_links() -> None:
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        bare = re.findall(r"(?<![/\w])doc \d{3,4}/\d{4,6}", text)
        assert bare == [], (page.name, bare)
