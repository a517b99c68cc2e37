"""The connector's exceptions, grouped by what the caller should do with them.

    SyncError                  root; carries store, platform and external_id where known
    ├── RetriableError         try again later (timeouts, 5xx, 429, connection refused)
    │   ├── RateLimited        the platform said "slow down"; `retry_after` seconds if it said how long
    │   └── Stopped            the process is stopping: the work stays where it is (never retried in-process)
    ├── FatalError             stop this store and alert (bad credentials, 404 on the store itself)
    └── SkippableError         dead-letter this one item and go on (a payload we cannot map)
    ConfigError                the configuration is wrong; names the key; the CLI exits 2
    WebhookRejected            a webhook delivery that must be refused; carries the HTTP status and reason
    DaemonLocked               another daemon already owns this SQLite database

The HTTP library's own exceptions never leave `connector.platforms`: they are translated there.
"""

from __future__ import annotations


class SyncError(Exception):
    def __init__(self, message: str, *, store: str = "", platform: str = "", external_id: str = "") -> None:
        super().__init__(message)
        self.store = store
        self.platform = platform
        self.external_id = external_id


class RetriableError(SyncError):
    """Transient: the same call may succeed later."""


class RateLimited(RetriableError):
    def __init__(self, message: str, *, retry_after: float | None = None, **context: str) -> None:
        super().__init__(message, **context)
        self.retry_after = retry_after


class Stopped(RetriableError):
    """The process is stopping (SIGTERM): a wait was cut short and the call not made. Every boundary treats it as
    retriable (delayed, never dropped: a poll's cursor stays at its last page), but `call` does not retry it."""


class FatalError(SyncError):
    """Retrying will not help; the store needs attention."""


class SkippableError(SyncError):
    """This one item cannot be processed; keep it aside with the reason and go on."""


class ConfigError(Exception):
    """A configuration problem, with the dotted key it concerns."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}" if key else message)
        self.key = key
        self.message = message


class WebhookRejected(Exception):
    """`kind` is the reason's class, a fixed word (a metric label; never from the request): by default the status's
    (`signature` for 401, `payload` for 400, `too_large` for 413), finer where the refuser knows (`too_deep`)."""

    KINDS = {400: "payload", 401: "signature", 404: "unknown_store", 413: "too_large"}

    def __init__(self, status: int, reason: str, *, kind: str = "") -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.kind = kind or self.KINDS.get(status, "other")


class DaemonLocked(Exception):
    """Another daemon holds the lock on this database."""
