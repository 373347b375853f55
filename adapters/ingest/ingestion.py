"""Ingestion: wire bytes in, exactly one event (or one quarantine entry) out.

Every entry point (HTTP, files, NATS) hands raw bytes to `Ingestor.ingest_batch`. Parsing,
normalising and sealing (`Preparer`, no database: it may run in a worker process) never raise:
whatever goes wrong becomes reasons, and the bytes go to quarantine. The batch is then written in one
transaction, deduplicated on `distributionID`; if another ingester wrote the same message or the same
case version meanwhile, the unique constraints refuse the transaction and the batch is planned again
from what is now stored.

Only a case's parties may update it (domain.case_parties). That is checked at commit, against the parties
read with the case's last version (and those the batch adds as it goes): a message from anyone else goes
to quarantine with the reason, and its case is left as it was.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from uuid import UUID

from eventsourcing.persistence import IntegrityError, StoredEvent
from psycopg.sql import SQL

from adapters import metrics
from adapters.cisu import InvalidMessage, WireMessage, parse_wire_message
from adapters.cisu.wire import MEDICAL_RECORD
from adapters.geography import Geography
from adapters.ingest.normalise import NormalisationError, addressees, normalise
from adapters.logs import error_site
from adapters.store.codec import EventDraft, Stamp, topic
from adapters.store.event_store import MessageRow, PartyRow, Position, QuarantineRow, TocsinStore
from domain.case_parties import admission, joined
from domain.case_state import parse_time
from domain.identity import case_uuid, exchange_uuid

log = logging.getLogger(__name__)

ACCEPTED, DUPLICATE, QUARANTINED = "accepted", "duplicate", "quarantined"
MAX_COMMIT_ATTEMPTS = 8


@dataclass(frozen=True)
class Incoming:
    """Raw bytes as received, and from where (`http`, `file:PATH`, `nats:SUBJECT#SEQ`)."""

    raw: bytes
    content_type: str | None = None
    source: str = "http"
    received_at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass(frozen=True)
class Outcome:
    status: str
    distribution_id: str | None = None
    case_id: str | None = None
    sender_id: str | None = None
    reasons: tuple[dict, ...] = ()
    quarantine_id: int | None = None
    encoding: str | None = None
    xml_namespace: str | None = None


@dataclass
class _Accepted:
    """A message ready to commit. Of its provenance, only what the commit reads crosses back from a
    worker process (the rest is in `draft`): with the whole dict, unpickling a prepared message in the
    committing process took markedly longer."""

    incoming: Incoming
    sha256: bytes
    sealed: bytes  # the raw bytes compressed and encrypted, as stored
    distribution_id: str
    sender_id: str | None
    recipients: tuple[str, ...]  # the envelope's addressees: parties of the case if the sender is one
    sent_at: datetime | None
    encoding: str
    xml_namespace: str | None
    kind: str  # the normalised message's
    case_id: str | None
    references: str | None
    draft: EventDraft  # the event's facts and provenance, encoded (its `recorded_at` is set at commit)


@dataclass
class _Rejected:
    incoming: Incoming
    sha256: bytes
    sealed: bytes
    reasons: list[dict]
    distribution_id: str | None = None
    sender_id: str | None = None
    encoding: str | None = None


Prepared = _Accepted | _Rejected  # what `Preparer` makes of a message, committed by `Ingestor.commit_prepared`


class Preparer:
    """The pure half of ingestion: parse, validate, normalise and seal one message, without the database,
    so that it can run in a worker process (adapters/prepare_pool.py) while the previous batch commits."""

    def __init__(self, geography: Geography, max_bytes: int, seal: Callable[[bytes], bytes]) -> None:
        self.geography = geography
        self.max_bytes = max_bytes
        self.seal = seal

    def __call__(self, incoming: Incoming) -> _Accepted | _Rejected:
        """Parse, validate, normalise and seal; any failure becomes precise reasons, never an exception."""
        sha256, sealed = hashlib.sha256(incoming.raw).digest(), self.seal(incoming.raw)
        try:
            message = parse_wire_message(incoming.raw, incoming.content_type, max_bytes=self.max_bytes)
        except InvalidMessage as invalid:
            if MEDICAL_RECORD in invalid.codes:
                # Tocsin holds no medical record: the refusal keeps the hash and size, never the bytes.
                sealed = self.seal(b"")
            return _Rejected(
                incoming, sha256, sealed,
                [{"code": r.code, "path": r.path, "message": r.message} for r in invalid.reasons],
                invalid.distribution_id, invalid.sender_id, invalid.encoding,
            )
        ids = {"distribution_id": message.envelope.get("distributionID"), "sender_id": message.envelope.get("senderID")}
        try:
            normalised = normalise(message, self.geography)
            provenance = _provenance(incoming, sha256, message)
            draft = EventDraft.of(normalised.facts, provenance)
        except NormalisationError as error:
            reasons = [{"code": error.code, "path": error.path, "message": error.message}]
            return _Rejected(incoming, sha256, sealed, reasons, encoding=message.encoding, **ids)
        except Exception as error:  # a bug, or facts an event cannot hold: never lose the message nor stop the worker
            log.error("normalisation failed (%s): %s", incoming.source, error_site(error),
                      extra={"distribution_id": ids["distribution_id"]})
            text = f"erreur interne de normalisation ({type(error).__name__})"  # its text may quote a value
            reasons = [{"code": "internal-error", "path": "", "message": text}]
            return _Rejected(incoming, sha256, sealed, reasons, encoding=message.encoding, **ids)
        n, p = normalised, provenance
        return _Accepted(
            incoming, sha256, sealed, p["distribution_id"], p["sender_id"], tuple(p["recipients"]),
            parse_time(p["sent_at"]), p["encoding"], p["xml_namespace"], n.kind, n.case_id, n.references, draft,
        )

    def many(self, items: Sequence[Incoming]) -> list[_Accepted | _Rejected]:
        return [self(item) for item in items]


class Ingestor:
    def __init__(self, store: TocsinStore, geography: Geography) -> None:
        self.store = store
        self.preparer = Preparer(geography, store.settings.max_message_bytes, store.sealer)

    def ingest(self, incoming: Incoming) -> Outcome:
        return self.ingest_batch([incoming])[0]

    def ingest_batch(self, batch: Sequence[Incoming], position: Position | None = None) -> list[Outcome]:
        """Ingest a batch atomically; `position` (source, sequence, hash) is recorded in the same transaction."""
        return self.commit_prepared(self.preparer.many(batch), position)

    def quarantine(self, incoming: Incoming, reasons: list[dict], position: Position | None = None) -> Outcome:
        """Quarantine bytes for reasons found outside parsing (e.g. a message whose processing keeps failing)."""
        rejected = _Rejected(incoming, hashlib.sha256(incoming.raw).digest(), self.preparer.seal(incoming.raw), reasons)
        return self.commit_prepared([rejected], position)[0]

    def commit_prepared(
        self, prepared: Sequence[_Accepted | _Rejected], position: Position | None = None
    ) -> list[Outcome]:
        """Write what `prepare` made of a batch (`prepare` may have run elsewhere, e.g. in a worker process)."""
        prepared = list(prepared)
        started = time.perf_counter()
        for attempt in range(1, MAX_COMMIT_ATTEMPTS + 1):
            try:
                outcomes = self._commit(prepared, position)
                break
            except IntegrityError as error:
                # Another ingester recorded one of these messages or case versions first: plan again.
                log.info("concurrent write detected (attempt %d): %s", attempt, error)
        else:
            raise RuntimeError("ingestion: trop de conflits d'écriture concurrents")
        metrics.COMMIT_SECONDS.observe(time.perf_counter() - started)
        rejected = {}
        for i, (item, outcome) in enumerate(zip(prepared, outcomes, strict=True)):
            # Counted and logged here, once the outcome is kept: `prepare` may have run in another process.
            kind = item.kind if isinstance(item, _Accepted) else "unknown"
            metrics.MESSAGES.labels(outcome.status, kind).inc()
            if outcome.status == QUARANTINED:
                rejected[i] = item.sha256
                for reason in outcome.reasons:
                    metrics.QUARANTINE_REASONS.labels(metrics.reason_code(reason.get("code"))).inc()
                # Codes and paths only: the reasons are value-free, and the log needs no more to find the entry.
                reasons = "; ".join(f"{r['code']} at {r['path'] or '$'}" for r in outcome.reasons)
                log.warning("message quarantined (%s): %s", item.incoming.source, reasons,
                            extra={"distribution_id": outcome.distribution_id, "reason_codes": _codes(outcome)})
        metrics.EVENTS_STORED.inc(sum(o.status == ACCEPTED for o in outcomes))
        if prepared:
            metrics.note_received(max(p.incoming.received_at for p in prepared).timestamp())
        return self._with_quarantine_ids(outcomes, rejected)

    def prepare(self, incoming: Incoming) -> _Accepted | _Rejected:
        return self.preparer(incoming)

    def _commit(self, prepared: list[_Accepted | _Rejected], position: Position | None) -> list[Outcome]:
        accepted = [p for p in prepared if isinstance(p, _Accepted)]
        known_cases, versions, parties = self._lookup(accepted)
        stamp = Stamp.of(datetime.now(UTC))
        events, messages, raws, outcomes = [], [], {}, []
        refused: list[_Rejected] = []
        new_parties: list[PartyRow] = []
        for item in prepared:
            if isinstance(item, _Rejected):
                outcomes.append(
                    Outcome(
                        QUARANTINED, item.distribution_id, None, item.sender_id, tuple(item.reasons),
                        encoding=item.encoding,
                    )
                )
                continue
            distribution_id = item.distribution_id
            if distribution_id in known_cases:
                outcomes.append(self._outcome(DUPLICATE, item, known_cases[distribution_id]))
                continue
            case_id = item.case_id or known_cases.get(item.references or "")
            originator_id = case_uuid(case_id) if case_id else exchange_uuid(item.references or "")
            if case_id:
                before = parties.get(originator_id, frozenset())
                refusal = admission(before, item.sender_id)
                if refusal is not None:
                    reasons = [refusal.as_reason()]
                    refused.append(
                        _Rejected(
                            item.incoming, item.sha256, item.sealed, reasons, distribution_id, item.sender_id,
                            item.encoding,
                        )
                    )
                    outcomes.append(
                        Outcome(
                            QUARANTINED, distribution_id, case_id, item.sender_id, tuple(reasons),
                            encoding=item.encoding, xml_namespace=item.xml_namespace,
                        )
                    )
                    continue
                after = parties[originator_id] = joined(before, item.sender_id, item.recipients)
                new_parties.extend(PartyRow(originator_id, party) for party in sorted(after - before))
            version = versions.get(originator_id, 0) + 1
            versions[originator_id] = version
            known_cases[distribution_id] = case_id
            events.append((originator_id, version, topic(item.kind, case_id), item.draft.state(stamp, case_id)))
            messages.append(
                MessageRow(
                    distribution_id, originator_id, version, case_id, item.kind, item.sender_id,
                    item.sent_at, item.incoming.received_at, item.sha256, item.incoming.source,
                )
            )
            raws[item.sha256] = item.sealed
            outcomes.append(self._outcome(ACCEPTED, item, case_id))
        quarantined = [
            QuarantineRow(
                p.incoming.received_at, p.incoming.source, p.incoming.content_type, p.sha256,
                p.sealed, len(p.incoming.raw), p.reasons, p.distribution_id, p.sender_id,
            )
            for p in [*(p for p in prepared if isinstance(p, _Rejected)), *refused]
        ]
        seal = self.store.sealer  # what the library's mapper does to an encoded state: compress, then encrypt
        stored = [StoredEvent(oid, version, topic, seal(state)) for oid, version, topic, state in events]
        self.store.recorder.insert_events(
            stored, messages=messages, raws=list(raws.items()), quarantined=quarantined, parties=new_parties,
            position=position,
        )
        return outcomes

    def _lookup(
        self, accepted: list[_Accepted]
    ) -> tuple[dict[str, str | None], dict[UUID, int], dict[UUID, frozenset[str]]]:
        """Which of these messages (and acknowledged messages) are stored, each aggregate's version, and each
        case's parties (read in the same statement as its version, off a small table of their own).

        The id arrays go in binary (%b): as text, psycopg searched each element with a regular expression
        for characters to quote, a visible share of this process's CPU. Each case's last version is read
        off the end of its index (LIMIT 1), not aggregated over all its versions: `max() … GROUP BY` grew
        with the cases' histories, this does not (tests/benchmarks/bench_case_history.py)."""
        ids = {a.distribution_id for a in accepted}
        references = {a.references for a in accepted if a.references}
        if not ids:
            return {}, {}, {}
        with self.store.connect() as conn:
            known = {
                row["distribution_id"]: row["case_id"]
                for row in conn.execute(
                    SQL("SELECT distribution_id, case_id FROM {} WHERE distribution_id = ANY(%b::text[])").format(
                        self.store.table("tocsin_messages")
                    ),
                    (list(ids | references),),
                )
            }
            # An acknowledgement goes on its case when known, else apart under the acknowledged id.
            case_ids = {a.case_id for a in accepted if a.case_id}
            case_ids |= {known[r] for r in references if known.get(r)}
            originators = {case_uuid(c) for c in case_ids} | {exchange_uuid(r) for r in references}
            versions, parties = {}, {}
            for row in conn.execute(
                SQL(
                    "SELECT o.id AS originator_id, e.version, p.parties FROM unnest(%b::uuid[]) AS o(id)"
                    " CROSS JOIN LATERAL (SELECT originator_version AS version FROM {} WHERE originator_id = o.id"
                    " ORDER BY originator_version DESC LIMIT 1) AS e"
                    " CROSS JOIN LATERAL (SELECT array_agg(party) AS parties FROM {} WHERE originator_id = o.id) AS p"
                ).format(self.store.table("tocsin_events"), self.store.table("tocsin_case_parties")),
                (list(originators),),
            ):
                versions[row["originator_id"]] = row["version"]
                parties[row["originator_id"]] = frozenset(row["parties"] or ())
        return known, versions, parties

    @staticmethod
    def _outcome(status: str, item: _Accepted, case_id: str | None) -> Outcome:
        return Outcome(
            status, item.distribution_id, case_id, item.sender_id,
            encoding=item.encoding, xml_namespace=item.xml_namespace,
        )

    def _with_quarantine_ids(self, outcomes: list[Outcome], hashes: dict[int, bytes]) -> list[Outcome]:
        if not hashes:
            return outcomes
        with self.store.connect() as conn:
            ids = {
                bytes(row["sha256"]): row["id"]
                for row in conn.execute(
                    SQL("SELECT id, sha256 FROM {} WHERE sha256 = ANY(%b::bytea[])").format(
                        self.store.table("tocsin_quarantine")
                    ),
                    (list(hashes.values()),),
                )
            }
        return [
            Outcome(**{**o.__dict__, "quarantine_id": ids.get(hashes[i])}) if i in hashes else o
            for i, o in enumerate(outcomes)
        ]


def _codes(outcome: Outcome) -> list[str]:
    return [metrics.reason_code(r.get("code")) for r in outcome.reasons]


def _provenance(incoming: Incoming, sha256: bytes, message: WireMessage) -> dict:
    envelope, header = message.envelope, message.header
    return {
        "distribution_id": envelope["distributionID"],
        "message_id": header.get("messageId"),
        "sender_id": envelope.get("senderID"),
        "sender_name": (header.get("sender") or {}).get("name"),
        "recipients": list(addressees(envelope)),
        "sent_at": header.get("sentAt") or envelope.get("dateTimeSent"),
        "envelope_sent_at": envelope.get("dateTimeSent"),
        "received_at": incoming.received_at.isoformat(),
        "recorded_at": None,  # known at commit; the key stays in its place in the stored document
        "sha256": sha256.hex(),
        "size": len(incoming.raw),
        "encoding": message.encoding,
        "xml_namespace": message.xml_namespace,
        "source": incoming.source,
        "kind": message.kind,
        "status": header.get("status") or envelope.get("distributionStatus"),
    }
