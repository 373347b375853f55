"""Test set-up: a real PostgreSQL (the local one, else the embedded one), one schema per test."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg.sql import SQL, Identifier

from adapters.settings import Settings

# Fixtures shared by several test packages (NATS server, settings with a stream), found by name.
pytest_plugins = ["tests.support.nats_harness", "tests.support.oidc_harness"]

LOCAL_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/test"


def _reachable(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """TOCSIN_TEST_DATABASE_URL, else the machine's PostgreSQL, else an embedded one started here."""
    url = os.environ.get("TOCSIN_TEST_DATABASE_URL") or LOCAL_DATABASE_URL
    if _reachable(url):
        return url
    from adapters.embedded import embedded_database_url

    return embedded_database_url(tmp_path_factory.mktemp("embedded-pg"))


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Iterator[Settings]:
    schema = "t_" + uuid.uuid4().hex[:12]
    # The tests' push services: the local one that decrypts like a browser (tests/support/push_service.py)
    # and the example host some tests name.
    yield Settings(database_url=database_url, data_dir=tmp_path, schema=schema,
                   push_services=("127.0.0.1", "localhost", "push.example.net"))
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(Identifier(schema)))


@pytest.fixture
def services(settings: Settings):
    from adapters.services import open_services

    services = open_services(settings)
    yield services
    services.close()


@pytest.fixture
def replay_cli(services, monkeypatch):
    """`tocsin replay …` and `tocsin audit …` (api/cli_replay.py) run on this test's services:
    `replay_cli(["replay", "view", …])` -> the CliRunner's result."""
    import typer
    from typer.testing import CliRunner

    from api.cli.replay import register

    monkeypatch.setattr("api.cli.replay.open_services_from_env", lambda: services)
    app = typer.Typer()
    register(app)
    runner = CliRunner()
    return lambda args: runner.invoke(app, args)
