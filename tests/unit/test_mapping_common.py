"""What the platform mappers share: exact money, quantities, timestamps, the context, the error boundary and the
registry of mappers."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connector.mapping import MAPPERS, bigcommerce, lightspeed, map_order, shopify, woocommerce
from connector.mapping.context import MappingContext, ReservationRule, failures_are_skippable
from connector.mapping.money import (
    PayloadError,
    flag_totals,
    minor_units,
    parse_currency,
    parse_decimal,
    parse_gmt,
    parse_iso,
    parse_money,
    parse_quantity,
    parse_rfc2822,
    scaled,
    unwrapped,
)
from connector.orders.model import Money, Order, OrderKind, PaymentStatus, Platform
from connector.runtime.errors import SkippableError


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("199.00", Decimal("199.00")),
        ("54.0000", Decimal("54.0000")),
        (" 12.5 ", Decimal("12.5")),
        ("-10.00", Decimal("-10.00")),
        (3, Decimal(3)),
        (3.49, Decimal("3.49")),
        (9.198, Decimal("9.198")),
        (Decimal("1.10"), Decimal("1.10")),
    ],
)
def test_decimals_are_exact(value: object, expected: Decimal) -> None:
    parsed = parse_decimal(value, "amount")
    assert parsed == expected
    assert str(parsed) == str(expected)


def test_json_floats_keep_the_digits_the_json_carried() -> None:
    body = json.loads('{"a": 0.3, "b": 0.1, "c": 0.2, "d": 3.49, "e": 1e-7, "f": 29.35}')
    assert parse_decimal(body["a"], "a") == Decimal("0.3")  # not 0.299999999999999988897769753748...
    assert parse_decimal(body["b"], "b") + parse_decimal(body["c"], "c") == Decimal("0.3")
    assert parse_decimal(body["d"], "d") == Decimal("3.49")
    assert parse_decimal(body["e"], "e") == Decimal("1E-7")
    assert parse_decimal(body["f"], "f") == Decimal("29.35")


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("12,00", "total '12,00' is not a decimal"),
        ("", "total '' is not a decimal"),
        ("1_000", "total '1_000' is not a decimal"),
        ("1e3", "total '1e3' is not a decimal"),
        ("NaN", "total 'NaN' is not a decimal"),
        (float("inf"), "total inf is not a finite number"),
        (None, "total None is not a number"),
        (True, "total True is not a number"),
        ([1], "total [1] is not a number"),
    ],
)
def test_what_is_not_a_decimal_is_refused_with_the_value(value: object, reason: str) -> None:
    with pytest.raises(PayloadError) as caught:
        parse_decimal(value, "total")
    assert str(caught.value) == reason


@pytest.mark.parametrize(
    ("value", "currency", "expected"),
    [
        ("54.0000", "USD", "54.00"),  # BigCommerce's 4 decimals, written as the currency is
        ("62.6793", "USD", "62.6793"),  # more significant digits than the currency: kept, never rounded
        (3, "EUR", "3.00"),
        (3.0, "EUR", "3.00"),
        ("1500", "JPY", "1500"),
        ("1500.00", "JPY", "1500"),  # zero-decimal currency
        ("1500.50", "JPY", "1500.50"),  # not a whole yen: kept as the platform wrote it
        ("1.5", "KWD", "1.500"),  # three-decimal currency
        ("-0.00", "EUR", "0.00"),
    ],
)
def test_amounts_are_written_with_the_currency_decimals_when_lossless(
    value: object, currency: str, expected: str
) -> None:
    assert format(parse_money(value, currency, "amount").amount, "f") == expected


def test_minor_units_follow_iso_4217() -> None:
    assert (minor_units("EUR"), minor_units("JPY"), minor_units("KRW"), minor_units("BHD")) == (2, 0, 0, 3)


@given(st.decimals(allow_nan=False, allow_infinity=False, places=4, min_value=-(10**9), max_value=10**9))
def test_scaling_never_changes_the_value(amount: Decimal) -> None:
    for currency in ("EUR", "JPY", "KWD"):
        assert scaled(amount, currency) == amount


@given(st.decimals(allow_nan=False, allow_infinity=False, places=2, min_value=-(10**7), max_value=10**7))
def test_a_two_decimal_amount_survives_the_float_round_trip(amount: Decimal) -> None:
    as_json = json.loads(json.dumps({"price": float(amount)}))
    assert parse_decimal(as_json["price"], "price") == amount


@pytest.mark.parametrize(("value", "expected"), [(2, 2), (2.0, 2), ("3", 3), (0, 0)])
def test_quantities(value: object, expected: int) -> None:
    assert parse_quantity(value, "quantity") == expected


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (-2, "line 2 quantity -2 is negative"),
        (1.5, "line 2 quantity 1.5 is not a whole number"),
        (None, "line 2 quantity None is not a whole number"),
        ("two", "line 2 quantity 'two' is not a decimal"),
    ],
)
def test_bad_quantities(value: object, reason: str) -> None:
    with pytest.raises(PayloadError, match=reason):
        parse_quantity(value, "line 2 quantity")


def test_currency_codes() -> None:
    assert parse_currency("usd") == "USD"
    with pytest.raises(PayloadError, match="is not an ISO 4217 code"):
        parse_currency("US$")


def test_iso_timestamps_with_offset_come_back_in_utc() -> None:
    moment = parse_iso("2008-01-10T11:00:00-05:00", "created_at")
    assert moment == datetime(2008, 1, 10, 16, 0, tzinfo=UTC)
    assert moment.utcoffset() is not None
    assert moment.tzinfo is UTC
    assert parse_iso("2026-06-03T00:56:12+02:00", "createdAt") == datetime(2026, 6, 2, 22, 56, 12, tzinfo=UTC)
    assert parse_iso("2024-01-01T00:00:00Z", "t") == datetime(2024, 1, 1, tzinfo=UTC)


def test_an_iso_timestamp_without_offset_is_refused_where_one_is_expected() -> None:
    with pytest.raises(PayloadError, match="has no UTC offset"):
        parse_iso("2017-03-22T16:28:02", "created_at")
    with pytest.raises(PayloadError, match="is not an ISO-8601 date"):
        parse_iso("yesterday", "created_at")


def test_woocommerce_gmt_fields_are_read_as_utc() -> None:
    assert parse_gmt("2017-03-22T19:28:02", "date_created_gmt") == datetime(2017, 3, 22, 19, 28, 2, tzinfo=UTC)


def test_rfc2822_timestamps() -> None:
    expected = datetime(2018, 12, 5, 20, 16, 55, tzinfo=UTC)
    assert parse_rfc2822("Wed, 05 Dec 2018 20:16:55 +0000", "date_modified") == expected
    assert parse_rfc2822("Wed, 05 Dec 2018 15:16:55 -0500", "date_modified") == expected
    assert parse_rfc2822("Wed, 05 Dec 2018 20:16:55 -0000", "date_modified") == expected  # "zone unknown": UTC
    assert parse_rfc2822("2018-12-05T20:16:55+00:00", "date_modified") == expected  # BigCommerce also takes ISO
    with pytest.raises(PayloadError):
        parse_rfc2822("not a date", "date_modified")


def test_unwrapping_keeps_what_the_client_attached_beside_the_wrapper() -> None:
    assert unwrapped({"order": {"id": 1}}, "order") == {"id": 1}
    assert unwrapped({"order": {"id": 1}, "products": []}, "order") == {"id": 1, "products": []}
    assert unwrapped({"id": 1}, "order") == {"id": 1}
    with pytest.raises(PayloadError, match="payload is not a JSON object"):
        unwrapped([1], "order")


def test_reservation_rule() -> None:
    rule = ReservationRule(tags=frozenset({"Reserve"}), statuses=frozenset({"reserved", "12"}))
    assert rule.matches(tags=["vip", "reserve"])  # tags compare case-insensitively
    assert rule.matches(statuses=["12"])
    assert not rule.matches(tags=["vip"], statuses=["processing"])
    assert not ReservationRule().matches(tags=["reserve"], statuses=["reserved"])


def test_location_lookup_falls_back_to_the_platform_key() -> None:
    ctx = MappingContext(store="s", locations={"55896015011": "amsterdam"})
    assert ctx.location_for("55896015011") == "amsterdam"
    assert ctx.location_for("", "Utrecht shop") == "Utrecht shop"
    assert ctx.location_for("1", "Location 1") == "1"
    assert ctx.location_for("", "") == ""


def test_the_error_boundary_names_the_store_platform_and_order() -> None:
    ctx = MappingContext(store="acme")
    with pytest.raises(SkippableError) as caught, failures_are_skippable(ctx, Platform.BIGCOMMERCE, "218"):
        parse_decimal("12,00", "total")
    error = caught.value
    assert (str(error), error.store, error.platform, error.external_id) == (
        "total '12,00' is not a decimal",
        "acme",
        "bigcommerce",
        "218",
    )


def test_the_error_boundary_reports_an_unexpected_shape() -> None:
    with (
        pytest.raises(SkippableError, match="unexpected payload shape: AttributeError"),
        failures_are_skippable(MappingContext(store="s"), Platform.SHOPIFY, "1"),
    ):
        "a string, not an object".get("id")  # type: ignore[attr-defined]


def _order(subtotal: str, shipping: str, tax: str, discount: str, total: str) -> Order:
    def eur(value: str) -> Money:
        return Money(Decimal(value), "EUR")

    moment = datetime(2024, 1, 1, tzinfo=UTC)
    return Order(
        store="s",
        platform=Platform.SHOPIFY,
        external_id="1",
        number="#1",
        kind=OrderKind.DELIVERY,
        payment_status=PaymentStatus.PAID,
        platform_status="paid",
        currency="EUR",
        subtotal=eur(subtotal),
        shipping_total=eur(shipping),
        tax_total=eur(tax),
        discount_total=eur(discount),
        total=eur(total),
        created_at=moment,
        updated_at=moment,
    )


def test_totals_that_add_up_are_not_flagged() -> None:
    assert flag_totals(_order("100.00", "5.00", "21.00", "10.00", "116.00")).totals_difference is None


def test_totals_that_do_not_add_up_are_flagged_never_fixed() -> None:
    flagged = flag_totals(_order("100.00", "5.00", "21.00", "10.00", "116.01"))
    assert flagged.totals_difference == Money(Decimal("0.01"), "EUR")
    assert flagged.total == Money(Decimal("116.01"), "EUR")  # the platform's total stays the truth


def test_every_platform_has_its_mapper() -> None:
    assert {
        Platform.SHOPIFY: shopify.map_order,
        Platform.WOOCOMMERCE: woocommerce.map_order,
        Platform.BIGCOMMERCE: bigcommerce.map_order,
        Platform.LIGHTSPEED: lightspeed.map_order,
    } == MAPPERS


@pytest.mark.parametrize("platform", list(Platform))
def test_a_payload_that_is_not_an_object_is_skippable_on_every_platform(platform: Platform) -> None:
    with pytest.raises(SkippableError, match="payload is not a JSON object") as caught:
        map_order(platform, ["not", "an", "order"], MappingContext(store="s"))  # type: ignore[arg-type]
    assert (caught.value.platform, caught.value.external_id) == (platform.value, "")
