"""The one parser of verified webhook bodies: what the sender sent wrong is a 400, never our failure (a 503)."""

from __future__ import annotations

import json

import pytest

from connector.platforms.signatures import MAX_DEPTH, webhook_json
from connector.runtime.errors import WebhookRejected


def nested(depth: int) -> bytes:
    """An object with `depth` levels of containers: {"id": 1, "n": [[...]]}."""
    return b'{"id": 1, "n": ' + b"[" * (depth - 1) + b"]" * (depth - 1) + b"}"


def test_an_order_object_is_taken_as_it_is() -> None:
    body = json.dumps({"id": 7, "line_items": [{"sku": "A", "tax_lines": [{"rate": 0.21}]}]}).encode()
    assert webhook_json(body) == json.loads(body)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"<xml/>", "not JSON"),
        (b'{"id": "\xff"}', "not JSON"),  # not UTF-8
        (b"[1, 2]", "not a JSON object"),
        (b'"text"', "not a JSON object"),
        (nested(10_000), "nests deeper"),  # past the parser's recursion limit
        (nested(MAX_DEPTH + 1), "nests deeper"),  # parses, but deeper than anything a platform sends
    ],
)
def test_a_body_the_parser_cannot_take_is_refused_with_400(body: bytes, reason: str) -> None:
    with pytest.raises(WebhookRejected, match=reason) as refused:
        webhook_json(body)
    assert refused.value.status == 400


def test_nesting_up_to_the_limit_is_accepted() -> None:
    assert webhook_json(nested(MAX_DEPTH))["id"] == 1
