"""`tocsin audit verify`: recompute the whole chain from the stored rows and check every seal.

The chain is streamed in position order from one consistent snapshot (a server-side cursor), and each
link is recomputed from the event row, its message index row and its stored raw message. The first
anomaly stops the walk: everything after it is suspect anyway. Anomalies are named for an auditor, in
French: event modified, event deleted, rows reordered, link modified, chain rewritten under a seal,
seal signature invalid, seal deleted.

The hash of each stored state is recomputed here, in Python, from the bytes read; the hash of each stored
raw message is computed by PostgreSQL's pg_catalog.sha256 so that the (larger) raw bodies need not cross
the network.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from psycopg.rows import tuple_row
from psycopg.sql import SQL

from adapters import metrics
from replay.audit import hashes as h
from replay.audit.seals import Seal, list_seals, read_journal

PAGE = 20_000

# Kinds of anomaly, each with the French words an auditor reads.
EVENT_MODIFIED = "evenement-modifie"
EVENT_DELETED = "evenement-supprime"
ROWS_REORDERED = "lignes-permutees"
MESSAGE_MODIFIED = "message-modifie"
LINK_MODIFIED = "maillon-modifie"
UNCHAINED_EVENT = "evenement-non-chaine"
CHAIN_REWRITTEN = "chaine-reecrite"
SEAL_INVALID = "sceau-invalide"
SEAL_DELETED = "sceau-supprime"


@dataclass(frozen=True)
class Problem:
    kind: str
    message: str
    position: int | None = None
    notification_id: int | None = None

    def sort_key(self) -> tuple[int, int]:
        return (self.position if self.position is not None else 1 << 62, self.notification_id or 0)


@dataclass
class VerifyReport:
    checked: int = 0
    seals_checked: int = 0
    head_position: int = 0
    head_notification_id: int | None = None
    last_sealed_position: int = 0
    elapsed: float = 0.0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first_problem(self) -> Problem | None:
        return min(self.problems, key=Problem.sort_key) if self.problems else None

    @property
    def rate(self) -> float:
        return self.checked / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def unsealed(self) -> int:
        return max(0, self.head_position - self.last_sealed_position)

    def summary(self) -> str:
        if self.ok:
            rate = f"{self.rate:,.0f}".replace(",", "\u202f")
            text = (f"Chaîne intègre : {self.checked} événements vérifiés ({rate} événements/s), "
                    f"{self.seals_checked} sceau(x) valide(s).")
            if self.unsealed:
                text += f" {self.unsealed} événement(s) après le dernier sceau (position {self.last_sealed_position})."
            return text
        p = self.first_problem
        assert p is not None
        where = f"position {p.position}" if p.position is not None else "hors chaîne"
        if p.notification_id is not None:
            where += f", notification {p.notification_id}"
        return f"Chaîne ROMPUE ({where}) : {p.message}"

    def as_dict(self) -> dict[str, Any]:
        first = self.first_problem
        return {
            "ok": self.ok, "checked": self.checked, "seals_checked": self.seals_checked,
            "head_position": self.head_position, "head_notification_id": self.head_notification_id,
            "last_sealed_position": self.last_sealed_position, "unsealed": self.unsealed,
            "elapsed_s": round(self.elapsed, 3), "events_per_s": round(self.rate),
            "first_problem": first.__dict__ if first else None,
            "problems": [p.__dict__ for p in sorted(self.problems, key=Problem.sort_key)],
            "summary": self.summary(),
        }


def verify_store(
    store: Any,
    keys: dict[str, Ed25519PublicKey],
    *,
    journal: Path | None = None,
    start_after: Seal | None = None,
    page: int = PAGE,
) -> VerifyReport:
    """Verify the chain (from the start, or after a seal already verified) and every seal."""
    began = time.perf_counter()
    report = VerifyReport()
    seals = _check_seals(store, keys, journal, report)
    with psycopg.connect(store.database_url) as conn:
        conn.read_only = True
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ  # one snapshot for the whole walk
        with conn.transaction():
            _walk(conn, store, seals, start_after, page, report)
            if report.ok:
                _check_unchained(conn, store, start_after, report)
    if report.ok and seals and max(seals) > report.head_position:
        position = min(p for p in seals if p > report.head_position)
        report.problems.append(Problem(
            EVENT_DELETED,
            f"le sceau de la position {position} couvre des événements qui n'existent plus : les derniers "
            f"événements (après la position {report.head_position}) ont été supprimés avec leurs maillons.",
            report.head_position + 1,
        ))
    report.elapsed = time.perf_counter() - began
    metrics.AUDIT_VERIFICATIONS.labels("ok" if report.ok else "failed").inc()
    return report


def _check_seals(store: Any, keys: dict[str, Ed25519PublicKey], journal: Path | None,
                 report: VerifyReport) -> dict[int, list[Seal]]:
    """Valid seals by position; invalid ones and seals missing from the database become problems."""
    stored = list_seals(store)
    valid: dict[int, list[Seal]] = {}
    for s in stored:
        if s.is_signed_by(keys):
            valid.setdefault(s.position, []).append(s)
        else:
            reason = "signée par une clé inconnue" if s.key_id not in keys else "signature invalide"
            report.problems.append(Problem(
                SEAL_INVALID, f"sceau n°{s.id} du {s.sealed_at:%d/%m/%Y %H:%M:%S} : {reason} "
                "(sceau forgé ou modifié).", s.position, s.notification_id,
            ))
    signatures = {s.signature for s in stored}
    for s in read_journal(journal) if journal else []:
        if s.signature in signatures or not s.is_signed_by(keys):
            continue
        # Still a valid seal: it keeps constraining the chain even though the database lost it.
        valid.setdefault(s.position, []).append(s)
        report.problems.append(Problem(
            SEAL_DELETED, f"le sceau du {s.sealed_at:%d/%m/%Y %H:%M:%S} (position {s.position}) figure au journal "
            "hors base mais a été supprimé de la base.", s.position, s.notification_id,
        ))
    report.seals_checked = sum(len(v) for v in valid.values())
    if valid:
        report.last_sealed_position = max(valid)
    return valid


_MICROS = "(extract(epoch FROM {}) * 1000000)::bigint"
_WALK = """
SELECT c.position, c.notification_id, c.originator_id, c.originator_version, """ + _MICROS.format("c.chained_at") + """,
       c.state_hash, c.message_hash, c.event_hash, c.chain_hash,
       e.notification_id, e.originator_id, e.originator_version, e.topic, e.state,
       m.distribution_id, m.case_id, m.kind, m.sender_id, """ + _MICROS.format("m.sent_at") + """,
       """ + _MICROS.format("m.received_at") + """, m.sha256, m.source,
       (SELECT pg_catalog.sha256(r.body) FROM {raws} r WHERE r.sha256 = m.sha256)
FROM {chain} c
LEFT JOIN {events} e ON e.notification_id = c.notification_id
LEFT JOIN {messages} m ON m.originator_id = e.originator_id AND m.originator_version = e.originator_version
WHERE c.position > %s
ORDER BY c.position
"""


def _walk(conn: psycopg.Connection, store: Any, seals: dict[int, list[Seal]], start_after: Seal | None,
          page: int, report: VerifyReport) -> None:
    query = SQL(_WALK).format(
        chain=store.table("tocsin_chain"), events=store.table("tocsin_events"),
        messages=store.table("tocsin_messages"), raws=store.table("tocsin_raw_messages"),
    )
    running = start_after.chain_hash if start_after else h.GENESIS
    last_position = start_after.position if start_after else 0
    last_nid = start_after.notification_id if start_after else 0
    last_good_seal = last_position
    report.head_position, report.head_notification_id = last_position, (last_nid or None)
    with conn.cursor("tocsin_audit_walk", row_factory=tuple_row) as cursor:
        cursor.itersize = page
        cursor.execute(query, (last_position,))
        while rows := cursor.fetchmany(page):
            for row in rows:
                problem = _check_link(conn, store, row, running, last_position, last_nid)
                if problem is None:
                    running = bytes(row[8])
                    problem = _check_seals_at(seals.get(row[0], ()), row, running, last_good_seal)
                if problem is not None:
                    report.problems.append(problem)
                    return
                if row[0] in seals:
                    last_good_seal = row[0]
                last_position, last_nid = row[0], row[1]
                report.checked += 1
                report.head_position, report.head_notification_id = last_position, last_nid


def _check_link(conn: psycopg.Connection, store: Any, row: tuple, running: bytes, last_position: int,
                last_nid: int) -> Problem | None:
    (position, nid, oid, version, chained_at, state_hash, message_hash, event_hash, chain_hash,
     e_nid, e_oid, e_version, topic, state, distribution_id, case_id, kind, sender_id, sent_at, received_at,
     raw_sha256, source, body_hash) = row
    if position != last_position + 1:
        return Problem(EVENT_DELETED, f"position(s) {last_position + 1} à {position - 1} absente(s) de la chaîne : "
                       "des événements ont été supprimés avec leurs maillons.", last_position + 1)
    if nid <= last_nid:
        return Problem(ROWS_REORDERED, f"la notification {nid} suit la notification {last_nid} : "
                       "les maillons ont été réordonnés.", position, nid)
    if e_nid is None:
        return Problem(EVENT_DELETED, f"l'événement de notification {nid} (affaire {oid}, version {version}) "
                       "a été supprimé : son maillon existe encore.", position, nid)
    actual_state_hash = h.sha256(bytes(state) if state is not None else b"")
    if (e_oid, e_version) != (oid, version) or actual_state_hash != bytes(state_hash):
        elsewhere = _position_of_state(conn, store, actual_state_hash, position)
        if elsewhere is not None:
            return Problem(ROWS_REORDERED, f"le contenu de l'événement de notification {nid} est celui de la "
                           f"position {elsewhere} : des lignes ont été permutées.", position, nid)
        return Problem(EVENT_MODIFIED, f"l'événement de notification {nid} a été modifié : son contenu chiffré "
                       "ou son identité ne correspond plus à son empreinte.", position, nid)
    actual_message_hash = None
    if distribution_id is not None:
        actual_message_hash = h.message_hash(
            distribution_id=distribution_id, case_id=case_id, kind=kind, sender_id=sender_id, sent_at=sent_at,
            received_at=received_at, raw_sha256=bytes(raw_sha256), source=source,
            stored_body_hash=bytes(body_hash) if body_hash is not None else None,
        )
    if actual_message_hash != (bytes(message_hash) if message_hash is not None else None):
        what = "supprimé" if distribution_id is None else "modifié (index des messages ou message brut)"
        return Problem(MESSAGE_MODIFIED, f"le message de l'événement de notification {nid} a été {what}.",
                       position, nid)
    actual_event_hash = h.event_hash(
        notification_id=nid, originator_id=oid, originator_version=version, topic=topic,
        state_hash=actual_state_hash, message_hash=actual_message_hash,
    )
    if actual_event_hash != bytes(event_hash):
        return Problem(EVENT_MODIFIED, f"l'événement de notification {nid} a été modifié (type d'événement) "
                       "ou son maillon a été altéré.", position, nid)
    expected = h.chain_hash(previous=running, position=position, chained_at=chained_at, event_hash=actual_event_hash)
    if expected != bytes(chain_hash):
        return Problem(LINK_MODIFIED, f"le maillon de la position {position} ne prolonge pas la chaîne : ce maillon "
                       f"ou le précédent (position {position - 1}) a été modifié.", position, nid)
    return None


def _check_seals_at(seals: Any, row: tuple, running: bytes, last_good_seal: int) -> Problem | None:
    for s in seals:
        if s.chain_hash != running or s.notification_id != row[1]:
            return Problem(CHAIN_REWRITTEN, f"la chaîne ne correspond plus au sceau du {s.sealed_at:%d/%m/%Y %H:%M:%S} "
                           f"(position {s.position}) : des événements et leurs maillons ont été réécrits entre la "
                           f"position {last_good_seal + 1} et la position {s.position}.", last_good_seal + 1, row[1])
    return None


def _position_of_state(conn: psycopg.Connection, store: Any, state_hash: bytes, position: int) -> int | None:
    row = conn.execute(
        SQL("SELECT position FROM {} WHERE state_hash = %s AND position <> %s LIMIT 1").format(
            store.table("tocsin_chain")),
        (state_hash, position),
    ).fetchone()
    return row[0] if row else None


def _check_unchained(conn: psycopg.Connection, store: Any, start_after: Seal | None, report: VerifyReport) -> None:
    row = conn.execute(
        SQL("SELECT e.notification_id FROM {events} e WHERE e.notification_id > %s AND NOT EXISTS "
            "(SELECT 1 FROM {chain} c WHERE c.notification_id = e.notification_id) ORDER BY 1 LIMIT 1").format(
            events=store.table("tocsin_events"), chain=store.table("tocsin_chain")),
        (start_after.notification_id if start_after else 0,),
    ).fetchone()
    if row:
        report.problems.append(Problem(
            UNCHAINED_EVENT, f"l'événement de notification {row[0]} n'a pas de maillon : inséré en contournant le "
            "déclencheur, ou son maillon a été supprimé.", None, row[0],
        ))
