"""The directory's read side: `domain.directory.Habilitations` for login and for every request, and the
lookups the use cases and the API need, on the read tables (adapters.directory.tables).

`active(grant_id)` is asked on every request made under a habilitation, so its answers are cached in the
process. A revocation must still take effect at once, in every process: each directory write notifies the
store's channel in its transaction (delivered at commit), and a thread of each process (started by its
first check) LISTENs to it and empties the cache. While that listener is not connected (starting, or its
connection lost), the cache is not used at all: every call reads the tables, so a missed notification can
never keep a revoked habilitation alive. A read that raced a notification is not cached (the generation check).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import psycopg
from psycopg.sql import SQL

from adapters.directory import tables
from adapters.directory.seed import Reference, reference
from adapters.geography import Geography
from adapters.store.event_store import TocsinStore
from domain.directory import Grant, Organisation, OrganisationKind, normalise_email
from domain.geography import Level
from domain.on_duty import DutyPeriod

log = logging.getLogger(__name__)

CACHE_LIMIT = 200_000  # entries; beyond, the cache starts afresh (a bound on memory, never on correctness)


@dataclass(frozen=True)
class Member:
    """A person as the directory lists them in an organisation: the habilitation and the contact."""

    person_id: str
    name: str
    email: str
    phones: tuple[str, ...]
    grant_id: str
    organisation_id: str
    role: str
    position: str | None
    until: datetime | None
    granted_by: str | None


def seal_contact(store: TocsinStore, name: str, email: str, phones: Sequence[str]) -> bytes:
    return store.seal(orjson.dumps({"name": name, "email": email, "phones": list(phones)}))


def unseal_contact(store: TocsinStore, sealed: bytes) -> dict:
    return orjson.loads(store.unseal(bytes(sealed)))


_GRANT_COLUMNS = (
    "h.id, h.person_id, p.contact, h.organisation_id, o.id AS registered, o.name AS organisation_name, o.kind,"
    " h.role, o.level, o.code, h.until, h.position"
)


def organisation_of(row: Any) -> Organisation:
    return Organisation(row["id"], OrganisationKind(row["kind"]), row["name"], Level(row["level"]), row["code"],
                        row["siret"], row["nexsis_id"])


class DirectoryReader:
    """`domain.directory.Habilitations` and the directory's lookups, on one store."""

    def __init__(self, store: TocsinStore, geography: Geography, *, listen: bool = True) -> None:
        self.store = store
        self.geography = geography
        self._cache: dict[str, Grant | None] = {}
        self._generation = 0
        self._listening = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._wants_listener = listen
        self._start_lock = threading.Lock()

    def _start_listener(self) -> None:
        """Listen from the first `active()` on: processes that never check a habilitation (the CLI, most
        tests) hold no extra connection."""
        with self._start_lock:
            if self._thread is None and self._wants_listener and not self._stop.is_set():
                self._thread = threading.Thread(target=self._listen, name="tocsin-directory-listener", daemon=True)
                self._thread.start()

    # ---- Habilitations -------------------------------------------------------------------------------

    def active(self, grant_id: str) -> Grant | None:
        if self._thread is None:
            self._start_listener()
        if self._listening:
            try:
                grant = self._cache[grant_id]
            except KeyError:
                generation = self._generation
                grant = self._read_grant(grant_id)
                if generation == self._generation and self._listening:
                    if len(self._cache) >= CACHE_LIMIT:
                        self._cache = {}
                    self._cache[grant_id] = grant
        else:
            grant = self._read_grant(grant_id)
        if grant is not None and grant.until is not None and grant.until <= time.time():
            return None  # expired since it was read
        return grant

    def active_for_email(self, email: str) -> list[Grant]:
        key = tables.email_key(self.store, normalise_email(email))
        with self.store.connect() as conn:
            rows = conn.execute(self._grants_sql("p.email_key = %s"), (key,)).fetchall()
        now = time.time()
        grants = (self._grant(r) for r in rows)
        return [g for g in grants if g is not None and (g.until is None or g.until > now)]

    def _read_grant(self, grant_id: str) -> Grant | None:
        with self.store.connect() as conn:
            row = conn.execute(self._grants_sql("h.id = %s"), (grant_id,)).fetchone()
        return self._grant(row) if row is not None else None

    @property
    def reference(self) -> Reference:
        """The seeded organisations (from the reference geography, in memory)."""
        return reference(self.geography)

    def _grants_sql(self, where: str) -> Any:
        return SQL("SELECT " + _GRANT_COLUMNS + " FROM {h} h JOIN {p} p ON p.id = h.person_id"
                   " LEFT JOIN {o} o ON o.id = h.organisation_id WHERE h.revoked_at IS NULL AND " + where
                   + " ORDER BY h.organisation_id").format(
            h=self.store.table(tables.HABILITATIONS), p=self.store.table(tables.PEOPLE),
            o=self.store.table(tables.ORGANISATIONS))

    def _grant(self, row: Any) -> Grant | None:
        if row["registered"] is not None:
            org = Organisation(row["registered"], OrganisationKind(row["kind"]), row["organisation_name"],
                               Level(row["level"]), row["code"])
        else:
            seeded = self.reference.by_id.get(row["organisation_id"])
            if seeded is None:
                return None  # an organisation the reference no longer has (a commune merged since)
            org = seeded
        contact = unseal_contact(self.store, row["contact"])
        return Grant(
            id=row["id"], person_id=row["person_id"], person_name=contact["name"], email=contact["email"],
            organisation_id=org.id, organisation_name=org.name, organisation_kind=org.kind, role=row["role"],
            level=org.level, code=org.code, until=row["until"].timestamp() if row["until"] else None,
            position=row["position"],
        )

    # ---- lookups ---------------------------------------------------------------------------------------

    def organisation(self, organisation_id: str) -> Organisation | None:
        """A registered organisation (or a seeded one updated since), else a seeded one, else None."""
        with self.store.connect() as conn:
            row = conn.execute(SQL("SELECT * FROM {} WHERE id = %s").format(self.store.table(tables.ORGANISATIONS)),
                               (organisation_id,)).fetchone()
        return organisation_of(row) if row else self.reference.by_id.get(organisation_id)

    def organisations_in(self, territories: Sequence[tuple[Level, str]]) -> list[Organisation]:
        """The organisations whose territory is exactly one of these, the higher levels first, then by name."""
        if not territories:
            return []
        with self.store.connect() as conn:
            rows = conn.execute(
                SQL("SELECT o.* FROM unnest(%s::text[], %s::text[]) AS t(level, code) JOIN {} o"
                    " ON o.level = t.level AND o.code = t.code").format(self.store.table(tables.ORGANISATIONS)),
                ([lv.value for lv, _ in territories], [c for _, c in territories]),
            ).fetchall()
        found = {o.id: o for t in territories for o in self.reference.by_territory.get(t, ())}
        found.update((r["id"], organisation_of(r)) for r in rows)
        order = {lv: i for i, lv in enumerate(Level)}
        return sorted(found.values(), key=lambda o: (-order[o.level], o.name, o.id))

    def all_organisations(self) -> list[Organisation]:
        with self.store.connect() as conn:
            rows = conn.execute(SQL("SELECT * FROM {}").format(self.store.table(tables.ORGANISATIONS))).fetchall()
        found = dict(self.reference.by_id)
        found.update((r["id"], organisation_of(r)) for r in rows)
        return sorted(found.values(), key=lambda o: o.id)

    def person_id_by_email(self, email: str) -> str | None:
        with self.store.connect() as conn:
            row = conn.execute(SQL("SELECT id FROM {} WHERE email_key = %s").format(self.store.table(tables.PEOPLE)),
                               (tables.email_key(self.store, normalise_email(email)),)).fetchone()
        return row["id"] if row else None

    def members(self, organisation_ids: Sequence[str] | None = None, *, active_only: bool = True,
                person_id: str | None = None) -> list[Member]:
        """The people habilitated in these organisations (None: all of them), or the habilitations of one
        person, by organisation then name."""
        where = ["TRUE"]
        args: list[Any] = []
        if organisation_ids is not None:
            where.append("h.organisation_id = ANY(%s)")
            args.append(list(organisation_ids))
        if person_id is not None:
            where.append("h.person_id = %s")
            args.append(person_id)
        if active_only:
            where.append("h.revoked_at IS NULL AND (h.until IS NULL OR h.until > now())")
        with self.store.connect() as conn:
            rows = conn.execute(
                SQL("SELECT h.id, h.person_id, h.organisation_id, h.role, h.position, h.until, h.granted_by, p.contact"
                    " FROM {h} h JOIN {p} p ON p.id = h.person_id WHERE " + " AND ".join(where)).format(
                    h=self.store.table(tables.HABILITATIONS), p=self.store.table(tables.PEOPLE)),
                args,
            ).fetchall()
        out = []
        for r in rows:
            c = unseal_contact(self.store, r["contact"])
            out.append(Member(r["person_id"], c["name"], c["email"], tuple(c["phones"]), r["id"], r["organisation_id"],
                              r["role"], r["position"], r["until"], r["granted_by"]))
        return sorted(out, key=lambda m: (m.organisation_id, m.name.lower(), m.grant_id))

    def habilitation(self, grant_id: str) -> dict | None:
        """A habilitation's row, revoked or not (for revoking it: who may is decided on its organisation)."""
        with self.store.connect() as conn:
            row = conn.execute(SQL("SELECT * FROM {} WHERE id = %s").format(self.store.table(tables.HABILITATIONS)),
                               (grant_id,)).fetchone()
        return dict(row) if row else None

    def invitation(self, token_sha256: bytes) -> dict | None:
        with self.store.connect() as conn:
            row = conn.execute(SQL("SELECT * FROM {} WHERE token_sha256 = %s").format(
                self.store.table(tables.INVITATIONS)), (token_sha256,)).fetchone()
        return dict(row) if row else None

    def duties(self, organisation_id: str, *, ending_after: datetime | None = None,
               starting_before: datetime | None = None) -> list[DutyPeriod]:
        """The organisation's on-duty periods (those that end after and start before the given moments)."""
        where: list[str] = ["organisation_id = %s"]
        args: list[Any] = [organisation_id]
        if ending_after is not None:
            where.append("ends_at > %s")
            args.append(ending_after)
        if starting_before is not None:
            where.append("starts_at <= %s")
            args.append(starting_before)
        with self.store.connect() as conn:
            rows = conn.execute(SQL("SELECT * FROM {} WHERE " + " AND ".join(where)
                                    + " ORDER BY starts_at, ends_at, id").format(self.store.table(tables.DUTIES)),
                                args).fetchall()
        return [DutyPeriod(r["id"], r["organisation_id"], r["person_id"], r["starts_at"], r["ends_at"]) for r in rows]

    def duty(self, period_id: str) -> DutyPeriod | None:
        with self.store.connect() as conn:
            r = conn.execute(SQL("SELECT * FROM {} WHERE id = %s").format(self.store.table(tables.DUTIES)),
                             (period_id,)).fetchone()
        return DutyPeriod(r["id"], r["organisation_id"], r["person_id"], r["starts_at"], r["ends_at"]) if r else None

    def push_subscriptions(self, person_id: str, *, only: str | None = None) -> list[dict]:
        """The person's Web Push subscriptions in force (endpoint and keys), the latest first (`only`: the
        one of that id)."""
        where = "person_id = %s" + (" AND id = %s" if only else "")
        with self.store.connect() as conn:
            rows = conn.execute(SQL("SELECT subscription FROM {} WHERE " + where + " ORDER BY subscribed_at DESC"
                                    ).format(self.store.table(tables.PUSH_SUBSCRIPTIONS)),
                                (person_id, only) if only else (person_id,)).fetchall()
        return [orjson.loads(self.store.unseal(bytes(r["subscription"]))) for r in rows]

    # ---- invalidation -----------------------------------------------------------------------------------

    def invalidate(self) -> None:
        self._generation += 1
        self._cache = {}

    def close(self) -> None:
        self._stop.set()
        self._listening = False
        self.invalidate()

    def _listen(self) -> None:
        """LISTEN to the directory's channel on a connection of its own; reconnect after a failure (the cache
        is off in between)."""
        name = tables.channel(self.store)
        while not self._stop.is_set():
            try:
                with psycopg.connect(self.store.database_url, autocommit=True) as conn:
                    conn.execute(SQL("LISTEN {}").format(psycopg.sql.Identifier(name)))
                    self.invalidate()  # whatever changed before listening is read afresh
                    self._listening = True
                    while not self._stop.is_set():
                        for _ in conn.notifies(timeout=1.0):
                            self.invalidate()
            except Exception as e:
                log.warning("directory cache listener lost its connection (%s): cache off until it reconnects",
                            type(e).__name__)
            finally:
                self._listening = False
                self.invalidate()
            self._stop.wait(1.0)

    def wait_listening(self, timeout: float = 5.0) -> bool:
        """Whether the listener is up (tests and benches wait for it)."""
        self._start_listener()
        deadline = time.monotonic() + timeout
        while not self._listening and time.monotonic() < deadline:
            time.sleep(0.01)
        return self._listening
