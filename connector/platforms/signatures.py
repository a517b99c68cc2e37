"""Webhook signature checks, each over the raw body with a constant-time compare (platforms.md section 6), and
the one parser of a verified webhook body.

    shopify      X-Shopify-Hmac-Sha256  = base64(HMAC-SHA256(client secret, body))
    woocommerce  X-WC-Webhook-Signature = base64(HMAC-SHA256(webhook secret, body))
    bigcommerce  Standard Webhooks: webhook-signature "v1,<base64(HMAC-SHA256(secret, id.timestamp.body))>",
                 timestamp within 5 minutes
    lightspeed   X-Signature = hex(md5(body + api secret))

Every failure raises `WebhookRejected(401, reason)`; the reason never contains the secret or the signature.
`webhook_json` refuses a body it cannot take (not UTF-8 JSON, not an object, nested deeper than `MAX_DEPTH`) with
`WebhookRejected(400, reason)`: the sender sent it, so sending it again cannot help.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

from connector.runtime.errors import WebhookRejected

TOLERANCE_S = 300
MAX_DEPTH = 64  # no platform's order payload nests near this; deeper is refused before anything walks it


def webhook_json(body: bytes) -> dict[str, Any]:
    """A webhook body as a JSON object, or `WebhookRejected(400)` saying why it is not one."""
    try:
        payload = json.loads(body)
    except RecursionError:
        raise WebhookRejected(400, f"the webhook body nests deeper than {MAX_DEPTH} levels", kind="too_deep") from None
    except ValueError:  # UnicodeDecodeError included
        raise WebhookRejected(400, "the webhook body is not JSON", kind="not_json") from None
    if not isinstance(payload, dict):
        raise WebhookRejected(400, "the webhook body is not a JSON object", kind="not_object")
    if _depth_exceeds(payload, MAX_DEPTH):
        raise WebhookRejected(400, f"the webhook body nests deeper than {MAX_DEPTH} levels", kind="too_deep")
    return payload


def _depth_exceeds(value: Any, limit: int) -> bool:
    """Whether containers nest more than `limit` levels (iterative: a deep value cannot exhaust the stack)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def _require(headers: Mapping[str, str], name: str, secret: str) -> str:
    if not secret:
        raise WebhookRejected(401, "no webhook_secret is configured for this store")
    value = headers.get(name, "")
    if not value:
        raise WebhookRejected(401, f"missing {name} header")
    return value


def _b64_hmac(secret: str, message: bytes) -> bytes:
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest())


def check_base64_hmac(headers: Mapping[str, str], body: bytes, secret: str, header: str) -> None:
    given = _require(headers, header, secret)
    if not hmac.compare_digest(_b64_hmac(secret, body), given.strip().encode()):
        raise WebhookRejected(401, f"{header} does not match the body")


def check_standard_webhooks(headers: Mapping[str, str], body: bytes, secret: str, now: float | None = None) -> None:
    webhook_id = _require(headers, "webhook-id", secret)
    timestamp = _require(headers, "webhook-timestamp", secret)
    signatures = _require(headers, "webhook-signature", secret)
    try:
        sent = int(timestamp)
    except ValueError:
        raise WebhookRejected(401, "webhook-timestamp is not a number") from None
    if abs((time.time() if now is None else now) - sent) > TOLERANCE_S:
        raise WebhookRejected(401, "webhook-timestamp is more than 5 minutes away (replayed?)")
    expected = _b64_hmac(secret, f"{webhook_id}.{timestamp}.".encode() + body)
    candidates = [p.split(",", 1)[1].encode() for p in signatures.split() if p.startswith("v1,")]
    if not any(hmac.compare_digest(expected, c) for c in candidates):
        raise WebhookRejected(401, "webhook-signature does not match the body")


def check_md5_suffix(headers: Mapping[str, str], body: bytes, secret: str, header: str = "x-signature") -> None:
    given = _require(headers, header, secret)
    expected = hashlib.md5(body + secret.encode(), usedforsecurity=False).hexdigest().encode()
    if not hmac.compare_digest(expected, given.strip().lower().encode()):
        raise WebhookRejected(401, f"{header} does not match the body")
