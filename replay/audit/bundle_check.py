"""Verify an audit bundle with nothing but the bundle: no database, no Tocsin settings, no cipher key.

This file is copied into every bundle (as `verify_bundle.py`, next to `audit_hashes.py`), so an auditor
on another machine can run `python verify_bundle.py bundle.zip` with only the `cryptography` package.

What a bundle proves, for each event it carries: its identity (notification id, aggregate, version), the
hash of its stored encrypted state, its message index row and the exact raw message bytes are at that
position of the chain, and the chain from there up to a checkpoint is the one signed by the seal key.
For a case bundle, every link of the segment names its aggregate, so the bundle also proves that no
other event of the case was recorded between its first event and the seal. The decrypted facts are the
exporter's reading, given for convenience: proving them needs the cipher key (the encrypted state is
included so whoever holds the key can check). A bundle without personal data (manifest `personal_data`
false) carries neither the raw messages nor the encrypted state, only their hashes: its chain verifies,
but it cannot show that those hashes are of any particular message.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from uuid import UUID

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

try:
    from replay.audit import hashes as h
except ImportError:  # running from an extracted bundle
    # The bundle's copy of replay.audit.hashes, beside this file: unknown to the type checker.
    import audit_hashes as h  # type: ignore[no-redef,import-not-found]


@dataclass
class BundleReport:
    events: int = 0
    links: int = 0
    seals: int = 0
    key_id: str = ""
    scope: dict = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    stream_lost: int = 0  # messages the NATS stream lost before their ingestion (stated, not proven)
    personal_data: bool = True  # False: raw messages and stored states left out, only their hashes checked

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        if self.ok:
            lost = (f" Attention : le flux NATS a perdu {self.stream_lost} message(s) avant leur ingestion "
                    "(stream_gaps.json) ; ils ne sont dans aucune chaîne." if self.stream_lost else "")
            return (f"Paquet intègre : {self.events} événement(s) et leurs messages rattachés à la chaîne "
                    f"({self.links} maillons) scellée par la clé {self.key_id} ({self.seals} sceau(x) valide(s))."
                    + lost + ("" if self.personal_data else
                              " Paquet sans données personnelles : les messages bruts n'y sont pas, seules "
                              "leurs empreintes sont rattachées à la chaîne."))
        return "Paquet NON vérifié : " + self.problems[0]

    def as_dict(self) -> dict:
        return {"ok": self.ok, "events": self.events, "links": self.links, "seals": self.seals,
                "key_id": self.key_id, "scope": self.scope, "problems": self.problems, "stream_lost": self.stream_lost,
                "personal_data": self.personal_data, "summary": self.summary()}


def _key_id(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def verify_bundle(path: Path, pinned_public_key: bytes | None = None) -> BundleReport:
    report = BundleReport()
    with zipfile.ZipFile(path) as bundle:
        manifest = json.loads(bundle.read("manifest.json"))
        report.scope = manifest.get("scope", {})
        report.personal_data = manifest.get("personal_data", True) is not False  # older bundles: complete
        key = serialization.load_pem_public_key(bundle.read("public_key.pem"))
        assert isinstance(key, Ed25519PublicKey)
        report.key_id = _key_id(key)
        if pinned_public_key is not None:
            pinned = serialization.load_pem_public_key(pinned_public_key)
            if not isinstance(pinned, Ed25519PublicKey):
                raise ValueError("la clé publique attendue doit être une clé Ed25519")
            if _key_id(pinned) != report.key_id:
                report.problems.append(f"la clé du paquet ({report.key_id}) n'est pas la clé attendue "
                                       f"({_key_id(pinned)}) : paquet signé par un tiers.")
                return report
        seals = json.loads(bundle.read("seals.json"))
        chain = [json.loads(line) for line in bundle.read("chain.jsonl").decode().splitlines() if line]
        events = [json.loads(line) for line in bundle.read("events.jsonl").decode().splitlines() if line]
        raws = {name: bundle.read(name) for name in bundle.namelist() if name.startswith("messages/")}
        if "stream_gaps.json" in bundle.namelist():  # bundles made before it have none
            gaps = json.loads(bundle.read("stream_gaps.json"))
            report.stream_lost = sum(g["last_seq"] - g["first_seq"] + 1 for g in gaps)
    sealed = _check_seals(seals, key, report)
    recomputed = _check_events(events, raws, report, complete=report.personal_data)
    _check_chain(chain, recomputed, sealed, manifest, report)
    return report


def _check_seals(seals: list[dict], key: Ed25519PublicKey, report: BundleReport) -> dict[int, bytes]:
    sealed: dict[int, bytes] = {}
    for s in seals:
        payload = h.seal_payload(position=s["position"], notification_id=s["notification_id"],
                                 chain_hash=bytes.fromhex(s["chain_hash"]),
                                 sealed_at=datetime.fromisoformat(s["sealed_at"]),
                                 key_id=s["key_id"])
        try:
            if s["key_id"] != report.key_id:
                raise InvalidSignature
            key.verify(bytes.fromhex(s["signature"]), payload)
        except InvalidSignature:
            report.problems.append(f"le sceau de la position {s['position']} n'est pas signé par la clé du paquet.")
            continue
        sealed[s["position"]] = bytes.fromhex(s["chain_hash"])
    report.seals = len(sealed)
    return sealed


def _check_events(events: list[dict], raws: dict[str, bytes], report: BundleReport,
                  complete: bool = True) -> dict[int, bytes]:
    """Each event's hash recomputed from what the bundle carries, by chain position. Not `complete`
    (no personal data): from the hashes of the raw message and of the stored state, as given."""
    recomputed: dict[int, bytes] = {}
    for e in events:
        if complete:
            state_hash = h.sha256(base64.b64decode(e["stored"]["state"]))
        else:
            state_hash = bytes.fromhex(e["stored"]["state_sha256"])
        message_hash = None
        m = e.get("message")
        if m is not None:
            raw = raws.get(m["file"]) if complete else None
            if complete and (raw is None or hashlib.sha256(raw).hexdigest() != m["sha256"]):
                report.problems.append(f"notification {e['notification_id']} : le message brut {m['file']} "
                                       "manque ou ne correspond pas à son empreinte.")
                continue
            provenance = e.get("provenance") or {}
            if provenance and (provenance.get("distribution_id"), provenance.get("sha256")) != (
                    m["distribution_id"], m["sha256"]):
                report.problems.append(f"notification {e['notification_id']} : la provenance déchiffrée ne "
                                       "correspond pas au message scellé.")
            message_hash = h.message_hash(
                distribution_id=m["distribution_id"], case_id=m["case_id"], kind=m["kind"],
                sender_id=m["sender_id"], sent_at=_time(m["sent_at"]), received_at=_time(m["received_at"]),
                raw_sha256=bytes.fromhex(m["sha256"]), source=m["source"],
                stored_body_hash=bytes.fromhex(m["stored_body_sha256"]) if m["stored_body_sha256"] else None,
            )
        recomputed[e["position"]] = h.event_hash(
            notification_id=e["notification_id"], originator_id=UUID(e["originator_id"]),
            originator_version=e["originator_version"], topic=e["stored"]["topic"],
            state_hash=state_hash, message_hash=message_hash,
        )
        report.events += 1
    return recomputed


def _check_chain(chain: list[dict], recomputed: dict[int, bytes], sealed: dict[int, bytes], manifest: dict,
                 report: BundleReport) -> None:
    if not chain:
        report.problems.append("le paquet ne contient aucun maillon.")
        return
    start = chain[0]
    previous = h.GENESIS if start["position"] == 1 and manifest.get("from_genesis") else None
    links = chain if previous is not None else chain[1:]
    previous = previous or bytes.fromhex(start["chain_hash"])
    case_originator = (manifest.get("scope") or {}).get("originator_id")
    included = set(recomputed)
    expected_position = links[0]["position"] if links else start["position"]
    for link in links:
        position = link["position"]
        if position != expected_position:
            report.problems.append(f"maillon manquant à la position {expected_position}.")
            return
        expected_position += 1
        # Every link's event hash is recomputed from its parts, so its aggregate id is authenticated.
        event_hash = h.event_hash(
            notification_id=link["notification_id"], originator_id=UUID(link["originator_id"]),
            originator_version=link["originator_version"], topic=link["topic"],
            state_hash=bytes.fromhex(link["state_hash"]),
            message_hash=bytes.fromhex(link["message_hash"]) if link["message_hash"] else None,
        )
        if position in recomputed and recomputed.pop(position) != event_hash:
            report.problems.append(f"position {position} : l'événement ne correspond pas à son maillon (modifié).")
            return
        if case_originator and link["originator_id"] == case_originator and position not in included:
            report.problems.append(f"position {position} : un événement de l'affaire manque au paquet.")
            return
        previous = h.chain_hash(previous=previous, position=position, chained_at=_time(link["chained_at"]),
                                event_hash=event_hash)
        if previous != bytes.fromhex(link["chain_hash"]):
            report.problems.append(f"position {position} : le maillon ne prolonge pas la chaîne.")
            return
        if position in sealed and sealed[position] != previous:
            report.problems.append(f"position {position} : la chaîne ne correspond pas au sceau signé.")
            return
        report.links += 1
    if recomputed:
        report.problems.append(f"événement(s) hors du segment de chaîne : positions {sorted(recomputed)}.")
    elif chain[-1]["position"] not in sealed:
        report.problems.append("le segment de chaîne ne se termine pas sur un sceau signé : rien n'est prouvé.")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args:
        print("usage : python verify_bundle.py PAQUET.zip [CLE_PUBLIQUE.pem]", file=sys.stderr)
        return 2
    pinned = Path(args[1]).read_bytes() if len(args) > 1 else None
    report = verify_bundle(Path(args[0]), pinned)
    print(report.summary())
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
