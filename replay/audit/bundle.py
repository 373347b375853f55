"""`tocsin audit export`: a self-contained zip an auditor verifies elsewhere with only the bundle.

Contents: `events.jsonl` (each event decrypted, with its provenance, its stored encrypted bytes and its
message index row), `messages/` (the raw messages, decrypted), `chain.jsonl` (the chain segment from the
link before the first event to the first seal at or after the last one, each link with the parts of its
event hash), `seals.json`, `public_key.pem`, `stream_gaps.json` (the messages a NATS stream lost before
Tocsin read them: they are in no chain, so the bundle says so), and `verify_bundle.py` +
`audit_hashes.py` so that `python verify_bundle.py bundle.zip` works with no Tocsin at all
(`tocsin audit verify --bundle` runs the same code). What a bundle proves is written in
replay/audit/bundle_check.py and in LISEZMOI.txt.

`personal=False` (`tocsin audit export --sans-donnees-personnelles`) leaves out what carries personal data:
the raw messages, the encrypted state and the `personal` part of the facts. The chain still verifies, as
it covers hashes (of the raw bytes, of the stored state), which the bundle carries; what such a bundle
cannot prove is what those bytes said. Bundles are written readable by their owner only (0600).

Segments rather than Merkle proofs: a link costs ~400 bytes of JSON, so even a département's crisis
week stays a few megabytes, and the check is the same walk as in the database.
"""

from __future__ import annotations

import base64
import json
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from psycopg.sql import SQL

from adapters.nats.gaps import detected_since
from adapters.secret_file import open_private
from replay.audit import bundle_check as audit_bundle_check
from replay.audit import hashes as audit_hashes
from replay.audit.chain import seal
from replay.audit.keys import load_signing_key, public_pem, trusted_keys
from replay.audit.seals import Seal, list_seals
from replay.event_log import happened_at_sql

FORMAT = "tocsin-audit-bundle-v1"
EXTENSIONS = {"xml": "xml", "json": "json"}

_EVENTS = """
SELECT c.position, c.notification_id, c.originator_id, c.originator_version, c.chained_at, c.state_hash,
       c.message_hash, c.event_hash, c.chain_hash, e.topic, e.state,
       m.distribution_id, m.case_id, m.kind, m.sender_id, m.sent_at, m.received_at, m.sha256 AS raw_sha256,
       m.source, pg_catalog.sha256(r.body) AS body_hash, r.body
FROM {chain} c
JOIN {events} e ON e.notification_id = c.notification_id
LEFT JOIN {messages} m ON m.originator_id = e.originator_id AND m.originator_version = e.originator_version
LEFT JOIN {raws} r ON r.sha256 = m.sha256
WHERE c.originator_id = ANY(%(originators)s)
  AND (%(since)s::timestamptz IS NULL OR {happened} >= %(since)s)
  AND (%(until)s::timestamptz IS NULL OR {happened} < %(until)s)
ORDER BY c.position
"""


@dataclass(frozen=True)
class AuditedEvent:
    """One event as an auditor sees it: decrypted, with its message and its place in the chain."""

    row: dict
    event: Any  # the domain event
    raw: bytes | None

    def as_json(self, personal: bool = True) -> dict:
        """The event's bundle entry; without `personal`, no personal value in clear nor encrypted."""
        r = self.row
        provenance = dict(getattr(self.event, "provenance", {}) or {})
        message = None
        if r["distribution_id"] is not None:
            extension = EXTENSIONS.get(provenance.get("encoding") or "", "bin")
            message = {
                "file": f"messages/{bytes(r['raw_sha256']).hex()}.{extension}",
                "distribution_id": r["distribution_id"], "case_id": r["case_id"], "kind": r["kind"],
                "sender_id": r["sender_id"], "sent_at": _iso(r["sent_at"]), "received_at": _iso(r["received_at"]),
                "sha256": bytes(r["raw_sha256"]).hex(), "source": r["source"],
                "stored_body_sha256": bytes(r["body_hash"]).hex() if r["body_hash"] is not None else None,
            }
        facts = getattr(self.event, "facts", None)
        stored = {"topic": r["topic"], "state": base64.b64encode(bytes(r["state"])).decode(),
                  "state_sha256": bytes(r["state_hash"]).hex()}
        if not personal:
            facts = {k: v for k, v in facts.items() if k != "personal"} if isinstance(facts, dict) else facts
            stored.pop("state")  # encrypted, but personal data still: only its hash stays, which the chain covers
            if message is not None:
                message["file"] = None
        return {
            "position": r["position"], "notification_id": r["notification_id"],
            "originator_id": str(r["originator_id"]), "originator_version": r["originator_version"],
            "chained_at": _iso(r["chained_at"]), "type": type(self.event).__qualname__,
            "case_id": getattr(self.event, "case_id", None), "recorded_at": _iso(self.event.timestamp),
            "facts": facts, "provenance": provenance,
            "stored": stored,
            "chain": {"event_hash": bytes(r["event_hash"]).hex(), "chain_hash": bytes(r["chain_hash"]).hex()},
            "message": message,
        }


def load_events(store: Any, originators: list[UUID], since: datetime | None = None,
                until: datetime | None = None) -> list[AuditedEvent]:
    """The chained events of these aggregates (optionally within a window of message time), decrypted."""
    with store.connect() as conn:
        rows = conn.execute(
            SQL(_EVENTS).format(chain=store.table("tocsin_chain"), events=store.table("tocsin_events"),
                                messages=store.table("tocsin_messages"), raws=store.table("tocsin_raw_messages"),
                                happened=happened_at_sql("m", "c")),
            {"originators": originators, "since": since, "until": until},
        ).fetchall()
    audited = []
    for r in rows:
        stored = StoredEvent(r["originator_id"], r["originator_version"], r["topic"], bytes(r["state"]))
        raw = store.unseal(bytes(r["body"])) if r["body"] is not None else None
        audited.append(AuditedEvent(r, store.mapper.to_domain_event(stored), raw))
    return audited


def territory_originators(store: Any, geography: Any, code: str, since: datetime | None,
                          until: datetime | None) -> list[UUID]:
    """Cases placed in the territory (commune INSEE, département, zone, or FR) with messages in the window."""
    from domain.case_state import best_placement
    from domain.identity import case_uuid

    with store.connect() as conn:
        case_ids = [r["case_id"] for r in conn.execute(
            SQL("SELECT DISTINCT m.case_id FROM {messages} m WHERE m.case_id IS NOT NULL"
                " AND (%(since)s::timestamptz IS NULL OR {happened} >= %(since)s)"
                " AND (%(until)s::timestamptz IS NULL OR {happened} < %(until)s)").format(
                messages=store.table("tocsin_messages"), happened=happened_at_sql("m", chain=None)),
            {"since": since, "until": until},
        )]
    wanted = []
    for case_id in case_ids:
        placement = best_placement(store.repository.get(case_uuid(case_id)).state) or {}
        if code.upper() in {"FR", "NATIONAL"} or code in {placement.get("insee"), placement.get("departement"),
                                                           placement.get("zone")}:
            wanted.append(case_uuid(case_id))
    return wanted


def export_bundle(store: Any, data_dir: Path, out: Path, originators: list[UUID], scope: dict,
                  since: datetime | None = None, until: datetime | None = None, *, personal: bool = True) -> dict:
    """Write the bundle for these aggregates' events; returns its manifest. Seals the head if needed.
    `personal=False`: a bundle without personal data (see the module's docstring)."""
    events = load_events(store, originators, since, until)
    if not events:
        raise LookupError("aucun événement à exporter pour cette sélection")
    first, last = events[0].row["position"], events[-1].row["position"]
    closing = _closing_seal(store, data_dir, last)
    segment = _segment(store, max(first - 1, 1), closing.position)
    keys = trusted_keys(data_dir, configured=store.settings.audit_seal_key)
    gaps = detected_since(store, since)
    manifest = {
        "format": FORMAT, "created_at": datetime.now(UTC).isoformat(), "scope": scope,
        "events": len(events), "positions": [first, closing.position], "from_genesis": first == 1,
        "key_id": closing.key_id, "stream_lost_messages": sum(g["messages"] for g in gaps),
        "personal_data": personal,
    }
    with open_private(out) as file, zipfile.ZipFile(file, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr("manifest.json", json.dumps(manifest, ensure_ascii=False, indent=2))
        bundle.writestr("events.jsonl", "".join(
            json.dumps(e.as_json(personal), ensure_ascii=False, default=str) + "\n" for e in events))
        for e in events:
            message = e.as_json(personal)["message"]
            if message and message["file"] and e.raw is not None and message["file"] not in bundle.namelist():
                bundle.writestr(message["file"], e.raw)
        bundle.writestr("chain.jsonl", "".join(json.dumps(link) + "\n" for link in segment))
        seals = [s.as_json() for s in list_seals(store)
                 if first - 1 <= s.position <= closing.position and s.is_signed_by(keys)]
        bundle.writestr("seals.json", json.dumps(seals, indent=2))
        bundle.writestr("public_key.pem", public_pem(keys[closing.key_id]))
        bundle.writestr("stream_gaps.json", json.dumps(gaps, ensure_ascii=False, indent=2, default=str))
        bundle.writestr("verify_bundle.py", Path(audit_bundle_check.__file__).read_text())
        bundle.writestr("audit_hashes.py", Path(audit_hashes.__file__).read_text())
        bundle.writestr("LISEZMOI.txt", _readme(manifest))
    return manifest


def _closing_seal(store: Any, data_dir: Path, last_position: int) -> Seal:
    """The first valid seal at or after the last exported event; seals the head when there is none."""
    keys = trusted_keys(data_dir, configured=store.settings.audit_seal_key)
    for s in list_seals(store):
        if s.position >= last_position and s.is_signed_by(keys):
            return s
    made = seal(store, load_signing_key(data_dir, configured=store.settings.audit_seal_key), data_dir)
    assert made is not None and made.position >= last_position
    return made


def _segment(store: Any, start: int, end: int) -> list[dict]:
    with store.connect() as conn:
        rows = conn.execute(
            SQL("SELECT c.*, e.topic FROM {chain} c LEFT JOIN {events} e ON e.notification_id = c.notification_id"
                " WHERE c.position BETWEEN %s AND %s ORDER BY c.position").format(
                chain=store.table("tocsin_chain"), events=store.table("tocsin_events")),
            (start, end),
        ).fetchall()
    return [
        {
            "position": r["position"], "notification_id": r["notification_id"],
            "originator_id": str(r["originator_id"]), "originator_version": r["originator_version"],
            "topic": r["topic"], "chained_at": _iso(r["chained_at"]), "state_hash": bytes(r["state_hash"]).hex(),
            "message_hash": bytes(r["message_hash"]).hex() if r["message_hash"] is not None else None,
            "event_hash": bytes(r["event_hash"]).hex(), "chain_hash": bytes(r["chain_hash"]).hex(),
        }
        for r in rows
    ]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _readme(manifest: dict) -> str:
    return f"""Paquet d'audit Tocsin ({manifest['format']})

Portée : {json.dumps(manifest['scope'], ensure_ascii=False)}
Événements : {manifest['events']} ; maillons : positions {manifest['positions'][0]} à {manifest['positions'][1]}
Clé de scellement : {manifest['key_id']} (public_key.pem)

Vérifier, sans base de données ni configuration (seul le paquet Python `cryptography` est requis) :
    python verify_bundle.py ce_paquet.zip [cle_publique_de_reference.pem]
ou, avec Tocsin installé : tocsin audit verify --bundle ce_paquet.zip [--public-key cle.pem]

Ce que le paquet prouve : pour chaque événement, son identité (notification, affaire, version), l'empreinte
de son état chiffré stocké, sa ligne d'index de message et les octets exacts du message brut sont à leur
place dans la chaîne d'audit, et cette chaîne, jusqu'au sceau final, est celle signée par la clé ci-dessus.
Pour un paquet d'affaire, il prouve aussi qu'aucun autre événement de l'affaire n'a été enregistré entre
son premier événement et le sceau. Comparez l'empreinte de la clé avec celle publiée par l'exploitant
(`tocsin audit public-key`) : la clé incluse ne prouve que la cohérence interne.

Ce qu'il ne prouve pas : les faits déchiffrés (facts, provenance) sont la lecture de l'exportateur ; l'état
chiffré est joint pour qui détient la clé de chiffrement. Un paquet de territoire ne prouve pas
l'exhaustivité (le rattachement territorial est dans l'état chiffré).
{_without_personal_data(manifest)}{_lost(manifest)}"""


def _without_personal_data(manifest: dict) -> str:
    if manifest["personal_data"]:
        return ""
    return """
Paquet SANS données personnelles : ni messages bruts, ni état chiffré, ni partie « personal » des faits.
Les empreintes des messages bruts et des états stockés y sont, et la chaîne les couvre : le paquet prouve
que des messages de ces empreintes sont à leur place dans la chaîne scellée, mais pas ce qu'ils disaient.
Pour le prouver, demandez à l'exploitant le paquet complet (ou les messages bruts, qu'il suffit de hacher).
"""


def _lost(manifest: dict) -> str:
    lost = manifest["stream_lost_messages"]
    if not lost:
        return "\nAucun message perdu par le flux NATS avant son ingestion n'a été constaté sur la période.\n"
    return f"""
Messages perdus par le flux NATS avant leur ingestion, constatés sur la période : {lost} (stream_gaps.json,
tous territoires). Tocsin ne les a jamais reçus : ils ne sont dans aucune chaîne, et le paquet ne peut pas
dire quels territoires ils concernaient. Ce relevé n'est pas signé ; demandez-les à l'émetteur.
"""
