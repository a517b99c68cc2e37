"""WooCommerce REST authentication, checked the way the WordPress plugin's server checks it.

Mirrors `WC_REST_Authentication` (plugins/woocommerce/includes/class-wc-rest-authentication.php):

* HTTP Basic (`consumer_key:consumer_secret`) or `consumer_key` / `consumer_secret` query parameters. WooCommerce
  only tries these when the request came over TLS; the sandbox speaks plain HTTP on 127.0.0.1 and accepts them
  as if a TLS-terminating proxy stood in front of it.
* OAuth 1.0a one-legged over plain HTTP (what the `woocommerce` Python package always sends to an `http://` URL):
  parameters are read as PHP reads `$_GET` (a repeated key keeps its last value, which is why the package's
  doubled query string still verifies), sorted with `strcmp`, each key and value RFC 3986-encoded, joined as
  `key=value` and encoded again, joined with `%26`; the base string is `METHOD&rawurlencode(home_url + path)&...`
  and the key is `consumer_secret + "&"`. HMAC-SHA1 and HMAC-SHA256 are accepted; the timestamp must be within
  15 minutes and a nonce is refused when already stored (stored per timestamp, as WooCommerce does).

Errors carry WooCommerce's own codes and messages, all with status 401.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import threading
from dataclasses import dataclass, field
from urllib.parse import quote, unquote, unquote_plus

OAUTH_WINDOW = 15 * 60
OAUTH_PARAMS = ("oauth_consumer_key", "oauth_timestamp", "oauth_nonce", "oauth_signature", "oauth_signature_method")
BASIC_REALM = (
    'Basic realm="WooCommerce API. Use a consumer key in the username field and a consumer secret in the password '
    'field."'
)

QueryValue = str | dict[str, str]


class AuthError(Exception):
    """A refused request: WooCommerce's error code and message (status 401)."""

    def __init__(self, code: str, message: str, *, basic: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.basic = basic  # Basic auth failed: WooCommerce adds a WWW-Authenticate header


@dataclass
class ApiKey:
    """One REST API key (WooCommerce > Settings > Advanced > REST API), read/write."""

    consumer_key: str
    consumer_secret: str
    nonces: dict[int, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


def php_query(raw: str) -> dict[str, QueryValue]:
    """Parse a query string as PHP fills `$_GET`: last value wins, `a[]` / `a[k]` make arrays, `.` becomes `_`."""
    params: dict[str, QueryValue] = {}
    for pair in raw.split("&"):
        if not pair:
            continue
        key, _, value = pair.partition("=")
        name = unquote_plus(key).lstrip(" ")
        base, bracket, rest = name.partition("[")
        base = base.replace(".", "_").replace(" ", "_")
        decoded = unquote_plus(value)
        if bracket and rest.endswith("]"):
            inner = params.get(base)
            array = inner if isinstance(inner, dict) else {}
            sub = rest[:-1] or str(len(array))
            array[sub] = decoded
            params[base] = array
        else:
            params[base] = decoded
    return params


def rfc3986(value: str) -> str:
    """`wc_rest_urlencode_rfc3986`: PHP's rawurlencode (everything but A-Z a-z 0-9 - _ . ~)."""
    return quote(value, safe="~")


def _joined(params: dict[str, QueryValue]) -> list[str]:
    """`join_with_equals_sign` over normalised parameters, arrays flattened as `key%5Bsub%5D`."""
    out: list[str] = []
    for key, value in params.items():
        if isinstance(value, dict):
            out.extend(rfc3986(f"{key}%5B{sub}%5D={rfc3986(v)}") for sub, v in value.items())
        else:
            out.append(rfc3986(f"{key}={value}"))
    return out


def base_string(method: str, url: str, params: dict[str, QueryValue]) -> str:
    """The OAuth string to sign, built as `check_oauth_signature` builds it."""
    ordered = {rfc3986(k): params[k] for k in sorted(params, key=lambda k: k.encode())}
    normalised: dict[str, QueryValue] = {k: (v if isinstance(v, dict) else rfc3986(v)) for k, v in ordered.items()}
    return f"{method.upper()}&{rfc3986(url)}&{'%26'.join(_joined(normalised))}"


def signature(method: str, url: str, params: dict[str, QueryValue], secret: str, algorithm: str) -> str:
    digest = hashlib.sha1 if algorithm == "HMAC-SHA1" else hashlib.sha256
    mac = hmac.new(f"{secret}&".encode(), base_string(method, url, params).encode(), digest)
    return base64.b64encode(mac.digest()).decode()


def oauth_header_params(header: str) -> dict[str, str]:
    """`parse_header`: OAuth parameters given in an `Authorization: OAuth ...` header."""
    if not header.startswith("OAuth "):
        return {}
    found = re.findall(r'(oauth_[a-z_-]*)=(:?"([^"]*)"|([^,]*))', header)
    return {name: unquote(quoted or bare) for name, _, quoted, bare in found}


def check_basic(key: ApiKey, consumer_key: str, consumer_secret: str) -> bool:
    """True when the pair is this key; raises on a known key with a wrong secret (unknown keys fall through)."""
    if not consumer_key or not consumer_secret or consumer_key != key.consumer_key:
        return False
    if not hmac.compare_digest(key.consumer_secret.encode(), consumer_secret.encode()):
        raise AuthError("woocommerce_rest_authentication_error", "Consumer secret is invalid.", basic=True)
    return True


def check_oauth(key: ApiKey, method: str, url: str, params: dict[str, QueryValue], now: float) -> bool:
    """Verify one-legged OAuth 1.0a; False when the request does not try OAuth at all."""
    missing = [p for p in OAUTH_PARAMS if not params.get(p)]
    if len(missing) == len(OAUTH_PARAMS):
        return False
    if missing:
        noun = "parameter" if len(missing) == 1 else "parameters"
        raise AuthError(
            "woocommerce_rest_authentication_missing_parameter", f"Missing OAuth {noun} {', '.join(missing)}"
        )
    if params["oauth_consumer_key"] != key.consumer_key:
        raise AuthError("woocommerce_rest_authentication_error", "Consumer key is invalid.")
    _check_signature(key, method, url, params)
    _check_timestamp_and_nonce(key, str(params["oauth_timestamp"]), str(params["oauth_nonce"]), now)
    return True


def _check_signature(key: ApiKey, method: str, url: str, params: dict[str, QueryValue]) -> None:
    provided = unquote(str(params["oauth_signature"]).replace(" ", "+"))
    rest = {k: v for k, v in params.items() if k != "oauth_signature"}
    algorithm = str(params["oauth_signature_method"])
    if algorithm not in {"HMAC-SHA1", "HMAC-SHA256"}:
        raise AuthError("woocommerce_rest_authentication_error", "Invalid signature - signature method is invalid.")
    expected = signature(method, url, rest, key.consumer_secret, algorithm)
    if not hmac.compare_digest(expected.encode(), provided.encode()):
        raise AuthError(
            "woocommerce_rest_authentication_error", "Invalid signature - provided signature does not match."
        )


def _check_timestamp_and_nonce(key: ApiKey, timestamp: str, nonce: str, now: float) -> None:
    stamp = int(timestamp) if timestamp.isdigit() else 0
    if stamp < now - OAUTH_WINDOW or stamp > now + OAUTH_WINDOW:
        raise AuthError("woocommerce_rest_authentication_error", "Invalid timestamp.")
    with key.lock:
        if nonce in key.nonces.values():
            raise AuthError("woocommerce_rest_authentication_error", "Invalid nonce - nonce has already been used.")
        key.nonces[stamp] = nonce
        for old in [t for t in key.nonces if t < now - OAUTH_WINDOW]:
            del key.nonces[old]
