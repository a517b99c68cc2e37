"""Configuration: the TOML file, validated with pydantic, secrets from `${ENV}`.

The file's shape is the public contract (README "Configuration"). `load_config` returns a validated `Config` or
raises `ConfigError` whose message names the dotted key at fault, e.g. `stores[1].platform: unknown platform
'magento'`; the CLI prints that one line and exits 2.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from connector.orders.model import Platform
from connector.runtime.errors import ConfigError

DEFAULT_PATH = Path("config/connector.toml")
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")

# Credential keys each platform needs (documented in the README).
REQUIRED_CREDENTIALS: dict[Platform, tuple[str, ...]] = {
    Platform.SHOPIFY: ("access_token",),
    Platform.WOOCOMMERCE: ("consumer_key", "consumer_secret"),
    Platform.BIGCOMMERCE: ("access_token",),
    Platform.LIGHTSPEED: ("api_key", "api_secret"),
}
# Credential keys a platform may take besides those; any other key is a mistake (a typo leaves a setting unused).
OPTIONAL_CREDENTIALS: dict[Platform, tuple[str, ...]] = {
    Platform.SHOPIFY: (),
    Platform.WOOCOMMERCE: ("query_string_auth",),
    Platform.BIGCOMMERCE: ("client_id",),
    Platform.LIGHTSPEED: (),
}
_HOST_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


def parse_duration(value: object) -> timedelta:
    """`"60s"`, `"5m"`, `"1h"`, `"250ms"`, `"2d"` or a number of seconds."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and (match := _DURATION.match(value)):
        seconds = float(match.group(1)) * _DURATION_UNITS[match.group(2)]
    else:
        raise ValueError(f"{value!r} is not a duration like '60s', '5m' or '1h'")
    if seconds <= 0:
        raise ValueError("a duration must be positive")
    return timedelta(seconds=seconds)


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


def _http_url(value: str) -> str:
    """An http(s) base URL: a valid host (name or IP), an optional port and path; no spaces, query or fragment."""
    if any(ch.isspace() or not ch.isprintable() for ch in value):
        raise ValueError(f"{value!r} is not an http(s) URL: it contains spaces or control characters")
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ValueError(f"{value!r} is not an http(s) URL")
    if not _valid_host(parts.hostname or ""):
        raise ValueError(f"{value!r} is not an http(s) URL: {parts.hostname or 'no host'!r} is not a host name")
    try:
        parts.port  # noqa: B018 -- urlsplit checks the port only when asked
    except ValueError:
        raise ValueError(f"{value!r} is not an http(s) URL: the port is not a number from 0 to 65535") from None
    if parts.query or parts.fragment or value.endswith(("?", "#")):
        raise ValueError(f"{value!r} is a base URL: it takes no query or fragment")
    return value.rstrip("/")


def _valid_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        labels = host.removesuffix(".").split(".")
        return len(host) <= 253 and all(_HOST_LABEL.match(label) for label in labels)


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("is empty (leave the key out instead)")
    return value


HttpUrl = Annotated[str, BeforeValidator(lambda v: _http_url(str(v)))]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DaemonConfig(_Strict):
    database_url: str = "sqlite:///state/connector.db"
    listen: str = "127.0.0.1:8080"
    public_url: HttpUrl = "http://127.0.0.1:8080"
    admin_token: str = Field(min_length=16)
    max_body_bytes: int = Field(default=1024 * 1024, gt=0)
    lease_ttl: Duration = timedelta(seconds=30)
    outbox_interval: Duration = timedelta(seconds=2)
    inbox_interval: Duration = timedelta(seconds=1)

    @field_validator("database_url")
    @classmethod
    def _database(cls, value: str) -> str:
        if not (value.startswith("sqlite:///") or value.startswith("postgresql+psycopg://")):
            raise ValueError("must start with sqlite:/// or postgresql+psycopg://")
        return value

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ValueError(f"{value!r} is not host:port")
        return value

    @property
    def host(self) -> str:
        return self.listen.rpartition(":")[0]

    @property
    def port(self) -> int:
        return int(self.listen.rpartition(":")[2])


class LocationConfig(_Strict):
    name: Annotated[str, Field(pattern=_NAME.pattern)]
    priority: int = 100
    pickup: bool = False
    platform_ids: dict[Platform, str] = Field(default_factory=dict)


class ReservationConfig(_Strict):
    """How a store marks a reservation: order tags (Shopify) or platform statuses."""

    tags: list[str] = Field(default_factory=list)
    statuses: list[str] = Field(default_factory=list)
    hold: Duration = timedelta(days=2)


_EVENTS = ("packed_delivery", "packed_pickup", "shipped", "picked_up", "cancelled")


class WritebackConfig(_Strict):
    """Write-back beyond the default matrix (README "Write-back"); everything is off by default."""

    ready_for_pickup: bool = False  # Shopify: mark pickup orders ready when packed (notifies the customer)
    shipments: bool = False  # BigCommerce: create a shipment with tracking when a location ships
    detailed_statuses: bool = False  # Lightspeed: processing_awaiting_shipment ... completed_picked_up
    cancel: bool = False  # write local cancellations to the platform
    notify: list[str] = Field(default_factory=list)  # events whose write notifies the customer
    statuses: dict[str, str] = Field(default_factory=dict)  # event -> custom platform status

    @field_validator("notify")
    @classmethod
    def _notify(cls, value: list[str]) -> list[str]:
        for event in value:
            if event not in _EVENTS:
                raise ValueError(f"unknown event {event!r} (expected one of {', '.join(_EVENTS)})")
        return value

    @field_validator("statuses")
    @classmethod
    def _statuses(cls, value: dict[str, str]) -> dict[str, str]:
        cls._notify(list(value))
        return value


class StoreConfig(_Strict):
    name: Annotated[str, Field(pattern=_NAME.pattern)]
    platform: Platform
    base_url: HttpUrl
    credentials: dict[str, str] = Field(default_factory=dict)
    webhook_secret: str = ""
    poll_interval: Duration = timedelta(seconds=60)
    allocation: str = "fewest_locations"
    currency: str = "EUR"
    shop_name: str = ""  # the shop's name as customers know it (packing slips); default: the store's name
    api_version: str = "2024-07"
    reservation: ReservationConfig = Field(default_factory=ReservationConfig)
    writeback: WritebackConfig = Field(default_factory=WritebackConfig)

    @field_validator("allocation")
    @classmethod
    def _strategy(cls, value: str) -> str:
        allowed = ("fewest_locations", "priority", "most_stock")
        if value not in allowed:
            raise ValueError(f"unknown strategy {value!r} (expected one of {', '.join(allowed)})")
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _secret(cls, value: str) -> str:
        """Left out, the store takes no webhooks (every delivery is refused); given, it must be a secret."""
        return _not_blank(value)

    @field_validator("credentials")
    @classmethod
    def _credentials(cls, value: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        platform = info.data.get("platform")
        if isinstance(platform, Platform):
            missing = [k for k in REQUIRED_CREDENTIALS[platform] if not value.get(k)]
            if missing:
                raise ValueError(f"{missing[0]} is required for {platform.value}")
        return value


class StockConfig(_Strict):
    """`[stock]`: a folder the daemon watches for POS files (count or movement CSVs), each imported once."""

    import_dir: Path | None = None  # relative paths are relative to the daemon's working directory
    import_interval: Duration = timedelta(seconds=2)


class Config(_Strict):
    daemon: DaemonConfig
    stock: StockConfig = Field(default_factory=StockConfig)
    locations: list[LocationConfig] = Field(default_factory=list)
    stores: list[StoreConfig] = Field(default_factory=list)
    source: str = ""

    @model_validator(mode="after")
    def _unique_names(self) -> Config:
        groups = (("stores", [s.name for s in self.stores]), ("locations", [loc.name for loc in self.locations]))
        for what, names in groups:
            seen: set[str] = set()
            for index, name in enumerate(names):
                if name in seen:
                    raise ConfigError(f"{what}[{index}].name", f"duplicate name {name!r}")
                seen.add(name)
        return self

    @model_validator(mode="after")
    def _credential_keys(self) -> Config:
        """Each credential is one the platform takes, and not empty; the key named is the one to fix."""
        for index, store in enumerate(self.stores):
            known = REQUIRED_CREDENTIALS[store.platform] + OPTIONAL_CREDENTIALS[store.platform]
            for name, value in store.credentials.items():
                key = f"stores[{index}].credentials.{name}"
                if name not in known:
                    expected = ", ".join(known)
                    raise ConfigError(key, f"unknown credential for {store.platform.value} (expected {expected})")
                if not value.strip():
                    raise ConfigError(key, "is empty")
        return self

    def store(self, name: str) -> StoreConfig:
        for store in self.stores:
            if store.name == name:
                return store
        raise ConfigError("--store", f"no store named {name!r} in {self.source or 'the configuration'}")


def _substitute(value: Any, path: str, env: Mapping[str, str]) -> Any:
    """Replace `${VAR}` in every string, naming the key when the variable is unset."""
    if isinstance(value, dict):
        return {k: _substitute(v, f"{path}.{k}" if path else k, env) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, f"{path}[{i}]", env) for i, v in enumerate(value)]
    if isinstance(value, str):

        def repl(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in env:
                raise ConfigError(path, f"environment variable {name} is not set")
            return env[name]

        return _ENV_REF.sub(repl, value)
    return value


def _key(loc: tuple[int | str, ...]) -> str:
    """Turn a pydantic error location into the TOML key a person would look for, e.g. `stores[1].platform`."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.startswith("function-") or part == "[key]":
            continue
        else:
            out += f".{part}" if out else part
    return out


def _message(error: Mapping[str, Any]) -> str:
    if error["type"] == "enum" and error["loc"] and error["loc"][-1] in {"platform", "[key]"}:
        expected = ", ".join(p.value for p in Platform)
        return f"unknown platform {error['input']!r} (expected one of {expected})"
    if error["type"] == "missing":
        return "is required"
    if error["type"] == "extra_forbidden":
        return "unknown key"
    message = str(error["msg"])
    return message.removeprefix("Value error, ")


def validate_config(data: Mapping[str, Any], *, env: Mapping[str, str] | None = None, source: str = "") -> Config:
    resolved = _substitute(dict(data), "", os.environ if env is None else env)
    try:
        return Config.model_validate({**resolved, "source": source})
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ConfigError(_key(first["loc"]), _message(first)) from None


def config_path(explicit: str | Path | None = None) -> Path:
    if explicit:
        return Path(explicit)
    return Path(os.environ.get("CONNECTOR_CONFIG") or DEFAULT_PATH)


def load_config(path: str | Path | None = None, *, env: Mapping[str, str] | None = None) -> Config:
    file = config_path(path)
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise ConfigError("", f"cannot read configuration {file}: {exc.strerror}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError("", f"{file} is not valid TOML: {exc}") from None
    return validate_config(data, env=env, source=str(file))
