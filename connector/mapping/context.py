"""What a mapper knows about the store besides the payload, and how a mapping failure is reported.

The context comes from the store's configuration: the store's name, how the store marks a reservation, the
currency to assume where a platform leaves it out (Lightspeed eCom), and which of our locations each platform
location id stands for (to pin a pickup order to the shop the customer will come to).

How each platform marks a reservation (`ReservationRule`):

    Shopify       order tags (case-insensitive)
    WooCommerce   order status slug (e.g. a custom `reserved` status)
    BigCommerce   status_id, written as a string ("12")
    Lightspeed    order status, or the custom status id (`customStatusId`) written as a string

`failures_are_skippable` is the one place where a payload that cannot be mapped becomes a `SkippableError`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

from connector.orders.model import Platform
from connector.runtime.errors import SkippableError


@dataclass(frozen=True, slots=True)
class ReservationRule:
    """How a store marks a reservation; empty means the store takes no reservations."""

    tags: frozenset[str] = frozenset()
    statuses: frozenset[str] = frozenset()

    def matches(self, *, tags: Iterable[str] = (), statuses: Iterable[str] = ()) -> bool:
        """True when any tag (case-insensitive) or any status value is one the store reserves with."""
        if self.tags:
            wanted = {tag.casefold() for tag in self.tags}
            if any(tag.casefold() in wanted for tag in tags):
                return True
        return any(status in self.statuses for status in statuses)


@dataclass(frozen=True, slots=True)
class MappingContext:
    store: str
    reservation: ReservationRule = ReservationRule()
    currency: str = "EUR"  # used only where the payload has no currency (Lightspeed)
    locations: Mapping[str, str] = field(default_factory=dict)  # platform location id -> our location name

    def location_for(self, *keys: str) -> str:
        """Our location for the first key the configuration knows, else the first key the platform gave."""
        for key in keys:
            if key and key in self.locations:
                return self.locations[key]
        return next((key for key in keys if key), "")


@contextmanager
def failures_are_skippable(ctx: MappingContext, platform: Platform, external_id: str) -> Iterator[None]:
    """Turn a payload that cannot be mapped into a `SkippableError` that names the store, platform and order.

    Mapping is pure: an error raised inside it can only come from the payload's content or shape, so it is
    reported as this one order's problem (dead-lettered with the reason), never as the store's.
    """
    try:
        yield
    except ValueError as exc:  # PayloadError, and the model's own checks (negative quantity, bad currency)
        raise SkippableError(str(exc), store=ctx.store, platform=platform.value, external_id=external_id) from exc
    except (TypeError, KeyError, AttributeError, ArithmeticError) as exc:
        reason = f"unexpected payload shape: {type(exc).__name__}: {exc}"
        raise SkippableError(reason, store=ctx.store, platform=platform.value, external_id=external_id) from exc
