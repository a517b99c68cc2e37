"""Webhook signature checks: good signatures pass, anything else is a 401 that names no secret."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from connector.platforms.signatures import check_base64_hmac, check_md5_suffix, check_standard_webhooks
from connector.runtime.errors import WebhookRejected

BODY = b'{"id": 1, "total": "10.00"}'
SECRET = "shh-very-secret"


def b64(secret: str, message: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


def test_base64_hmac_accepts_exact_body_and_refuses_any_change() -> None:
    header = "x-shopify-hmac-sha256"
    check_base64_hmac({header: b64(SECRET, BODY)}, BODY, SECRET, header)
    with pytest.raises(WebhookRejected) as info:
        check_base64_hmac({header: b64(SECRET, BODY)}, BODY + b" ", SECRET, header)
    assert info.value.status == 401
    assert SECRET not in info.value.reason
    with pytest.raises(WebhookRejected, match="missing"):
        check_base64_hmac({}, BODY, SECRET, header)
    with pytest.raises(WebhookRejected, match="no webhook_secret"):
        check_base64_hmac({header: b64("", BODY)}, BODY, "", header)


def test_standard_webhooks() -> None:
    headers = {"webhook-id": "msg_1", "webhook-timestamp": "1700000000"}
    good = b64(SECRET, b"msg_1.1700000000." + BODY)
    check_standard_webhooks({**headers, "webhook-signature": f"v1,bogus v1,{good}"}, BODY, SECRET, now=1700000100)
    with pytest.raises(WebhookRejected, match="5 minutes"):
        check_standard_webhooks({**headers, "webhook-signature": f"v1,{good}"}, BODY, SECRET, now=1700000400)
    with pytest.raises(WebhookRejected, match="does not match"):
        check_standard_webhooks(
            {**headers, "webhook-id": "msg_2", "webhook-signature": f"v1,{good}"}, BODY, SECRET, now=1700000000
        )
    with pytest.raises(WebhookRejected, match="does not match"):
        check_standard_webhooks({**headers, "webhook-signature": f"v2,{good}"}, BODY, SECRET, now=1700000000)


def test_md5_suffix_signature() -> None:
    good = hashlib.md5(BODY + SECRET.encode(), usedforsecurity=False).hexdigest()
    check_md5_suffix({"x-signature": good.upper()}, BODY, SECRET)
    with pytest.raises(WebhookRejected):
        check_md5_suffix({"x-signature": good}, BODY.replace(b"10", b"11"), SECRET)
