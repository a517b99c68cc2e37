"""Shared fixtures: fresh databases on SQLite and, when one is configured, PostgreSQL.

SQLite always runs, in a file under pytest's `tmp_path`. PostgreSQL runs when `CONNECTOR_TEST_DATABASE_URL` names
a server (e.g. `postgresql+psycopg://postgres@127.0.0.1:5432/test`) and is skipped otherwise. Each PostgreSQL test
gets a schema of its own (`connector_test_<random>`, put first on the `search_path`) that is dropped afterwards,
so reruns and concurrent runs never see each other's tables.

    sqlite_url / postgres_url / database_url   a fresh, empty database (database_url: both backends)
    engine                                     SQLite migrated to head: the default for most tests
    postgres_engine                            PostgreSQL migrated to head
    db_engine                                  migrated to head, once per backend
    session                                    a Session on `engine`, closed afterwards

Hypothesis runs under the `connector` profile unless `HYPOTHESIS_PROFILE` names another: no per-example deadline
and no `too_slow` health check, the two checks that measure wall-clock time and so fail on a loaded machine
(example counts stay Hypothesis's defaults or what each test sets).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from sqlalchemy import Engine, create_engine, make_url, text
from sqlalchemy.orm import Session

from connector.storage.db import make_engine, session_factory, upgrade

POSTGRES_ENV = "CONNECTOR_TEST_DATABASE_URL"

settings.register_profile("connector", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "connector"))


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'connector.db'}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    base_url = os.environ.get(POSTGRES_ENV)
    if not base_url:
        pytest.skip(f"{POSTGRES_ENV} is not set: no PostgreSQL server to test against")
    schema = f"connector_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base_url)
    try:
        _execute(admin, f'CREATE SCHEMA "{schema}"')
        url = make_url(base_url).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
        _execute(admin, f'DROP SCHEMA "{schema}" CASCADE')
    finally:
        admin.dispose()


def _execute(engine: Engine, statement: str) -> None:
    with engine.begin() as connection:
        connection.execute(text(statement))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    fixture = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    url: str = request.getfixturevalue(fixture)
    return url


def _migrated(url: str) -> Iterator[Engine]:
    engine = make_engine(url)
    try:
        upgrade(engine)
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def engine(sqlite_url: str) -> Iterator[Engine]:
    yield from _migrated(sqlite_url)


@pytest.fixture
def postgres_engine(postgres_url: str) -> Iterator[Engine]:
    yield from _migrated(postgres_url)


@pytest.fixture
def db_engine(database_url: str) -> Iterator[Engine]:
    yield from _migrated(database_url)


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with session_factory(engine)() as session:
        yield session
