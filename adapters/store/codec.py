"""An event's stored JSON document, encoded in two steps: most of it where the message is prepared,
the rest at commit.

    draft = EventDraft.of(facts, provenance)      # worker process: encodes facts and provenance
    state = draft.state(stamp, case_id)           # at commit: splices the commit time and the case in

The facts and provenance are most of an event's JSON, and the worker encodes them while the previous
batch commits; they then cross the process boundary as two byte strings instead of nested dicts, which
are costly to pickle and unpickle. Only what is known at commit (the time it is recorded and, for an
acknowledgement, its case) is spliced in then, as the library's transcoder encodes it.

Facts and provenance are plain JSON values (normalise's contract: JSON- or XML-decoded values, finite
numbers, strings), which orjson encodes seven times faster than the library's json-based transcoder;
the library decodes both alike (tests/test_event_draft.py checks it). Whatever orjson refuses (a
datetime, a Decimal, an int beyond 64 bits, a key that is not a string…) is encoded by the library's
transcoder, exactly as its mapper would.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from eventsourcing.persistence import DatetimeAsISO, DecimalAsStr, JSONTranscoder, UUIDAsHex

RECORDED_AT = "recorded_at"
_RECORDED_NULL = b'"recorded_at":null'


class _Transcoder:
    """The library's JSON transcoder with the transcodings an Application registers. Built lazily in
    each process: the library's transcoder cannot be pickled into a worker."""

    _instance: JSONTranscoder | None = None

    @classmethod
    def get(cls) -> JSONTranscoder:
        if cls._instance is None:
            transcoder = JSONTranscoder()
            for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()):
                transcoder.register(transcoding)
            cls._instance = transcoder
        return cls._instance


def encode(value: Any) -> bytes:
    return _Transcoder.get().encode(value)


# Types orjson would write its own way (a datetime as a bare string…) are left to the library instead.
_PLAIN_JSON_ONLY = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_SUBCLASS


def encode_json(value: Any) -> bytes:
    """Plain JSON values with orjson; anything else as the library's transcoder encodes it."""
    try:
        return orjson.dumps(value, option=_PLAIN_JSON_ONLY)
    except TypeError:  # orjson.JSONEncodeError included
        return encode(value)


@dataclass(frozen=True)
class Stamp:
    """The commit time, encoded once per batch."""

    timestamp: bytes  # the event's `timestamp` as the library encodes a datetime
    recorded_at: bytes  # provenance["recorded_at"]: its ISO text

    @classmethod
    def of(cls, at: datetime) -> Stamp:
        return cls(encode(at), encode(at.isoformat()))


@dataclass(frozen=True)
class EventDraft:
    facts: bytes
    provenance_head: bytes  # the provenance's JSON up to its recorded_at value…
    provenance_tail: bytes  # …and after it

    @classmethod
    def of(cls, facts: dict, provenance: dict) -> EventDraft:
        if provenance.get(RECORDED_AT, 0) is not None:
            raise ValueError("provenance must hold recorded_at=None, set at commit")
        # A raw quote in JSON text only ever delimits a string (quotes inside strings are escaped), so
        # the first '"recorded_at":null' is that key of the provenance, not text within a value.
        head, _, tail = encode_json(provenance).partition(_RECORDED_NULL)
        return cls(encode_json(facts), head + b'"recorded_at":', tail)

    def state(self, stamp: Stamp, case_id: str | None) -> bytes:
        """The stored document of the event (its `vars` less originator id and version, in their order)."""
        return b"".join((
            b'{"timestamp":', stamp.timestamp,
            b',"case_id":', encode(case_id),
            b',"facts":', self.facts,
            b',"provenance":', self.provenance_head, stamp.recorded_at, self.provenance_tail,
            b"}",
        ))
