"""DecimalText keeps money exact and UTCDateTime keeps instants in aware UTC, through a real database."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Column, Engine, Integer, MetaData, Table, insert, select
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import StatementError

from connector.storage.db import make_engine
from connector.storage.types import DecimalText, UTCDateTime

_DIALECT = sqlite.dialect()
_metadata = MetaData()
_values = Table(
    "storage_type_values",
    _metadata,
    Column("id", Integer, primary_key=True),
    Column("amount", DecimalText),
    Column("at", UTCDateTime),
)

# Fixtures below are created once per test and shared by all of Hypothesis' examples, which is what we want.
_shared_fixture = settings(
    suppress_health_check=[*settings().suppress_health_check, HealthCheck.function_scoped_fixture]
)

amounts = st.integers(min_value=0, max_value=10).flatmap(
    lambda places: st.decimals(
        min_value=-(10**12), max_value=10**12, places=places, allow_nan=False, allow_infinity=False
    )
)
offsets = st.timedeltas(min_value=-timedelta(hours=23, minutes=59), max_value=timedelta(hours=23, minutes=59))
aware_datetimes = st.datetimes(
    min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.builds(timezone, offsets)
)


@pytest.fixture
def values_engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    _metadata.create_all(engine)
    try:
        yield engine
    finally:
        _metadata.drop_all(engine)
        engine.dispose()


def _round_trip(engine: Engine, **row: object) -> tuple[Decimal | None, datetime | None]:
    with engine.begin() as connection:
        row_id = connection.execute(insert(_values).values(**row).returning(_values.c.id)).scalar_one()
        loaded = connection.execute(select(_values.c.amount, _values.c.at).where(_values.c.id == row_id)).one()
    return loaded.amount, loaded.at


@_shared_fixture
@given(amount=amounts)
def test_decimal_text_round_trips_exactly(values_engine: Engine, amount: Decimal) -> None:
    loaded, _ = _round_trip(values_engine, amount=amount)
    assert loaded == amount
    assert str(loaded) == str(amount)  # same digits and exponent: "12.50" stays "12.50"


@pytest.mark.parametrize("text", ["12.50", "-0.00", "0.000000001", "123456789012345678901234567890.123456789"])
def test_decimal_text_keeps_representative_amounts(values_engine: Engine, text: str) -> None:
    loaded, _ = _round_trip(values_engine, amount=Decimal(text))
    assert loaded is not None
    assert format(loaded, "f") == text


def test_decimal_text_stores_plain_notation() -> None:
    assert DecimalText().process_bind_param(Decimal("1.25E+3"), _DIALECT) == "1250"
    assert DecimalText().process_bind_param(Decimal("1E-7"), _DIALECT) == "0.0000001"


@pytest.mark.parametrize("value", [Decimal("NaN"), Decimal("Infinity"), Decimal("-Infinity")])
def test_decimal_text_refuses_non_finite(value: Decimal) -> None:
    with pytest.raises(ValueError, match="finite"):
        DecimalText().process_bind_param(value, _DIALECT)


@pytest.mark.parametrize("value", [0.1, True, "12.50"])
def test_decimal_text_refuses_inexact_or_ambiguous_input(value: object) -> None:
    with pytest.raises(TypeError, match="takes a Decimal"):
        DecimalText().process_bind_param(value, _DIALECT)  # type: ignore[arg-type]


def test_decimal_text_takes_integers() -> None:
    assert DecimalText().process_bind_param(12, _DIALECT) == "12"


@_shared_fixture
@given(moment=aware_datetimes)
def test_utc_datetime_returns_the_same_instant_in_utc(values_engine: Engine, moment: datetime) -> None:
    _, loaded = _round_trip(values_engine, at=moment)
    assert loaded == moment
    assert loaded is not None
    assert loaded.tzinfo is UTC


def test_utc_datetime_refuses_naive_values() -> None:
    with pytest.raises(ValueError, match="naive datetime"):
        UTCDateTime().process_bind_param(datetime(2024, 5, 1, 12, 0), _DIALECT)


def test_utc_datetime_refuses_naive_values_on_insert(values_engine: Engine) -> None:
    with pytest.raises(StatementError) as raised:
        _round_trip(values_engine, at=datetime(2024, 5, 1, 12, 0))
    assert isinstance(raised.value.orig, ValueError)


def test_nulls_stay_null(values_engine: Engine) -> None:
    assert _round_trip(values_engine, amount=None, at=None) == (None, None)
