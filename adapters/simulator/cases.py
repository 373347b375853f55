"""Planning one simulated case: what happened where, which vehicles went, and every message it
produces with its send and delivery times (the content itself is built later, by builders.py).

Deliberate anomalies are recorded on each planned message (``Spec.anomalies``) so that tests and
benchmarks know what a correct ingestion must notice:

================================  =================================================================
``mistyped-nature``               first createCase with a nature the operator corrects later
``corrected-nature``              the later createCase (same caseId) with the right nature
``wrong-commune``                 first createCase naming the wrong commune (the point is right)
``corrected-location``            the later createCase with the right commune
``postal-code-as-insee``          createCase whose ``inseeCode`` holds the commune's postal code
``no-insee-code``                 createCase with a point but no ``inseeCode``
``insee-not-expressible``         Corsican commune: its code (2A…/2B…) fails the schema's ``[0-9]{5}``
``late-create-case``              createCase delivered after some other messages of its case
``before-create-case``            message delivered before the createCase of its case
``delayed-delivery``              delivered minutes after it was sent (hub retry)
================================  =================================================================
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass

from adapters.geography import get_geography
from domain.geography import Commune

from .clock import LocalClock
from .fleet import Fleet, Vehicle, distance_km
from .organisations import Organisation, fire_org, health_org
from .people import CALLER_RELATIONS, Person, gender_of, person, street
from .scenarios import IncidentProfile
from .world import World

# Message kinds (the CISU use-case keys).
CREATE_CASE, RESOURCES, EMSI, REFERENCE = "createCase", "resourcesInfoCisu", "emsi", "reference"

# Rates of the deliberate anomalies.
MISTYPED_NATURE_RATE = 0.3  # of the profiles that have a typical typing mistake
WRONG_COMMUNE_RATE = 0.02
POSTAL_CODE_RATE = 0.03
NO_INSEE_RATE = 0.02
LATE_CREATE_RATE = 0.02
DELAYED_RATE = 0.004
ACK_RATES = {CREATE_CASE: 0.9, EMSI: 0.6, RESOURCES: 0.05}
OPTIONAL_STATUS_RATE = 0.85  # intermediate statuses a centre does not always transmit
CANCEL_RATE = 0.06  # of the vehicles beyond the first


StatusAt = tuple[str, float, tuple[float, float]]
"""A vehicle's status as (code, epoch seconds, (lat, lon))."""


class Run:
    """One vehicle's engagement on the case: its statuses in order."""

    __slots__ = ("vehicle", "statuses", "mission_id")

    def __init__(self, vehicle: Vehicle, statuses: list[StatusAt], mission_id: str) -> None:
        self.vehicle, self.statuses, self.mission_id = vehicle, statuses, mission_id

    def status_at(self, ts: float) -> int | None:
        """Index of the last status reached at ``ts`` (None before dispatch)."""
        found = None
        for index, (_, at, _) in enumerate(self.statuses):
            if at > ts:
                break
            found = index
        return found


@dataclass(frozen=True, slots=True)
class StatusEntries:
    """What a resourcesInfoCisu reports: (index in ``Case.runs``, index in that run's statuses) pairs."""

    entries: tuple[tuple[int, int], ...]


@dataclass(frozen=True, slots=True)
class Acknowledgement:
    """What a reference acknowledges, and whether it says the message was received (``step``)."""

    distribution_id: str
    with_step: bool


class Spec:
    """One planned wire message."""

    __slots__ = ("arrival", "sent", "kind", "sender", "recipient", "case", "payload", "distribution_id",
                 "distribution_kind", "anomalies", "duplicate_of", "raw", "content_type", "namespace",
                 "duplicated")

    def __init__(self, case: Case, kind: str, sent: float, sender: Organisation, recipient: Organisation,
                 payload: Payload, distribution_id: str, distribution_kind: str = "Report") -> None:
        self.case, self.kind, self.sent, self.sender, self.recipient = case, kind, sent, sender, recipient
        self.payload, self.distribution_id, self.distribution_kind = payload, distribution_id, distribution_kind
        self.arrival = sent
        self.anomalies: tuple[str, ...] = ()
        self.duplicate_of: Spec | None = None
        self.raw: bytes | None = None  # kept only until its duplicate is sent
        self.content_type = ""
        self.namespace: str | None = None  # XML RC-DE namespace, None for JSON
        self.duplicated = False

    def flag(self, anomaly: str) -> None:
        if anomaly not in self.anomalies:
            self.anomalies += (anomaly,)


class CreateVariant:
    """What one createCase of the case says (the first one, or a correction)."""

    __slots__ = ("nature", "commune", "insee_mode", "correction")

    def __init__(self, nature: str, commune: Commune, insee_mode: str, correction: str | None) -> None:
        # insee_mode: 'insee' | 'postal' | 'name-only' | 'no-city'
        self.nature, self.commune, self.insee_mode, self.correction = nature, commune, insee_mode, correction


class EmsiSnapshot:
    __slots__ = ("at", "status", "context_id", "previous_id", "casualties", "evac", "trend")

    def __init__(self, at: float, status: str, context_id: str, previous_id: str | None,
                 casualties: tuple[int, int, int, int, int] | None, evac: tuple[int, int] | None,
                 trend: str) -> None:
        self.at, self.status, self.context_id, self.previous_id = at, status, context_id, previous_id
        self.casualties, self.evac, self.trend = casualties, evac, trend


Payload = CreateVariant | StatusEntries | EmsiSnapshot | Acknowledgement
"""What builders.py needs to write a message of each kind (createCase, resourcesInfoCisu, emsi, reference)."""


class Case:
    """Everything planned for one case; CasePlanner.plan fills every attribute before anyone reads it."""

    __slots__ = (
        "index", "profile", "departement", "fire", "health", "creator", "partner", "case_id",
        "sender_case_id", "called", "created", "commune", "point", "address", "on_road", "loc_id",
        "location_kind", "risks", "victims", "main_victim", "motive", "caller", "caller_type",
        "caller_relation", "victim", "victim_text", "note", "alert_id", "call_taker_id", "runs",
        "hospital", "dispatched", "specs", "precision", "reporting", "first_nature",
    )
    index: int
    profile: IncidentProfile
    departement: str
    fire: Organisation
    health: Organisation
    creator: Organisation
    partner: Organisation
    case_id: str
    sender_case_id: str
    called: float  # epoch seconds
    created: float
    dispatched: float
    commune: Commune
    point: tuple[float, float]  # (lat, lon)
    address: tuple[str, str, str]  # (number, way type, way name)
    on_road: bool
    precision: str
    reporting: str
    loc_id: str
    location_kind: str
    risks: tuple[str, ...]
    victims: str  # HubSante.nbVictimes code
    main_victim: str
    motive: str | None
    victim_text: str | None
    caller_type: str
    caller_relation: str
    caller: Person
    victim: Person
    alert_id: str
    call_taker_id: str
    hospital: tuple[str, float, float]  # (name, lat, lon)
    note: str
    first_nature: str
    runs: list[Run]
    specs: list[Spec]

    def __init__(self) -> None:
        self.runs: list[Run] = []
        self.specs: list[Spec] = []


def new_uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


class CasePlanner:
    """Plans cases one after the other for one simulation run (keeps its per-run counters)."""

    def __init__(self, world: World, fleet: Fleet, clock: LocalClock, rng: random.Random, run_id: str = "") -> None:
        self.world, self.fleet, self.clock, self.rng = world, fleet, clock, rng
        # In every case id: two runs (another seed, scenario or start) never share a case, so a store
        # that already holds a crisis does not merge the next one into it.
        self.run_id = run_id
        self._numbers: dict[str, int] = {}
        self._hospitals = {
            plan.departement: (f"CH {plan.smur_sites[0][0]}", plan.smur_sites[0][2], plan.smur_sites[0][3])
            for plan in world.stations
        }
        self._road_speed = 40.0 if world.scenario.key == "storm" else 55.0  # km/h; storm: fallen trees

    # -- identity and place ----------------------------------------------------------------------
    def _next(self, key: str) -> int:
        self._numbers[key] = number = self._numbers.get(key, 0) + 1
        return number

    def plan(self, index: int, called: float, fraction: float) -> Case:
        rng, world = self.rng, self.world
        case = Case()
        case.index = index
        profile = case.profile = world.pick_profile(rng)
        deps = world.scenario.departements
        dep = case.departement = rng.choices(deps, weights=world.scenario.departement_weights(fraction))[0][0]
        case.fire, case.health = fire_org(dep), health_org(dep)
        if rng.random() < profile.health_origin:
            case.creator, case.partner = case.health, case.fire
            number = self._next(case.health.id)
            dep3 = dep + "0" if len(dep) == 2 else dep
            case.sender_case_id = f"DRFR15{dep3}{self.clock.compact_date(called, '%y%m%d')}{self.run_id}{number:05d}"
        else:
            case.creator, case.partner = case.fire, case.health
            number = self._next(case.fire.id) + 1000
            case.sender_case_id = f"SC-{self.clock.compact_date(called)}-sis{dep}-{self.run_id}AT{number:05d}"
        case.case_id = f"{case.creator.id}.{case.sender_case_id}"
        case.called = called
        case.created = called + rng.uniform(60, 240)
        commune = case.commune = world.pick_commune(dep, rng)
        case.point = self._point_in(commune.insee)
        case.on_road = profile.on_road and rng.random() < 0.8
        case.address = ("", "", rng.choice(world.scenario.roads)) if case.on_road else street(rng)
        case.precision = rng.choice(("ADRESSE", "ADRESSE", "ADRESSE", "EXACTE", "RUE"))
        case.reporting = "ATTENTION" if profile.major or rng.random() < 0.05 else "STANDARD"
        case.loc_id = new_uuid(rng)
        case.location_kind = rng.choice(profile.location_kinds)
        case.risks = tuple(rng.sample(profile.risks, k=min(len(profile.risks), rng.randint(0, 2))))
        codes, weights = zip(*profile.victims, strict=True)
        case.victims = rng.choices(codes, weights=weights)[0]
        case.main_victim = rng.choice(profile.main_victims)
        case.motive = rng.choice(profile.health_motives) if profile.health_motives and case.victims != "0" else None
        case.victim_text = rng.choice(profile.victim_texts) if profile.victim_texts and case.victims != "0" else None
        case.caller_type, case.caller_relation, caller_gender = rng.choice(CALLER_RELATIONS)
        if case.caller_type == "SUJET":  # the victim calls: one person, as the victim text describes
            case.caller = case.victim = person(rng, gender_of(case.victim_text))
        else:
            case.caller = person(rng, None if caller_gender is None else caller_gender == "F")
            case.victim = person(rng, gender_of(case.victim_text))
        alert_number = self._next("alert:" + dep)
        case.alert_id = f"{case.creator.name.upper()}-{self.clock.compact_date(called)}-AL{alert_number:05d}"
        case.call_taker_id = f"{'ARM' if case.creator is case.health else 'OTA'}{rng.randint(100, 999)}"
        case.hospital = self._hospitals[dep]
        case.note = rng.choice(profile.notes).format(
            road=case.address[2] if case.on_road else f"route de {commune.name}",
            street=" ".join(p for p in case.address if p) + f" à {commune.name}",
            # Call notes write last names in capitals, as call-takers do (the CISU examples too).
            commune=commune.name, caller=f"{case.caller.first} {case.caller.last.upper()}",
            victim=f"{case.victim.first} {case.victim.last.upper()}")
        self._plan_runs(case, profile)
        self._plan_messages(case, profile)
        return case

    def _point_in(self, insee: str) -> tuple[float, float]:
        """A point inside the commune, with the 7 decimals of the examples (about 1 cm).

        Rounding can push a point drawn right on the boundary into the neighbour: draw again then,
        so that locating the point on the wire gives back the commune.
        """
        geo = get_geography()
        for _ in range(20):
            lat, lon = geo.random_point_in(insee, self.rng)
            point = (round(lat, 7), round(lon, 7))
            if geo.locate(*point) == insee:
                return point
        return point  # pragma: no cover - a commune thinner than a centimetre

    # -- vehicles --------------------------------------------------------------------------------
    def _plan_runs(self, case: Case, profile: IncidentProfile) -> None:
        rng = self.rng
        codes = list(profile.package) + [code for code, p in profile.extras if rng.random() < p]
        dispatch = case.created + rng.uniform(10, 90)
        case.dispatched = dispatch
        if profile.major:
            duration = rng.uniform(*profile.on_scene_min) * 60
            first_wave = max(3, len(codes) // 3)
            waves = [dispatch] * first_wave + sorted(
                dispatch + rng.uniform(15 * 60, 0.4 * duration) for _ in codes[first_wave:])
            ends: list[float | None] = [dispatch + duration * rng.uniform(0.6, 1.0) for _ in codes]
        else:
            waves = [dispatch] * len(codes)
            ends = [None] * len(codes)
        lat, lon = case.point
        victims = case.victims in ("1", "PLUSIEURS", "BEAUCOUP")
        engaged: set[str] = set()  # a vehicle serves a case once (its statuses then read as one lifecycle)
        for position, (code, start, end) in enumerate(zip(codes, waves, ends, strict=True)):
            vehicle = self.fleet.engage(code, case.departement, case.commune.insee, lat, lon, start, engaged)
            engaged.add(vehicle.resource_id)
            statuses = self._lifecycle(case, profile, vehicle, start, end, victims, cancellable=position > 0)
            self.fleet.release(vehicle, statuses[-1][1])
            case.runs.append(Run(vehicle, statuses, f"{case.sender_case_id}-M{position + 1:02d}"))

    def _lifecycle(self, case: Case, profile: IncidentProfile, vehicle: Vehicle, start: float,
                   end: float | None, victims: bool, cancellable: bool) -> list[StatusAt]:
        rng, kind = self.rng, vehicle.kind
        base = (round(vehicle.lat, 6), round(vehicle.lon, 6))
        scene = case.point
        hospital = (round(case.hospital[1], 6), round(case.hospital[2], 6))
        if vehicle.reinforcement:  # a column staged somewhere in the area, not at a known station
            travel = rng.uniform(20, 60) * 60
        else:
            speed = 220.0 if kind.code in ("DRAGON", "PELICAN") else self._road_speed
            km = distance_km(base[0], base[1], scene[0], scene[1])
            travel = min(max(km / speed * 3600 + rng.uniform(60, 240), 240), 75 * 60)
        out: list[StatusAt] = []
        t = start
        if kind.vehicle_type == "SMUR" and rng.random() < 0.5:
            out.append(("DECISION", t, base))
            t += rng.uniform(20, 90)
        out.append(("DECLENCHE", t, base))
        t += rng.uniform(45, 180)
        out.append(("DEPART", t, base))
        if cancellable and rng.random() < CANCEL_RATE:
            t += travel * rng.uniform(0.2, 0.7)
            out.append(("ANNULE", t, base))
            t += travel * rng.uniform(0.3, 0.8)
            out.append(("REN-BASE", t, base))
            return out
        t += travel
        out.append(("ARRIVEE", t, scene))

        def maybe(status: str, delay: tuple[float, float], where: tuple[float, float]) -> None:
            nonlocal t
            t += rng.uniform(*delay) * 60
            if rng.random() < OPTIONAL_STATUS_RATE:
                out.append((status, t, where))

        transports = kind.transports and victims and rng.random() < (0.3 if kind.code == "DRAGON" else 0.8)
        if transports:
            maybe("PEC", (1, 4), scene)
            maybe("BILAN", (8, 20), scene)
            maybe("ORIENTAT", (3, 8), scene)
            t += rng.uniform(3, 10) * 60
            out.append(("TRANSP", t, scene))
            t += rng.uniform(15, 45) * 60
            out.append(("DESTIN", t, hospital))
            maybe("FINPEC", (10, 30), hospital)
            t += rng.uniform(5, 15) * 60
            out.append(("RETOUR", t, hospital))
        elif kind.medical_level == "MED" and victims:
            maybe("PEC", (1, 3), scene)
            maybe("BILAN", (10, 25), scene)
            t += rng.uniform(10, 40) * 60
            out.append(("RETOUR", t, scene))
        else:
            work = (end - t) if end is not None else rng.uniform(*profile.on_scene_min) * 60
            t += max(work, rng.uniform(20, 40) * 60)
            out.append(("RETOUR", t, scene))
        maybe("RET-BASE", (1, 3), scene)
        t += travel * rng.uniform(0.9, 1.3)
        out.append(("REN-BASE", t, base))
        return out

    # -- messages --------------------------------------------------------------------------------
    def _spec(self, case: Case, kind: str, sent: float, sender: Organisation, recipient: Organisation,
              payload: Payload, distribution_kind: str = "Report") -> Spec:
        spec = Spec(case, kind, sent, sender, recipient, payload, f"{sender.id}_{new_uuid(self.rng)}",
                    distribution_kind)
        spec.arrival = sent + self.rng.uniform(0.2, 2.5)
        if self.rng.random() < DELAYED_RATE:
            spec.arrival += self.rng.uniform(60, 900)
            spec.flag("delayed-delivery")
        case.specs.append(spec)
        return spec

    def _plan_messages(self, case: Case, profile: IncidentProfile) -> None:
        rng = self.rng
        corsican = not case.commune.insee.isdigit()
        first_mode = "insee"
        first_commune = case.commune
        first_nature = profile.nature
        first_flags: list[str] = []
        correction_flags: list[str] = []
        if corsican:
            first_mode = "name-only"
            first_flags.append("insee-not-expressible")
        roll = rng.random()
        if not corsican and roll < WRONG_COMMUNE_RATE:
            other = self.world.pick_commune(case.departement, rng)
            if other.insee != case.commune.insee:
                first_commune = other
                first_flags.append("wrong-commune")
                correction_flags.append("corrected-location")
        elif not corsican and roll < WRONG_COMMUNE_RATE + POSTAL_CODE_RATE:
            postal = next((p for p in case.commune.postal_codes if p != case.commune.insee and p.isdigit()), None)
            if postal is not None:
                first_mode = "postal"
                first_flags.append("postal-code-as-insee")
        elif not corsican and roll < WRONG_COMMUNE_RATE + POSTAL_CODE_RATE + NO_INSEE_RATE:
            first_mode = rng.choice(("name-only", "no-city"))
            first_flags.append("no-insee-code")
        if profile.mistyped_nature and rng.random() < MISTYPED_NATURE_RATE:
            first_nature = profile.mistyped_nature
            first_flags.append("mistyped-nature")
            correction_flags.append("corrected-nature")

        case.first_nature = first_nature
        create = self._spec(case, CREATE_CASE, case.created, case.creator, case.partner,
                            CreateVariant(first_nature, first_commune, first_mode, None))
        for flag in first_flags:
            create.flag(flag)

        self._plan_resource_messages(case)
        self._plan_emsi(case, profile)

        # A createCase delivered late (hub outage): some of its case's messages arrive before it.
        others = [s for s in case.specs if s is not create]
        if others and rng.random() < LATE_CREATE_RATE:
            create.arrival = min(s.arrival for s in others) + rng.uniform(20, 900)

        if correction_flags:
            sent = max(create.arrival + 120, case.created + rng.uniform(5, 40) * 60)
            texts = []
            if "corrected-nature" in correction_flags:
                texts.append("Nature de l'intervention requalifiée après reconnaissance")
            if "corrected-location" in correction_flags:
                texts.append(f"Commune corrigée : {case.commune.name} (et non {first_commune.name})")
            correction = self._spec(
                case, CREATE_CASE, sent, case.creator, case.partner,
                CreateVariant(profile.nature, case.commune, "name-only" if corsican else "insee", " ; ".join(texts)),
                "Update")
            for flag in correction_flags:
                correction.flag(flag)
            if corsican:
                correction.flag("insee-not-expressible")

        # Acknowledgements: the partner references what it received.
        for spec in list(case.specs):
            if spec.kind in ACK_RATES and rng.random() < ACK_RATES[spec.kind]:
                self._spec(case, REFERENCE, spec.arrival + rng.uniform(1, 8), spec.recipient, spec.sender,
                           Acknowledgement(spec.distribution_id, rng.random() < 0.5), "Ack")

        # Whether planned so or by a delayed delivery, flag what arrives before the createCase.
        for spec in case.specs:
            if spec.arrival < create.arrival and spec is not create:
                spec.flag("before-create-case")
                create.flag("late-create-case")

    def _plan_resource_messages(self, case: Case) -> None:
        """One resourcesInfoCisu per status change, changes less than a minute apart sent together."""
        rng = self.rng
        events = sorted(
            (at, run_index, status_index, case.runs[run_index].vehicle.kind.vehicle_type)
            for run_index, run in enumerate(case.runs)
            for status_index, (_, at, _) in enumerate(run.statuses)
        )
        groups: list[tuple[float, str, list[tuple[int, int]]]] = []
        open_by_type: dict[str, tuple[float, list[tuple[int, int]]]] = {}
        for at, run_index, status_index, vehicle_type in events:
            current = open_by_type.get(vehicle_type)
            if current is None or at - current[0] > 60 or any(r == run_index for r, _ in current[1]):
                current = (at, [])
                open_by_type[vehicle_type] = current
                groups.append((at, vehicle_type, current[1]))
            current[1].append((run_index, status_index))
        for _, vehicle_type, entries in groups:
            last = max(case.runs[r].statuses[s][1] for r, s in entries)
            if rng.random() < 0.2:  # sometimes the whole picture: every engaged vehicle of that service
                listed = {r for r, _ in entries}
                for run_index, run in enumerate(case.runs):
                    if run_index not in listed and run.vehicle.kind.vehicle_type == vehicle_type:
                        reached = run.status_at(last)
                        if reached is not None:
                            entries.append((run_index, reached))
            sender, recipient = (case.health, case.fire) if vehicle_type == "SMUR" else (case.fire, case.health)
            self._spec(case, RESOURCES, last + rng.uniform(2, 20), sender, recipient, StatusEntries(tuple(entries)))

    def _plan_emsi(self, case: Case, profile: IncidentProfile) -> None:
        rng, emsi = self.rng, profile.emsi
        if emsi is None or not (profile.major or rng.random() < emsi.probability):
            return
        arrivals = [at for run in case.runs for code, at, _ in run.statuses if code == "ARRIVEE"]
        if not arrivals:
            return
        first = min(arrivals) + rng.uniform(5, 15) * 60
        releases = [at for run in case.runs for code, at, _ in run.statuses if code in ("RETOUR", "ANNULE")]
        closed = max(releases + [first]) + rng.uniform(5, 20) * 60
        moments = [first]
        if profile.major:
            t = first
            while True:
                t += rng.uniform(30, 75) * 60
                if t >= closed - 10 * 60:
                    break
                moments.append(t)
        elif rng.random() < 0.4:
            moments.append(first + (closed - first) * rng.uniform(0.3, 0.7))
        moments.append(closed)

        total = {"0": 0, "1": 1, "PLUSIEURS": rng.randint(2, 5), "BEAUCOUP": rng.randint(6, 25),
                 "INCONNU": rng.randint(0, 2), "NON DEFINI": 0}[case.victims]
        red = sum(rng.random() < (0.15 if total < 4 else 0.06) for _ in range(total))
        black = sum(rng.random() < 0.02 for _ in range(total - red)) if profile.major else 0
        yellow = sum(rng.random() < 0.35 for _ in range(total - red - black))
        green = total - red - black - yellow
        evacuating = profile.evacuated[1] > 0 and rng.random() < profile.evacuation_probability
        peak = rng.randint(*profile.evacuated) if evacuating else 0
        sheltered_share = rng.uniform(0.3, 0.6)
        remaining_share = rng.uniform(0.1, 0.5) if profile.major else 0.0

        previous: str | None = None
        last_evac = 0
        for number, at in enumerate(moments):
            progress = (at - first) / (closed - first) if closed > first else 1.0
            final = number == len(moments) - 1
            revealed = 1.0 if final else min(1.0, 0.5 + 0.5 * progress * 1.5)
            casualties = None if case.victims == "0" else (
                round(red * revealed), round(yellow * revealed), round(green * revealed),
                round(black * revealed), 0 if final or not profile.major else rng.randint(0, 2))
            evac = None
            if evacuating:
                # Evacuations rise to a peak, then people go home and only the worst-hit stay away.
                if progress <= 0.4:
                    evacuated = peak * (0.3 + 0.7 * progress / 0.4)
                else:
                    evacuated = peak * (1.0 - (1.0 - remaining_share) * (progress - 0.4) / 0.6)
                evacuated = max(0, round(evacuated))
                evac = (round(evacuated * sheltered_share), evacuated)
                trend = "NCREA" if evacuated > last_evac else ("STABLE" if evacuated == last_evac else "DECREA")
                last_evac = evacuated
            else:
                trend = "STABLE" if not final else "DECREA"
            context_id = new_uuid(rng)
            snapshot = EmsiSnapshot(at, "COM" if final else "IPR", context_id, previous, casualties, evac, trend)
            previous = context_id
            self._spec(case, EMSI, at, case.fire, case.health, snapshot)
