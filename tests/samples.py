"""Read the platforms' published sample payloads and specifications from the shared samples folder.

The folder sits beside the project (`../shared/samples` from the project root) and is never copied into it;
see its README for where each file comes from. Tests import this module as `samples` (pytest puts `tests/` on
`sys.path` because of `tests/conftest.py`).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]  # PyYAML ships no type hints

SAMPLES = Path(__file__).resolve().parents[1].parent / "shared" / "samples"


def sample_path(*parts: str) -> Path:
    """The path of one sample file, e.g. `sample_path("shopify", "order.json")`; fails if it is missing."""
    path = SAMPLES.joinpath(*parts)
    if not path.is_file():
        raise FileNotFoundError(f"sample {path} is missing: is ../shared/samples beside the project?")
    return path


def load_text(*parts: str) -> str:
    return sample_path(*parts).read_text(encoding="utf-8")


def load_json(*parts: str) -> Any:
    """A JSON sample, freshly parsed (callers may change it)."""
    return json.loads(load_text(*parts))


@cache
def _yaml(*parts: str) -> Any:
    return yaml.safe_load(load_text(*parts))


def load_yaml(*parts: str) -> Any:
    """A YAML sample (OpenAPI specs); parsed once and shared, so treat it as read-only (copy before changing)."""
    return _yaml(*parts)


def openapi_example(spec: Any, response: str, example: str) -> Any:
    """The value of a named example of a named response in an OpenAPI document (`components.responses`)."""
    content = spec["components"]["responses"][response]["content"]["application/json"]
    return content["examples"][example]["value"]
