"""The redaction processor: no secret reaches a log line, by key or by value."""

from __future__ import annotations

from connector.runtime.logs import REDACTED, redact_secrets, register_secret


def test_secret_keys_are_blanked_recursively() -> None:
    event = redact_secrets(None, "info", {"event": "x", "access_token": "abc", "headers": {"Authorization": "B x"}})
    assert event["access_token"] == REDACTED
    assert event["headers"]["Authorization"] == REDACTED
    assert event["event"] == "x"


def test_registered_secret_values_are_scrubbed_anywhere() -> None:
    register_secret("s3cr3t-value-123")
    event = redact_secrets(
        None, "info", {"event": "fetched", "url": "http://h/?key=s3cr3t-value-123", "n": [1, "s3cr3t-value-123"]}
    )
    assert "s3cr3t" not in str(event)
    assert event["url"] == f"http://h/?key={REDACTED}"
