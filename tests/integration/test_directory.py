"""The directory on a real store: seeding, the CSV import and export, grants, revocation reaching the
cache of another process's reader, invitations, and directory events in the audit chain."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from psycopg.sql import SQL

from adapters.directory import seed, tables
from adapters.directory.csv_file import COLUMNS, OPTIONAL, FileRefused
from adapters.directory.lookups import DirectoryReader
from adapters.directory.use_cases import (
    accept_invitation,
    export_csv,
    grant,
    grant_admin,
    import_csv,
    invite,
    revoke,
)
from adapters.services import open_services
from domain.access import ROLES, Denied, Principal
from domain.directory import DirectoryError, OrganisationKind
from domain.geography import Level

CSV = """organisation_kind,territory,organisation_name,person_name,position,email,phone
mairie,commune:35238,Mairie de Rennes,Nathalie Appéré,Maire,maire@rennes.example,+33 2 23 62 10 10
prefecture,departement:35,,Amélie Puccinelli,Directrice de cabinet,cabinet@ille.example,
sdis,departement:35,,Jean Codis,Chef de salle CODIS,codis@sdis35.example,02 99 00 00 00|06 00 00 00 00
epci,departement:35,Rennes Métropole,,,,
"""


def count(services, table: str, where: str = "TRUE") -> int:
    with services.store.connect() as conn:
        return conn.execute(SQL("SELECT count(*) AS n FROM {} WHERE " + where).format(
            services.store.table(table))).fetchone()["n"]


def test_seeding_covers_france_once_and_is_no_message(services) -> None:
    services.ensure_directory()
    assert len(services.directory.all_organisations()) == len(services.geography.communes) + 2 * len(
        services.geography.departements) + len(services.geography.zones) + 2
    assert count(services, tables.SEEDS) == 1 and count(services, tables.ORGANISATIONS) == 0  # read from memory
    assert services.directory.organisation("sdis.35").nexsis_id == "fr.fire.sdis35"
    seed._done.clear()
    assert seed.seed(services.store, services.geography) == 0  # idempotent
    assert count(services, "tocsin_events") == 1 and count(services, "tocsin_messages") == 0
    from adapters.nats.status import ingestion_status

    status = ingestion_status(services.settings, services.store)
    assert (status["messages"], status["events"]) == (0, 1)  # the seed is an event, not a NexSIS message


def test_import_is_idempotent_and_exports_what_it_reads(services) -> None:
    done = import_csv(services, CSV)
    assert done.rows == 4 and done.events == 7  # 3 people, 3 grants, 1 EPCI
    assert import_csv(services, CSV).events == 0
    grants = services.directory.active_for_email("Maire@Rennes.example")
    assert [(g.organisation_id, g.role, g.position) for g in grants] == [("mairie.35238", "mayor", "Maire")]
    assert services.directory.active(grants[0].id) == grants[0]
    exported = export_csv(services)
    assert "epci,departement:35,Rennes Métropole,,,,," in exported
    assert import_csv(services, exported).events == 0  # the export round-trips
    assert "02 99 00 00 00|06 00 00 00 00" in exported


def test_any_bad_row_refuses_the_whole_file(services) -> None:
    bad = CSV + "sdis,departement:35,,Marie,Maire,marie@x.example,\nmairie,commune:99999,,A,Maire,a@b.example,\n"
    with pytest.raises(FileRefused) as refused:
        import_csv(services, bad)
    assert [line for line, _ in refused.value.errors] == [6, 7]
    assert "n'existe pas" in refused.value.errors[0][1] and "territoire inconnu" in refused.value.errors[1][1]
    assert count(services, tables.PEOPLE) == 0 and count(services, "tocsin_events") <= 1  # the seed at most


def principal(role: str, level: Level, code: str) -> Principal:
    from adapters.geography import get_geography

    return Principal(f"{role}-user", ROLES[role], level, code, get_geography(), organisation_id=f"x.{code}")


def test_grants_follow_the_hierarchy_and_revocation_reaches_every_reader_at_once(services, settings) -> None:
    prefect = principal("prefecture", Level.DEPARTEMENT, "35")
    granted = grant(services, prefect, organisation_id="mairie.35238", email="adjoint@rennes.example",
                    name="Paul Adjoint", position="Adjoint au maire")
    assert granted.role == "mayor"
    with pytest.raises(Denied):
        grant(services, prefect, organisation_id="mairie.29019", email="x@y.example", name="X", position="Maire")
    with pytest.raises(Denied):
        grant(services, principal("mayor", Level.COMMUNE, "35238"), organisation_id="mairie.35238",
              email="x@y.example", name="X", position="Maire")
    # Another process's reader, its cache warm: the revocation empties it when it commits.
    other = DirectoryReader(services.store, services.geography)
    try:
        assert other.wait_listening()
        assert other.active(granted.grant_id) is not None
        assert other.active(granted.grant_id) is not None  # from the cache now
        assert revoke(services, prefect, granted.grant_id)
        deadline = time.monotonic() + 2
        while other.active(granted.grant_id) is not None and time.monotonic() < deadline:
            time.sleep(0.005)
        assert other.active(granted.grant_id) is None
    finally:
        other.close()
    assert not revoke(services, prefect, granted.grant_id)  # already revoked


def test_invitations_are_single_use_and_expire(services) -> None:
    admin = grant_admin(services, "admin@interieur.example", "Admin")
    assert admin.role == "admin" and admin.organisation.kind is OrganisationKind.COGIC
    invited = invite(services, None, organisation_id="prefecture.35", email="chef.sidpc@ille.example",
                     position="Chef du SIDPC")
    with pytest.raises(DirectoryError, match="invitation invalide"):
        accept_invitation(services, invited.token, email="someone.else@ille.example", name="Autre")
    done = accept_invitation(services, invited.token, email="Chef.SIDPC@ille.example", name="Chef SIDPC")
    assert done.role == "prefecture" and services.directory.active(done.grant_id) is not None
    with pytest.raises(DirectoryError, match="déjà utilisée"):
        accept_invitation(services, invited.token, email="chef.sidpc@ille.example", name="Chef SIDPC")
    expired = invite(services, None, organisation_id="prefecture.35", email="late@ille.example",
                     position="Préfet", hours=0.0001)
    time.sleep(0.5)
    with pytest.raises(DirectoryError, match="expirée"):
        accept_invitation(services, expired.token, email="late@ille.example", name="Late")
    with services.store.connect() as conn:  # only the token's hash is kept
        rows = conn.execute(SQL("SELECT token_sha256 FROM {}").format(services.store.table(tables.INVITATIONS)))
        assert all(bytes(r["token_sha256"]) != invited.token.encode() for r in rows)


def test_audit_verify_passes_with_directory_events(services, replay_cli) -> None:
    import_csv(services, CSV)
    result = replay_cli(["audit", "verify"])
    assert result.exit_code == 0, result.output


def test_a_second_opening_seeds_nothing(settings, tmp_path: Path) -> None:
    first = open_services(settings)
    assert count(first, "tocsin_events") == 0  # opened, not served: not seeded
    first.ensure_directory()
    first.close()
    seed._done.clear()
    again = open_services(settings)
    try:
        again.ensure_directory()
        assert count(again, "tocsin_events") == 1
    finally:
        again.close()


def test_the_directory_commands(settings, tmp_path: Path) -> None:
    from tests.integration.test_cli import tocsin

    good = tmp_path / "annuaire.csv"
    good.write_text(CSV, encoding="utf-8")
    first = tocsin(settings, "directory", "import", str(good))
    assert "4 ligne(s) importée(s), 7 événement(s)" in first.stdout
    again = tocsin(settings, "directory", "import", str(good))
    assert "rien n'a changé" in again.stdout
    exported = tocsin(settings, "directory", "export").stdout
    assert exported.splitlines()[0] == ",".join(COLUMNS + OPTIONAL)
    assert "mairie,commune:35238,Mairie de Rennes,Nathalie Appéré,Maire,maire@rennes.example" in exported
    bad = tmp_path / "mauvais.csv"
    bad.write_text(CSV + "sdis,departement:35,,X,Maire,x@sdis.example,\n"
                   "coz,zone:atlantide,,Y,Officier COZ,y@coz.example,\n", encoding="utf-8")
    refused = tocsin(settings, "directory", "import", str(bad), check=False)
    assert refused.returncode == 1
    assert "rien n'a été importé" in refused.stderr and "ligne 6 :" in refused.stderr and "ligne 7 :" in refused.stderr
    admin = tocsin(settings, "directory", "grant-admin", "Admin@Interieur.example")
    assert "admin@interieur.example est administrateur de l'annuaire" in admin.stdout
    assert "Administrateur de l'annuaire" in tocsin(settings, "directory", "export").stdout


def test_organisations_are_registered_and_updated_as_events(services) -> None:
    from adapters.directory.use_cases import register_organisation, register_person, update_organisation

    prefect = principal("prefecture", Level.DEPARTEMENT, "35")
    epci = register_organisation(services, prefect, kind="epci", territory="departement:35", name="Rennes Métropole")
    assert epci.id == "epci.35.rennes-metropole"
    assert register_organisation(services, prefect, kind="epci", territory="35", name="Rennes Métropole") == epci
    with pytest.raises(Denied):
        register_organisation(services, prefect, kind="partenaire", territory="departement:29", name="Croix-Rouge 29")
    updated = update_organisation(services, prefect, "sdis.35", siret="28350011500012")
    assert services.directory.organisation("sdis.35") == updated and updated.nexsis_id == "fr.fire.sdis35"
    assert [o.id for o in services.directory.organisations_in([(Level.DEPARTEMENT, "35")])].count("sdis.35") == 1
    person = register_person(services, prefect, name="Jeanne Dupont", email="jeanne@ille.example")
    assert register_person(services, None, name="Jeanne Dupont", email="JEANNE@ille.example") == person
    with pytest.raises(Denied):
        register_person(services, principal("mayor", Level.COMMUNE, "35238"), name="X", email="x@y.example")
    with services.store.connect() as conn:
        topics = [r["topic"] for r in conn.execute(SQL("SELECT topic FROM {} ORDER BY notification_id").format(
            services.store.table("tocsin_events")))]
    assert [t.rsplit(":", 1)[1] for t in topics] == [
        "DirectorySeed.Seeded", "Organisation.Registered", "Organisation.Updated", "Person.Registered"]
