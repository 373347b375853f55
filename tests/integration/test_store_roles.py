"""Running as a role without ownership of the tables (deploy/README.md's grants) works, and running as the
tables' owner or a superuser is warned about at start, not refused (issue #17)."""

from __future__ import annotations

import logging
import uuid
from dataclasses import replace

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.sql import SQL, Identifier

from adapters.ingest.ingestion import Incoming
from adapters.services import open_services
from adapters.store import access_log
from domain.logbook import LogBook
from tests.support.paths import ROOT
from tests.support.wire import as_json, example, wire

WARNING = "that role could drop the append-only triggers"


def readme_grants() -> list[str]:
    """deploy/README.md's GRANT statements, as written there (schema `tocsin`, role `tocsin_app`): the test
    runs what the operator is told to run, so the two cannot drift apart."""
    blocks = (ROOT / "deploy" / "README.md").read_text().split("```sql")[1:]
    sql = " ".join(line.split("--")[0] for block in blocks for line in block.split("```")[0].splitlines())
    statements = sql.split(";")
    grants = [" ".join(s.split()) for s in statements if s.strip().startswith("GRANT")]
    assert len(grants) >= 4, grants
    return grants


def for_test(grant: str, schema: str, app: str) -> str:
    return grant.replace("tocsin.", f"{schema}.").replace("SCHEMA tocsin ", f"SCHEMA {schema} ").replace(
        "TO tocsin_app", f"TO {app}")


@pytest.fixture
def roles(database_url, settings):
    suffix = uuid.uuid4().hex[:8]
    owner, app = f"tocsin_owner_{suffix}", f"tocsin_app_{suffix}"
    with psycopg.connect(database_url, autocommit=True) as conn:
        for role in (owner, app):
            conn.execute(SQL("CREATE ROLE {} LOGIN").format(Identifier(role)))
        conn.execute(SQL("CREATE SCHEMA {} AUTHORIZATION {}").format(Identifier(settings.schema), Identifier(owner)))
    as_role = {role: replace(settings, database_url=make_conninfo(database_url, user=role)) for role in (owner, app)}
    yield owner, app, as_role
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(Identifier(settings.schema)))
        for role in (owner, app):
            conn.execute(SQL("DROP OWNED BY {}").format(Identifier(role)))
            conn.execute(SQL("DROP ROLE {}").format(Identifier(role)))


def opening_warns(settings, caplog) -> bool:
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="adapters.store.event_store"):
        open_services(settings).close()
    return any(WARNING in r.getMessage() for r in caplog.records)


def test_a_superuser_is_warned(settings, database_url, caplog):
    user = conninfo_to_dict(database_url).get("user") or "postgres"
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = %s", (user,)).fetchone()
    assert row is not None
    superuser = row[0]
    assert opening_warns(settings, caplog) is bool(superuser)


def test_the_owner_is_warned_and_a_role_with_grants_only_runs_unwarned(roles, settings, database_url, caplog):
    owner, app, as_role = roles
    assert opening_warns(as_role[owner], caplog)  # the first start, as the owner, creates the tables
    with psycopg.connect(database_url, autocommit=True) as conn:
        for grant in readme_grants():
            conn.execute(for_test(grant, settings.schema, app).encode())
    assert not opening_warns(as_role[app], caplog)

    services = open_services(as_role[app])
    try:
        _, use_case = example("RC-EDA/RC-EDA_Incendie_RaymondeLECCIA.01")
        assert services.ingestor.ingest(Incoming(as_json(wire("createCase", use_case)))).status == "accepted"
        access_log.record(services.store, access_log.AccessRecord(
            subject="s", role="national", territory="national:FR", case_id=use_case["caseId"], personal=False,
            commune=None, departement=None, zone=None, via="test"))
        book = LogBook("organisation:prefecture.35")  # a snapshot written and read under the grants
        services.store.save(book)
        services.store.take_snapshot(book.id)
        assert services.store.snapshots is not None and len(list(services.store.snapshots.get(book.id))) == 1
        assert services.store.snapshotted.get(book.id).version == 1
        with services.store.connect() as conn:
            for statement in (f"DROP TRIGGER tocsin_events_append_only ON {settings.schema}.tocsin_events",
                              f"ALTER TABLE {settings.schema}.tocsin_events DISABLE TRIGGER ALL",
                              f"DROP TABLE {settings.schema}.tocsin_access_log"):
                with pytest.raises(psycopg.errors.InsufficientPrivilege), conn.transaction():
                    conn.execute(statement)
    finally:
        services.close()
