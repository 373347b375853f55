"""The write side's acts, one implementation whatever the door: HTTP, the CLI and NATS call these.

    ingest_message(ingestor, incoming) -> Outcome                  # POST /api/v1/messages
    ingest_batch(ingestor, batch, position) -> [Outcome]           # NATS (a message alone, after a failed batch)
    ingest_prepared(ingestor, prepared, position) -> [Outcome]     # NATS (batches prepared in worker processes)
    ingest_files(ingestor, files, batch_size) -> (file, Outcome)…  # tocsin ingest FILES
    retry_quarantined(ingestor, entry_id, replacement) -> Outcome  # tocsin quarantine retry

Entry points translate their input into `Incoming` values (or file paths), call one of these, and
translate the outcomes back (an RC-REF acknowledgement, a summary line, a stream acknowledgement).
Sealing the audit chain is `replay.audit.chain.seal`; rebuilding the views `projections.store.rebuild`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

from adapters.cisu.wire import MEDICAL_RECORD
from adapters.ingest.ingestion import ACCEPTED, DUPLICATE, QUARANTINED, Incoming, Ingestor, Outcome, Prepared
from adapters.ingest.quarantine import get_entry, record_retry
from adapters.store.event_store import Position

# The wire encodings a file's suffix tells apart (anything else is sniffed from its bytes).
WIRE_SUFFIXES = {".json": "application/json", ".xml": "application/xml"}


def ingest_message(ingestor: Ingestor, incoming: Incoming) -> Outcome:
    """One message: one event, a duplicate recognised, or one quarantine entry."""
    return ingestor.ingest(incoming)


def ingest_batch(ingestor: Ingestor, batch: Sequence[Incoming], position: Position | None = None) -> list[Outcome]:
    """A batch in one transaction, with the source's position when it has one (a NATS sequence)."""
    return ingestor.ingest_batch(batch, position)


def ingest_prepared(
    ingestor: Ingestor, prepared: Sequence[Prepared], position: Position | None = None
) -> list[Outcome]:
    """A batch already prepared (parsed, validated, sealed) elsewhere, e.g. in worker processes."""
    return ingestor.commit_prepared(prepared, position)


def ingest_files(ingestor: Ingestor, files: Sequence[Path], batch_size: int) -> Iterator[tuple[Path, Outcome]]:
    """Message files, `batch_size` to a transaction, each with its outcome, in order."""
    for start in range(0, len(files), batch_size):
        chunk = files[start : start + batch_size]
        batch = [Incoming(f.read_bytes(), WIRE_SUFFIXES.get(f.suffix), source=f"file:{f}") for f in chunk]
        yield from zip(chunk, ingestor.ingest_batch(batch), strict=True)


def retry_quarantined(ingestor: Ingestor, entry_id: int, replacement: bytes | None = None) -> Outcome | None:
    """Ingest a quarantined message again (or a corrected version of it) and record the result on the
    entry; None if there is no such entry."""
    found = get_entry(ingestor.store, entry_id)
    if found is None:
        return None
    entry, raw = found
    if replacement is None and any(r.get("code") == MEDICAL_RECORD for r in entry.reasons):
        # Its bytes were never kept (adapters.ingest.ingestion): there is nothing to ingest again, and the
        # refusal stands whatever the message said.
        return Outcome(QUARANTINED, entry.distribution_id, None, entry.sender_id, tuple(entry.reasons),
                       quarantine_id=entry.id)
    source = f"quarantine:{entry_id}" + (":corrected" if replacement is not None else "")
    raw = replacement if replacement is not None else raw
    outcome = ingest_message(ingestor, Incoming(raw, entry.content_type, source))
    record_retry(ingestor.store, entry_id, outcome.distribution_id if outcome.status in (ACCEPTED, DUPLICATE) else None)
    return outcome
