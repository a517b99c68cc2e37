"""Webhook signature checks, each over the raw body with a constant-time compare (platforms.md section 6).

    shopify      X-Shopify-Hmac-Sha256  = base64(HMAC-SHA256(client secret, body))
    woocommerce  X-WC-Webhook-Signature = base64(HMAC-SHA256(webhook secret, body))
    bigcommerce  Standard Webhooks: webhook-signature "v1,<base64(HMAC-SHA256(secret, id.timestamp.body))>",
                 timestamp within 5 minutes
    lightspeed   X-Signature = hex(md5(body + api secret))

Every failure raises `WebhookRejected(401, reason)`; the reason never contains the secret or the signature.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Mapping

from connector.runtime.errors import WebhookRejected

TOLERANCE_S = 300


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
