"""The repository is self-contained: no source under tests/, bench/, scripts/, connector/ or sandbox/ reads
anything beside the project (the published samples folder `../shared/samples` that fixtures were written from,
or any path that climbs out of the checkout), so a fresh clone runs its tests.

Published samples are carried over into `tests/fixtures/` (see its README); `tests/fixtures/derive.py` is the one
script that reads them, from a folder given on its command line, and it never names that folder itself.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("tests", "bench", "scripts", "connector", "sandbox")
TEXT_SUFFIXES = {"", ".py", ".graphql", ".toml", ".ini", ".cfg", ".sh", ".md", ".html", ".j2", ".txt", ".yml", ".yaml"}
SKIPPED_DIRS = {"__pycache__", ".venv", ".mypy_cache", ".ruff_cache", ".pytest_cache", "node_modules"}
# What reaches outside the checkout: the samples folder by name, a relative climb to a sibling `shared`, and
# `Path(...).parents[n].parent` / `ROOT.parent`-style climbs above the project root.
OUTSIDE = re.compile(
    r"shared/samples"
    r"|\.\./shared"
    r"|parents\[\d+\]\.parent"
    r"|\bROOT\.parent\b"
)
THIS_FILE = Path(__file__).resolve()


def scanned_files() -> list[Path]:
    files = []
    for top in SCANNED:
        for path in sorted((ROOT / top).rglob("*")):
            if any(part in SKIPPED_DIRS for part in path.relative_to(ROOT).parts):
                continue
            if path.is_file() and path.suffix in TEXT_SUFFIXES and path.resolve() != THIS_FILE:
                files.append(path)
    return files


def references_outside(text: str, name: str) -> list[str]:
    """`name:line: text` for each line of `text` that reads something beside the project."""
    return [
        f"{name}:{number}: {line.strip()}"
        for number, line in enumerate(text.splitlines(), start=1)
        if OUTSIDE.search(line)
    ]


def test_no_source_reads_beside_the_project() -> None:
    files = scanned_files()
    assert len(files) > 100  # the scan really walked the tree
    found = [
        hit
        for path in files
        for hit in references_outside(path.read_text(encoding="utf-8", errors="replace"), str(path.relative_to(ROOT)))
    ]
    assert found == [], "these read outside the repository (use tests/fixtures instead):\n" + "\n".join(found)


@pytest.mark.parametrize(
    "line",
    [
        'SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "samples"',
        'sample = json.loads((ROOT.parent / "shared/samples/woocommerce/order.json").read_text())',
        'spec = yaml.safe_load(open("../shared/bigcommerce/orders.yml"))',
        "Bodies are Shopify's published order fixture (`shared/samples/shopify/order.json`).",
    ],
)
def test_the_scan_names_the_file_and_line_of_each_way_out(line: str) -> None:
    assert references_outside(f"import json\n{line}\n", "tests/x.py") == [f"tests/x.py:2: {line}"]


@pytest.mark.parametrize(
    "line",
    [
        "ROOT = Path(__file__).resolve().parents[2]",
        'FIXTURES = Path(__file__).resolve().parent / "fixtures"',
        '"""Helpers shared by the integration and acceptance tiers."""',
        "rate limit runs on a simulated clock shared by the sandbox and the client's budget",
    ],
)
def test_paths_inside_the_project_and_the_word_shared_pass(line: str) -> None:
    assert references_outside(line, "tests/x.py") == []
