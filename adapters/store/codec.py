"""The one codec of stored events: the JSON document of each event, its topic, and the compression and
encryption around it, written at ingestion and read by the views, replay and audit.

The domain (domain.case) defines the event classes and their fields; this module knows how they are
stored. A stored state is, before compression (LZ4) and encryption (AES-GCM, adapters.store.cipher):

    {"timestamp": {"_type_": "datetime_iso", "_data_": ISO}, "case_id": …, "facts": {…}, "provenance": {…}}

that is the event's `vars` less originator id and version, in their order, as the library's mapper
writes them; the topic is the library's topic of the event class.

Writing, in two steps: most of the document where the message is prepared, the rest at commit.

    draft = EventDraft.of(facts, provenance)      # worker process: encodes facts and provenance
    state = draft.state(stamp, case_id)           # at commit: splices the commit time and the case in

The facts and provenance are most of an event's JSON, and the worker encodes them while the previous
batch commits; they then cross the process boundary as two byte strings instead of nested dicts, which
are costly to pickle and unpickle. Only what is known at commit (the time it is recorded and, for an
acknowledgement, its case) is spliced in then, as the library's transcoder encodes it.

Facts and provenance are plain JSON values (normalise's contract: JSON- or XML-decoded values, finite
numbers, strings), which orjson encodes much faster than the library's json-based transcoder; the
library decodes both alike (tests/integration/test_event_draft.py checks it). Whatever orjson refuses
(a datetime, a Decimal, an int beyond 64 bits, a key that is not a string…) is encoded by the library's
transcoder, exactly as its mapper would.

Reading: `EventDecoder` turns stored rows into `CaseEvent` tuples without the mapper for the common
case, and through the mapper (which runs upcasters) for anything else.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple
from uuid import UUID

import lz4.frame
import orjson
from eventsourcing.cryptography import AESCipher
from eventsourcing.persistence import (
    Cipher,
    Compressor,
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    Mapper,
    StoredEvent,
    UUIDAsHex,
)
from eventsourcing.utils import get_topic, resolve_topic

from adapters.store.cipher import bare_decrypter
from domain.case import EVENT_CLASS_BY_KIND, Case, Exchange

# ---- topics -------------------------------------------------------------------------------------

CASE_TOPICS: dict[str, str] = {kind: get_topic(cls) for kind, cls in EVENT_CLASS_BY_KIND.items()}
EXCHANGE_TOPIC = get_topic(Exchange.AcknowledgementRecorded)


def topic(kind: str, case_id: str | None) -> str:
    """The stored topic of a message's event: its kind's Case event when it has a case, else the
    Exchange's (an acknowledgement of a message Tocsin has not seen)."""
    return CASE_TOPICS[kind] if case_id else EXCHANGE_TOPIC


# ---- compression and encryption ------------------------------------------------------------------


class Lz4Compressor(Compressor):
    """LZ4 frames for event states, raw messages and checkpoints. On 1–2 KB records, zlib spends most of
    its time setting up its stream; LZ4 compresses and decompresses several times faster, for records
    somewhat larger than zlib's (still a third smaller than plain JSON). Stores written before with zlib
    stay readable: a frame starts with LZ4's magic number, anything else is read as zlib."""

    def compress(self, data: bytes) -> bytes:
        return lz4.frame.compress(data)

    def decompress(self, data: bytes) -> bytes:
        if data[:4] == _LZ4_MAGIC:
            return lz4.frame.decompress(data)
        return zlib.decompress(data)


_LZ4_MAGIC = b"\x04\x22\x4d\x18"


@dataclass(frozen=True)
class Sealer:
    """Compress then encrypt, with the store's compressor and cipher. Plain picklable objects (the cipher
    holds its key), so a worker process can seal raw messages and event states as the store would."""

    compressor: Compressor
    cipher: Cipher

    def __call__(self, data: bytes) -> bytes:
        return self.cipher.encrypt(self.compressor.compress(data))


# ---- writing ------------------------------------------------------------------------------------

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


# ---- reading ------------------------------------------------------------------------------------


class CaseEvent(NamedTuple):
    """What the views and replay need of one stored Case event (a tuple: millions are built per rebuild)."""

    notification_id: int
    originator_id: UUID
    kind: str  # domain.case_state kinds (createCase, emsi, …)
    case_id: str
    facts: dict
    provenance: dict
    recorded_at: datetime  # the event's timestamp: when Tocsin recorded the message


class EventDecoder:
    """Decodes the stored Case events, as fast as the library's mapper allows.

    The mapper decrypts, decompresses then decodes JSON with a Python object hook for every dict;
    the views only need the facts (plain JSON) and the timestamp. So the same cipher and compressor
    are used, JSON is parsed with orjson, and anything unexpected (another encoding of a custom type,
    an upcast class version) goes through `mapper.to_domain_event` itself.
    """

    def __init__(self, mapper: Mapper) -> None:
        self.mapper = mapper
        self._decrypt = _decrypter(mapper.cipher)
        self._decompress: Callable[[bytes], bytes] = mapper.compressor.decompress if mapper.compressor else bytes
        self._kinds: dict[str, tuple[str, bool] | None] = {}

    def kind(self, topic: str) -> tuple[str, bool] | None:
        """(case kind, fast path allowed) of a topic; None for events the views ignore."""
        if topic not in self._kinds:
            try:
                cls = resolve_topic(topic)
            except Exception:  # an unknown topic is not a case event
                cls = None
            if isinstance(cls, type) and issubclass(cls, Case.MessageRecorded):
                # An upcast class version must go through the mapper, which runs the upcasters.
                self._kinds[topic] = (cls.kind, getattr(cls, "class_version", 1) == 1)
            else:
                self._kinds[topic] = None
        return self._kinds[topic]

    def decode(self, rows: Iterable[Sequence[Any]]) -> list[CaseEvent]:
        """(notification_id, originator_id, originator_version, topic, state) rows -> case events.

        A rebuild runs this loop a million times: everything it calls is bound once, outside it,
        and the common case (a current Case event, read without the mapper) runs inline."""
        out: list[CaseEvent] = []
        append, kinds, kind_of, slow = out.append, self._kinds, self.kind, self._slow
        decrypt, decompress = self._decrypt, self._decompress
        loads, fromiso, new, case_event = orjson.loads, datetime.fromisoformat, tuple.__new__, CaseEvent
        for nid, oid, version, topic, state in rows:
            known = kinds[topic] if topic in kinds else kind_of(topic)
            if known is None:
                continue
            data = bytes(state)
            if known[1]:
                plain = decompress(decrypt(data))
                # The only transcoded value of a Case event is its timestamp: any other marker -> the mapper.
                if plain.count(_TYPE_MARK) == 1:
                    try:
                        d = loads(plain)
                        stamp = d["timestamp"]
                        if stamp["_type_"] == "datetime_iso" and "class_version" not in d:
                            append(new(case_event, (
                                nid, oid, known[0], d["case_id"], d["facts"], d["provenance"], fromiso(stamp["_data_"]),
                            )))
                            continue
                    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                        pass
            append(slow(nid, oid, version, topic, data))
        return out

    def unseal(self, state: bytes) -> bytes:
        """A stored state decrypted and decompressed (its JSON, not parsed)."""
        return self._decompress(self._decrypt(state))

    def _slow(self, nid: int, oid: UUID, version: int, topic: str, state: bytes) -> CaseEvent:
        domain_event = self.mapper.to_domain_event(StoredEvent(oid, version, topic, state))
        assert isinstance(domain_event, Case.MessageRecorded)
        return CaseEvent(
            nid, oid, domain_event.kind, domain_event.case_id, domain_event.facts, domain_event.provenance,
            domain_event.timestamp,
        )


def _decrypter(cipher: Cipher | None) -> Callable[[bytes], bytes]:
    """The cipher's decrypt; for AES-GCM (the library's cipher or the store's), the store cipher's layout
    read with no method call of the cipher nor checks in the rebuild's loop."""
    if cipher is None:
        return bytes
    if isinstance(cipher, AESCipher):
        return bare_decrypter(cipher.key)
    return cipher.decrypt


_TYPE_MARK = b'"_type_"'
