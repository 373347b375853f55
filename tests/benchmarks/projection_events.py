"""Realistic Case events built directly (no wire parsing), for the projection benchmark and tests.

The simulator's crisis profiles (natures, vehicles sent, victims, evacuations, how long vehicles stay)
drive a generator of the facts `adapters.ingest.normalise` would produce: reports (with corrections that
change the nature or move the case), RC-RI resource statuses, EMSI casualties/evacuations/closure,
acknowledgements. Cases run in parallel along the crisis and their messages are delivered in time
order, as the hub delivers them. Deterministic for a seed. Parsing a million XML/JSON messages would
take most of an hour; this takes about a minute, and the projection reads exactly the same events.
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import heapq
import itertools
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

import orjson
from eventsourcing.utils import get_topic

from adapters.geography import get_geography
from adapters.simulator.scenarios import get_scenario
from domain.case import Case
from domain.identity import case_uuid
from domain.nature import phase_of

SCENARIOS = ("storm", "wildfire", "flood")
BACKGROUND = 0.3  # share of everyday incidents anywhere in France, besides the crisis
START = datetime(2025, 11, 2, 17, 0, tzinfo=UTC)
STATUS_STEPS = ("DECLENCHE", "DEPART", "ARRIVEE", "RETOUR")
TRANSPORT_STEPS = ("DECLENCHE", "DEPART", "ARRIVEE", "PEC", "TRANSP", "DESTIN", "RETOUR")
EVENT_CLASSES: dict[str, type[Case.MessageRecorded]] = {
    "report": Case.Reported, "resources": Case.ResourcesUpdated, "emsi": Case.SituationUpdated,
    "ack": Case.Acknowledged,
}


@dataclass(frozen=True, slots=True)
class GeneratedEvent:
    originator_id: UUID
    version: int
    kind: str  # report | resources | emsi | ack
    case_id: str
    facts: dict
    provenance: dict
    recorded_at: datetime

    def domain_event(self) -> Case.MessageRecorded:
        return EVENT_CLASSES[self.kind](
            originator_id=self.originator_id, originator_version=self.version, timestamp=self.recorded_at,
            case_id=self.case_id, facts=self.facts, provenance=self.provenance,
        )


class _Places:
    """Communes weighted by population, per département and nationwide."""

    def __init__(self) -> None:
        self.geo = get_geography()
        by_dep: dict[str, list] = {}
        for c in self.geo.communes.values():
            dep = self.geo.departements.get(c.departement)
            if dep is not None and dep.zone is not None:
                by_dep.setdefault(c.departement, []).append(c)
        self.by_dep = {d: (cs, _cumulative(max(1, c.population) ** 0.8 for c in cs)) for d, cs in by_dep.items()}
        everyone = [c for cs, _ in self.by_dep.values() for c in cs]
        self.all = (everyone, _cumulative(max(1, c.population) ** 0.8 for c in everyone))

    def pick(self, rng: random.Random, departement: str | None):
        communes, weights = self.by_dep[departement] if departement in self.by_dep else self.all
        return communes[min(bisect.bisect_right(weights, rng.random() * weights[-1]), len(communes) - 1)]

    def placement(self, commune, rng: random.Random) -> dict:
        dep = self.geo.departements[commune.departement]
        postal = commune.postal_codes[0] if commune.postal_codes else commune.insee
        by_postal = postal != commune.insee and rng.random() < 0.2
        notes = [
            f"{postal} est un code postal, pas un code INSEE : commune retenue {commune.name} ({commune.insee})"
            " d'après le point"
        ] if by_postal else []
        point = [round(46 + rng.random() * 4, 6), round(-1 + rng.random() * 7, 6)]
        return {"insee": commune.insee, "departement": commune.departement, "zone": dep.zone,
                "method": "postal-code" if by_postal else "insee", "notes": notes,
                "given_code": postal if by_postal else commune.insee, "point": point}


def _cumulative(weights) -> list[float]:
    out, total = [], 0.0
    for w in weights:
        total += w
        out.append(total)
    return out


@functools.lru_cache(maxsize=1 << 16)
def _iso(t: datetime) -> str:
    return t.astimezone(_PARIS).isoformat()


_PARIS = __import__("datetime").timezone(timedelta(hours=1))


class CrisisEvents:
    """Streams about `size` events of a mixed crisis (storm, wildfire, flood and everyday incidents)."""

    def __init__(self, size: int, *, seed: int = 1, hours: float = 48.0, partition: tuple[int, int] = (0, 1)) -> None:
        self.size, self.seed, self.hours = size, seed, hours
        self.partition = partition
        self.places = _Places()
        self.scenarios = [get_scenario(key) for key in SCENARIOS]

    def __iter__(self) -> Iterator[GeneratedEvent]:
        pending: list[tuple[datetime, int, GeneratedEvent]] = []
        planned = n = 0
        order = itertools.count()
        span = timedelta(hours=self.hours)
        while planned < self.size:
            start = START + span * (planned / self.size)
            while pending and pending[0][0] <= start:
                yield heapq.heappop(pending)[2]
            case_rng = random.Random(f"{self.seed}:{n}")
            events = self._case(n, start, case_rng)
            planned += len(events)
            if n % self.partition[1] == self.partition[0]:
                for e in events:
                    heapq.heappush(pending, (e.recorded_at, next(order), e))
            n += 1
        while pending:
            yield heapq.heappop(pending)[2]

    # ---- one case ------------------------------------------------------------------------------

    def _case(self, n: int, start: datetime, rng: random.Random) -> list[GeneratedEvent]:
        scenario = rng.choice(self.scenarios)
        profile = rng.choices(scenario.profiles, weights=[p.weight for p in scenario.profiles])[0]
        if rng.random() < BACKGROUND:
            departement = None
        else:
            deps = scenario.departements
            departement = rng.choices([d for d, _, _ in deps], weights=[w for _, w, _ in deps])[0]
        commune = self.places.pick(rng, departement)
        org = f"fr.fire.sis{commune.departement.lower()}.cgo-{commune.departement.lower()}"
        case_id = f"{org}.SC-{self.seed}-{n:08d}"
        oid = case_uuid(case_id)
        messages: list[tuple[datetime, str, dict]] = []
        placement = self.places.placement(commune, rng) if rng.random() > 0.02 else _unresolved()
        victims = rng.choices([v for v, _ in profile.victims], weights=[w for _, w in profile.victims])[0]
        nature = profile.mistyped_nature if profile.mistyped_nature and rng.random() < 0.1 else profile.nature
        messages.append((start + timedelta(minutes=1), "report",
                         self._report(case_id, start, nature, profile, victims, placement, commune, rng)))
        if nature != profile.nature or rng.random() < 0.02:
            moved = placement
            if rng.random() < 0.4:  # the correction also places the case elsewhere
                other = self.places.pick(rng, commune.departement if rng.random() < 0.7 else None)
                moved = self.places.placement(other, rng)
            messages.append((start + timedelta(minutes=rng.randint(5, 40)), "report",
                             self._report(case_id, start, profile.nature, profile, victims, moved, commune, rng)))
        vehicles = list(profile.package) + [v for v, p in profile.extras if rng.random() < p]
        on_scene = rng.randint(*profile.on_scene_min)
        messages += self._resources(case_id, org, vehicles, start, on_scene, rng)
        closed = rng.random() < 0.7
        messages += self._situations(case_id, profile, victims, start, on_scene, closed, placement, rng)
        timed: list[tuple[datetime, str, dict | None, str]] = []
        for sent, kind, facts in messages:
            timed.append((sent, kind, facts, org))
            if rng.random() < 0.25:  # the partner acknowledges (a distributionID is set below)
                partner = "fr.health.samu" + commune.departement.lower()
                timed.append((sent + timedelta(seconds=20), "ack", None, partner))
        timed.sort(key=lambda m: m[0])
        events: list[GeneratedEvent] = []
        recorded = start
        for version, (sent, kind, given, sender) in enumerate(timed, start=1):
            if kind == "ack":
                acknowledged = events[-1].provenance["distribution_id"] if events else case_id
                facts = {"refers_to": acknowledged, "refused": False, "step": "RECU", "error_distribution_id": None}
            else:
                assert given is not None, kind
                facts = given
            # Recorded in version order, as ingestion records a case's messages.
            recorded = max(recorded + timedelta(milliseconds=1), sent + timedelta(seconds=rng.uniform(0.2, 3.0)))
            events.append(self._event(oid, version, kind, case_id, facts, sent, sender, recorded))
        return events

    def _report(self, case_id, start, nature, profile, victims, placement, commune, rng) -> dict:
        loc = rng.choice(profile.location_kinds)
        return {
            "case_id": case_id,
            "sender_case_id": case_id.rsplit(".", 1)[-1],
            "creation": _iso(start),
            "nature": {"code": nature, "label": f"Nature {nature}", "official": True},
            "location_kind": {"code": loc, "label": f"Lieu {loc}", "official": True},
            "risks": [{"code": r, "label": f"Risque {r}", "official": True}
                      for r in profile.risks[: rng.randint(0, 2)]],
            "victims_count": victims,
            "main_victim": rng.choice(profile.main_victims),
            "location": {"label": None, "address": f"{rng.randint(1, 120)} rue de la République", "city": commune.name,
                         "insee_code": placement.get("given_code"), "lat": (placement.get("point") or [None])[0],
                         "lon": (placement.get("point") or [None, None])[1], "precision": "ADRESSE"},
            "placement": placement,
            "personal": {"caller_name": "Christine Michel", "caller_phone": "+33608310965",
                         "notes": [rng.choice(profile.notes)]},
        }

    def _resources(self, case_id, org, vehicles, start, on_scene, rng) -> list:
        plans = []
        for i, kind in enumerate(vehicles):
            steps = TRANSPORT_STEPS if kind in ("VSAV", "AR") and rng.random() < 0.5 else STATUS_STEPS
            offsets = sorted(rng.randint(2, 20) for _ in steps[:3]) + [
                rng.randint(20, on_scene + 20) for _ in steps[3:-1]] + [on_scene + rng.randint(10, 40)]
            plans.append((f"{org}.resource.{kind}{i}-{rng.randint(1, 999)}", kind, steps, sorted(offsets)))
        updates = sorted({0, 1, 2, 3, len(STATUS_STEPS) - 1} | ({5} if any(len(p[2]) > 4 for p in plans) else set()))
        out = []
        for u in updates[: rng.randint(2, len(updates))]:
            at = start + timedelta(minutes=max(p[3][min(u, len(p[3]) - 1)] for p in plans) + 1)
            resources = []
            for rid, kind, steps, offsets in plans:
                step = min(u, len(steps) - 1)
                status = steps[step]
                phase = phase_of(status)
                assert phase is not None, status
                resources.append({
                    "id": rid, "name": f"{kind} {rid[-3:]}", "org_id": org, "center": None,
                    "vehicle_type": "SMUR" if kind in ("VLM", "AR") else "SIS", "kind": kind,
                    "engaged_at": _iso(start + timedelta(minutes=offsets[0])), "status": status,
                    "status_label": status.title(), "phase": phase.value,
                    "status_at": _iso(start + timedelta(minutes=offsets[step])), "available": False,
                    "lat": None, "lon": None,
                })
            out.append((at, "resources", {"case_id": case_id, "resources": resources}))
        return out

    def _situations(self, case_id, profile, victims, start, on_scene, closed, placement, rng) -> list:
        if profile.emsi is None or rng.random() > profile.emsi.probability and not profile.major:
            return []
        count = 3 if profile.major else rng.randint(1, 2)
        hurt = {"0": 0, "1": 1, "PLUSIEURS": rng.randint(2, 6), "BEAUCOUP": rng.randint(7, 40)}.get(victims, 0)
        evacuated = rng.randint(*profile.evacuated) if rng.random() < profile.evacuation_probability else 0
        out = []
        for i in range(count):
            at = start + timedelta(minutes=10 + (on_scene * (i + 1)) // count)
            last = i == count - 1
            red = hurt // 5 if hurt else 0
            facts = {
                "case_id": case_id, "emsi_id": f"{case_id}-emsi-{i}", "created": _iso(at), "message_type": "UPDATE",
                "mode": "ACTUAL", "event_name": profile.key, "event_status": "COM" if last and closed else "IPR",
                "scale": "2", "risk_assessment": "STABLE", "categories": [profile.emsi.category],
                "occurred_at": _iso(start), "declared_at": _iso(start),
                "casualties": {"red": red, "yellow": max(0, hurt - red) // 2,
                               "green": max(0, hurt - red) - max(0, hurt - red) // 2,
                               "black": 1 if hurt > 10 and rng.random() < 0.2 else 0, "missing": 0},
                "evacuation": {"displaced": evacuated // 3, "evacuated": evacuated},
                "placement": placement if placement.get("insee") and rng.random() < 0.5 else None,
                "missions": [{"id": f"M{i}", "type": profile.emsi.mission,
                              "status": "COM" if last and closed else "IPR",
                              "org_id": None, "name": "#MISSION#", "start": _iso(start), "resources": []}],
                "personal": {"situation_details": "Situation en cours d'évolution"},
            }
            out.append((at, "emsi", facts))
        return out

    def _event(self, oid, version, kind, case_id, facts, sent, sender, recorded) -> GeneratedEvent:
        digest = hashlib.sha256(f"{case_id}:{version}".encode()).hexdigest()
        distribution_id = f"{sender}_{digest[:20]}"
        provenance = {
            "distribution_id": distribution_id, "message_id": distribution_id, "sender_id": sender,
            "sender_name": sender.rsplit(".", 1)[-1], "sent_at": _iso(sent), "envelope_sent_at": _iso(sent),
            "received_at": recorded.isoformat(), "recorded_at": recorded.isoformat(), "sha256": digest,
            "size": 2000 + len(digest), "encoding": "xml", "xml_namespace": None, "source": "bench",
            "kind": {
                "report": "createCase", "resources": "resourcesInfoCisu", "emsi": "emsi", "ack": "reference",
            }[kind],
            "status": "Actual",
        }
        return GeneratedEvent(oid, version, kind, case_id, facts, provenance, recorded)


def _unresolved() -> dict:
    return {"insee": None, "departement": None, "zone": None, "method": "unresolved",
            "notes": ["Ni code commune ni point : lieu non déterminé"], "given_code": None, "point": None}


def stored_state(mapper, event: GeneratedEvent) -> bytes:
    """The event's stored state, byte-compatible with `mapper.to_stored_event` (same JSON document,
    same compressor and cipher), built with orjson: encoding a million events with the library's
    transcoder takes minutes. tests/test_projections_store.py checks the mapper decodes it."""
    document = {
        "timestamp": {"_type_": "datetime_iso", "_data_": event.recorded_at.isoformat()},
        "case_id": event.case_id,
        "facts": event.facts,
        "provenance": event.provenance,
    }
    state = orjson.dumps(document)
    if mapper.compressor:
        state = mapper.compressor.compress(state)
    if mapper.cipher:
        state = mapper.cipher.encrypt(state)
    return state


def topic_of(event: GeneratedEvent) -> str:
    return _TOPICS[event.kind]


_TOPICS = {kind: get_topic(cls) for kind, cls in EVENT_CLASSES.items()}
