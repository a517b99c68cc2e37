"""Read the platforms' published payloads and compact schemas kept in `tests/fixtures/<platform>/`.

The fixtures are part of the repository (tests/fixtures/README.md names the published source of each file), so
the tests need nothing beside the project. Tests import this module as `samples` (pytest puts `tests/` on
`sys.path` because of `tests/conftest.py`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def sample_path(*parts: str) -> Path:
    """The path of one fixture file, e.g. `sample_path("shopify", "order.json")`; fails if it is missing."""
    path = FIXTURES.joinpath(*parts)
    if not path.is_file():
        raise FileNotFoundError(f"fixture {path} is missing: see tests/fixtures/README.md")
    return path


def load_text(*parts: str) -> str:
    return sample_path(*parts).read_text(encoding="utf-8")


def load_json(*parts: str) -> Any:
    """A JSON fixture, freshly parsed (callers may change it)."""
    return json.loads(load_text(*parts))
