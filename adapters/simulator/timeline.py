"""The simulation loop: cases one after the other along the crisis, messages streamed in delivery
order, exactly ``size`` of them.

Streaming without holding the run in memory: case start times are a function of the share of the
message budget already planned (mapped through the crisis's intensity curve), so they only grow.
Every message of a case is delivered after the case starts, hence once the next case's start is
known, every pending message delivered before it can be sent. Memory is bounded by the cases still
running (a few thousand messages at most), whatever ``size`` is.
"""

from __future__ import annotations

import base64
import hashlib
import heapq
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from adapters.cisu import to_json_bytes, to_xml_bytes, wrap_use_case
from adapters.cisu.reference import CISU_NS, RC_DE_NS

from .builders import BUILDERS
from .cases import Case, CasePlanner, Spec
from .clock import LocalClock, to_epoch
from .fleet import Fleet
from .world import World, get_world

JSON, XML = "application/json", "application/xml"
MIN_HOURS, MAX_HOURS = 6.0, 48.0
MESSAGES_PER_HOUR = 500  # size / this = crisis length, within [MIN_HOURS, MAX_HOURS]


@dataclass(frozen=True, slots=True)
class SimulatedMessage:
    raw: bytes
    content_type: str  # 'application/json' or 'application/xml'
    distribution_id: str
    case_id: str  # for a reference: the case of the message it acknowledges
    kind: str  # createCase | resourcesInfoCisu | emsi | reference
    sent_at: datetime  # dateTimeSent (French local offset); delivery order may differ
    is_duplicate: bool  # same raw bytes as an earlier message (hub re-sending)
    anomalies: tuple[str, ...] = ()  # deliberate oddities, see adapters/simulator/cases.py


def crisis_hours(size: int) -> float:
    return min(MAX_HOURS, max(MIN_HOURS, size / MESSAGES_PER_HOUR))


def simulate(scenario: str = "storm", *, size: int = 1000, seed: int = 1, start: datetime | None = None,
             xml_ratio: float = 0.7, duplicate_ratio: float = 0.01) -> Iterator[SimulatedMessage]:
    """Stream ``size`` wire messages of a seeded crisis (same arguments, same bytes)."""
    world = get_world(scenario)  # raises ValueError for an unknown scenario
    if size < 0:
        raise ValueError("size must be >= 0")
    if not 0.0 <= xml_ratio <= 1.0 or not 0.0 <= duplicate_ratio < 1.0:
        raise ValueError("xml_ratio must be in [0, 1] and duplicate_ratio in [0, 1)")
    t0 = to_epoch(start if start is not None else world.scenario.start)
    return _run(world, size, seed, t0, xml_ratio, duplicate_ratio)


def run_id(scenario: str, seed: int, t0: float) -> str:
    """Six letters and digits naming one simulated crisis (its scenario, seed and start), put in its case ids."""
    digest = hashlib.blake2b(f"{scenario}:{seed}:{t0:.0f}".encode(), digest_size=4).digest()
    return base64.b32encode(digest).decode().rstrip("=")[:6]


def _run(world: World, size: int, seed: int, t0: float, xml_ratio: float,
         duplicate_ratio: float) -> Iterator[SimulatedMessage]:
    rng = random.Random(f"{world.scenario.key}:{seed}")
    clock = LocalClock()
    duration = crisis_hours(size) * 3600
    planner = CasePlanner(world, Fleet(world.stations, world.scenario.reinforcement_from), clock, rng,
                          run_id(world.scenario.key, seed, t0))
    pending: list[tuple[float, int, Spec]] = []
    planned = sequence = index = 0
    while planned < size:
        fraction = world.time_fraction(planned / size)
        called = t0 + fraction * duration
        while pending and pending[0][0] <= called:
            yield _emit(heapq.heappop(pending)[2], clock)
        case = planner.plan(index, called, fraction)
        index += 1
        specs = _with_duplicates(case, rng, duplicate_ratio)
        if len(specs) > size - planned:
            specs = _truncated(case, specs, size - planned)
        for spec in specs:
            if spec.duplicate_of is None:
                if rng.random() < xml_ratio:
                    spec.content_type = XML
                    spec.namespace = CISU_NS if spec.sender.uses_cisu_namespace else RC_DE_NS
                else:
                    spec.content_type = JSON
            heapq.heappush(pending, (spec.arrival, sequence, spec))
            sequence += 1
        planned += len(specs)
    while pending:
        yield _emit(heapq.heappop(pending)[2], clock)


def _with_duplicates(case: Case, rng: random.Random, ratio: float) -> list[Spec]:
    specs = list(case.specs)
    if ratio <= 0:
        return specs
    for spec in case.specs:
        if rng.random() < ratio:
            duplicate = Spec(case, spec.kind, spec.sent, spec.sender, spec.recipient, spec.payload,
                             spec.distribution_id, spec.distribution_kind)
            duplicate.duplicate_of = spec
            duplicate.anomalies = spec.anomalies
            duplicate.arrival = spec.arrival + rng.uniform(2, 300)  # a retry after a lost acknowledgement
            spec.duplicated = True
            specs.append(duplicate)
    return specs


def _truncated(case: Case, specs: list[Spec], keep: int) -> list[Spec]:
    """The case's first ``keep`` messages by send time, always including its first createCase."""
    create = case.specs[0]
    ordered = sorted((s for s in specs if s is not create),
                     key=lambda s: (s.sent, s.duplicate_of is not None))
    kept = [create, *ordered[: keep - 1]] if keep > 0 else []
    kept_ids = {id(s) for s in kept}
    for spec in kept:
        if spec.duplicate_of is not None and id(spec.duplicate_of) not in kept_ids:
            raise AssertionError("a duplicate outlived its original")  # pragma: no cover - by the sort
    return kept


def _emit(spec: Spec, clock: LocalClock) -> SimulatedMessage:
    original = spec.duplicate_of
    case = spec.case
    if original is not None:
        raw, content_type = original.raw, original.content_type
        original.raw = None  # one duplicate per message: release the bytes
        assert raw is not None
        return SimulatedMessage(raw, content_type, spec.distribution_id, case.case_id, spec.kind,
                                clock.datetime(spec.sent), True, spec.anomalies)
    use_case = BUILDERS[spec.kind](spec, clock)
    # wrap_use_case deep-copies the use case (a large share of the cost of a message); ours is
    # built for this message only, so wrap an empty one and put ours in its place.
    wire = wrap_use_case(spec.kind, {}, distribution_id=spec.distribution_id, sender_id=spec.sender.id,
                         sent_at=clock.iso(spec.sent), recipient_id=spec.recipient.id,
                         kind_of_distribution=spec.distribution_kind)
    message = wire["content"][0]["jsonContent"]["embeddedJsonContent"]["message"]
    assert message[spec.kind] == {}
    message[spec.kind] = use_case
    if spec.content_type == XML:
        raw = to_xml_bytes(wire, namespace=spec.namespace or RC_DE_NS)
    else:
        raw = to_json_bytes(wire)
    if spec.duplicated:
        spec.raw = raw
    return SimulatedMessage(raw, spec.content_type, spec.distribution_id, case.case_id, spec.kind,
                            clock.datetime(spec.sent), False, spec.anomalies)
