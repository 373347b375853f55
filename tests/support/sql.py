"""Small helpers for the SQL that tests and benchmarks run directly."""

from __future__ import annotations

from typing import TypeVar

import psycopg

from adapters.settings import Settings

Row = TypeVar("Row")


def first_row(cursor: psycopg.Cursor[Row]) -> Row:
    """The row of a query that always returns one (count, max, …): no row is a failure, not a None."""
    row = cursor.fetchone()
    assert row is not None, "the query returned no row"
    return row


def database_url_of(settings: Settings) -> str:
    """The database of settings made by a test or a benchmark, which always name one."""
    assert settings.database_url is not None, "these settings name no database"
    return settings.database_url
