"""Dashboard login sessions, CSRF tokens and flash messages, kept in signed cookies (no server-side table).

    key     = HMAC-SHA256(admin_token, "connector dashboard v1")     a new admin token ends every session
    cookie  = base64url(json payload) "." base64url(HMAC-SHA256(key, kind "." payload))

Each payload carries its `exp` (Unix seconds); the kind is part of what is signed, so one cookie cannot stand in
for another. Signatures and tokens are compared with `hmac.compare_digest`.

    connector_session   after login: session id + the session's CSRF token; 8 hours
    connector_login     before login: the CSRF token of the login form; 10 minutes
    connector_flash     one message for the next page; 1 minute

All three are HttpOnly, SameSite=Strict, Path=/ and Secure when the daemon's public URL is https. Logging out
clears the cookie and revokes the session id in this process (another replica accepts a copied cookie until it
expires: the cookie is HttpOnly, so page scripts cannot copy it). Nothing secret is ever logged or rendered.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

SESSION_COOKIE = "connector_session"
LOGIN_COOKIE = "connector_login"
FLASH_COOKIE = "connector_flash"
SESSION_TTL = 8 * 3600
LOGIN_TTL = 10 * 60
FLASH_TTL = 60
_FLASH_MAX = 600  # characters: a cookie holds about 4 kB


@dataclass(frozen=True)
class Session:
    sid: str
    csrf: str
    expires: int


@dataclass(frozen=True)
class Flash:
    kind: str  # "ok" or "error"
    text: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Signer:
    """Signs small JSON payloads with an expiry; `unsign` answers None for anything forged, altered or expired."""

    def __init__(self, secret: str, *, clock: Callable[[], float] = time.time) -> None:
        self._key = hmac.new(secret.encode(), b"connector dashboard v1", hashlib.sha256).digest()
        self._clock = clock

    def now(self) -> int:
        return int(self._clock())

    def sign(self, kind: str, data: dict[str, Any], ttl: int) -> str:
        payload = _b64(json.dumps({**data, "exp": self.now() + ttl}, separators=(",", ":")).encode())
        return f"{payload}.{self._mac(kind, payload)}"

    def unsign(self, kind: str, value: str | None) -> dict[str, Any] | None:
        if not value or value.count(".") != 1:
            return None
        payload, mac = value.split(".")
        if not hmac.compare_digest(mac.encode(), self._mac(kind, payload).encode()):
            return None
        try:
            data = json.loads(_unb64(payload))
        except (binascii.Error, ValueError):
            return None
        if not isinstance(data, dict) or not isinstance(data.get("exp"), int) or data["exp"] <= self.now():
            return None
        return data

    def _mac(self, kind: str, payload: str) -> str:
        return _b64(hmac.new(self._key, f"{kind}.{payload}".encode(), hashlib.sha256).digest())


def same(given: str, expected: str) -> bool:
    """Constant-time equality of two strings (False for an empty `given`)."""
    return bool(given) and hmac.compare_digest(given.encode(), expected.encode())


class Guard:
    """The dashboard's login, sessions, CSRF checks and flash messages."""

    def __init__(self, admin_token: str, *, secure: bool, clock: Callable[[], float] = time.time) -> None:
        self._token = admin_token
        self._secure = secure
        self.signer = Signer(admin_token, clock=clock)
        self._revoked: dict[str, int] = {}
        self._lock = threading.Lock()

    # --- login --------------------------------------------------------------------------------------------------
    def token_ok(self, given: str) -> bool:
        return same(given, self._token)

    def login_csrf(self, request: Request) -> str:
        """The login form's CSRF token: the one of a still valid login cookie, else a fresh one."""
        data = self.signer.unsign(LOGIN_COOKIE, request.cookies.get(LOGIN_COOKIE))
        return str(data["csrf"]) if data else secrets.token_urlsafe(24)

    def remember_login_csrf(self, response: Response, csrf: str) -> None:
        self._set(response, LOGIN_COOKIE, self.signer.sign(LOGIN_COOKIE, {"csrf": csrf}, LOGIN_TTL), LOGIN_TTL)

    def login_csrf_ok(self, request: Request, given: str) -> bool:
        data = self.signer.unsign(LOGIN_COOKIE, request.cookies.get(LOGIN_COOKIE))
        return data is not None and same(given, str(data.get("csrf", "")))

    # --- sessions -----------------------------------------------------------------------------------------------
    def start(self, response: Response) -> Session:
        session = Session(secrets.token_urlsafe(16), secrets.token_urlsafe(32), self.signer.now() + SESSION_TTL)
        value = self.signer.sign(SESSION_COOKIE, {"sid": session.sid, "csrf": session.csrf}, SESSION_TTL)
        self._set(response, SESSION_COOKIE, value, SESSION_TTL)
        self._drop(response, LOGIN_COOKIE)
        return session

    def current(self, request: Request) -> Session | None:
        data = self.signer.unsign(SESSION_COOKIE, request.cookies.get(SESSION_COOKIE))
        if data is None or not isinstance(data.get("sid"), str) or not isinstance(data.get("csrf"), str):
            return None
        with self._lock:
            if data["sid"] in self._revoked:
                return None
        return Session(data["sid"], data["csrf"], data["exp"])

    def end(self, session: Session, response: Response) -> None:
        with self._lock:
            now = self.signer.now()
            self._revoked = {sid: exp for sid, exp in self._revoked.items() if exp > now}
            self._revoked[session.sid] = session.expires
        self._drop(response, SESSION_COOKIE)

    def csrf_ok(self, session: Session, given: str) -> bool:
        return same(given, session.csrf)

    # --- flash messages -----------------------------------------------------------------------------------------
    def flash(self, response: Response, kind: str, text: str) -> None:
        value = self.signer.sign(FLASH_COOKIE, {"kind": kind, "text": text[:_FLASH_MAX]}, FLASH_TTL)
        self._set(response, FLASH_COOKIE, value, FLASH_TTL)

    def take_flash(self, request: Request) -> Flash | None:
        """The message left for this page; the caller clears the cookie with `clear_flash`."""
        data = self.signer.unsign(FLASH_COOKIE, request.cookies.get(FLASH_COOKIE))
        if data is None:
            return None
        return Flash("error" if data.get("kind") == "error" else "ok", str(data.get("text", "")))

    def clear_flash(self, request: Request, response: Response) -> None:
        if FLASH_COOKIE in request.cookies:
            self._drop(response, FLASH_COOKIE)

    def _set(self, response: Response, name: str, value: str, ttl: int) -> None:
        response.set_cookie(name, value, max_age=ttl, path="/", httponly=True, samesite="strict", secure=self._secure)

    def _drop(self, response: Response, name: str) -> None:
        response.delete_cookie(name, path="/", httponly=True, samesite="strict", secure=self._secure)
