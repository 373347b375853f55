"""Who may see and do what: the roles, the principal (who, which role, over which territory) and every
access rule, in one place that the HTTP routes, the CLI and the replay ask (DESIGN.md, principle 4).

Visibility. Each role is bound to levels of territory (a mayor's token names a commune, a prefecture's a
département…) and sees that territory and everything inside it, nothing else. A case belongs to the
narrowest territory it could be placed in; a case that could not be placed at all is seen by
national-level principals only.

Personal data (callers, phone numbers, victims' names, health details, free texts) is shown only to roles
that act on individual people: the SDIS (rescue), the prefecture (crisis centre, information of
families) and national operational staff (COGIC, mass-casualty events). Mayors, zone staff, analysts and
auditors see the facts without them: figures and places are enough for their job, and least privilege
is the rule.

Adding a role means adding one line to ROLES (its code, its French label, its levels, its rights).
Pure: the territory tree comes in as a `Hierarchy` (adapters.geography.Geography implements it).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from domain.geography import NATIONAL, Hierarchy, Level, territory


@dataclass(frozen=True)
class Role:
    code: str
    label: str  # French, shown in the dashboard
    levels: tuple[Level, ...]  # the levels of territory a principal of this role may hold; the first by default
    personal: bool  # may see personal data
    reads: bool = True  # may read views, cases and territories (False for service accounts)
    ingests: bool = False  # may post NexSIS messages
    audits: bool = False  # may read the access log, the quarantine and a case's full audit history
    replays: bool = False  # may replay views as of a past moment and build timelines

    @property
    def default_level(self) -> Level:
        """The level of a bare territory code given with this role (`tocsin token --territory 35238`)."""
        return self.levels[0]

    def may_hold(self, level: Level) -> bool:
        return level in self.levels


_ANY = (Level.COMMUNE, Level.DEPARTEMENT, Level.ZONE, Level.NATIONAL)

ROLES: dict[str, Role] = {
    r.code: r
    for r in (
        Role("mayor", "Maire", (Level.COMMUNE,), personal=False),
        Role("prefecture", "Préfecture", (Level.DEPARTEMENT,), personal=True),
        Role("sdis", "SDIS", (Level.DEPARTEMENT,), personal=True),
        Role("zone", "État-major de zone", (Level.ZONE,), personal=False),
        Role("national", "Niveau national (COGIC)", (Level.NATIONAL,), personal=True, replays=True),
        Role("analyst", "Analyste", _ANY, personal=False, replays=True),
        Role("auditor", "Auditeur", _ANY, personal=False, audits=True, replays=True),
        Role("nexsis", "Plateforme d'échange NexSIS (compte de service)", (Level.NATIONAL,), personal=False,
             reads=False, ingests=True),
        # Manages the directory (who acts for which organisation), sees no view: domain.directory's rules.
        Role("admin", "Administrateur de l'annuaire", (Level.NATIONAL,), personal=False, reads=False),
    )
}

# The role of the CLI operator, who holds the keys on the server: an auditor with no territory limit.
OPERATOR = ROLES["auditor"]


class Denied(PermissionError):
    """An act the principal's role or territory does not allow (French message, for the caller)."""


class UnknownRole(ValueError):
    """A role code that names no role (French message)."""


def role_named(code: str) -> Role:
    """The role of this code; UnknownRole lists the valid ones."""
    role = ROLES.get(code)
    if role is None:
        raise UnknownRole(f"rôle inconnu : {code} (rôles : {role_codes()})")
    return role


def role_codes() -> str:
    """The role codes, for help texts and messages: 'mayor, prefecture, …'."""
    return ", ".join(ROLES)


def check_holds(role: Role, level: Level) -> None:
    """A role may only be granted over the levels it is bound to (no mayor of a département)."""
    if not role.may_hold(level):
        raise Denied(f"le rôle {role.code} ne peut pas porter un territoire de niveau {level.value}")


class Act(Enum):
    """What a principal may ask for, beyond seeing a territory."""

    READ = "read"  # views, cases, territories, the live stream
    REPLAY = "replay"  # views as of a past moment, timelines
    READ_ACCESS_LOG = "read-access-log"
    READ_QUARANTINE = "read-quarantine"
    READ_AUDIT_HISTORY = "read-audit-history"  # a case's events with their raw messages, whole
    POST_MESSAGES = "post-messages"


def role_may(role: Role, act: Act) -> bool:
    """What the role alone allows (the principal's territory may restrict it further: `Principal.may`)."""
    if act is Act.READ:
        return role.reads
    if act is Act.REPLAY:
        return role.replays
    if act is Act.POST_MESSAGES:
        return role.ingests
    return role.audits  # the access log, the quarantine, the audit history


_REFUSALS: Mapping[Act, str] = {
    Act.REPLAY: "le rejeu est réservé à",
    Act.READ_ACCESS_LOG: "le journal des accès est réservé à",
    Act.READ_QUARANTINE: "la quarantaine est réservée, au niveau national, à",
    Act.READ_AUDIT_HISTORY: "l'historique d'audit est réservé à",
    Act.POST_MESSAGES: "le dépôt de messages NexSIS est réservé à",
}


def refusal(role: Role, act: Act) -> str:
    """Why the act is refused, naming the roles that may do it (derived: a new role shows up by itself)."""
    if act is Act.READ:
        return f"le rôle {role.code} ne donne pas accès aux données"
    allowed = ", ".join(f"{r.label} ({r.code})" for r in ROLES.values() if role_may(r, act))
    return f"{_REFUSALS[act]} : {allowed}"


def check_role(role: Role | str, act: Act) -> None:
    """Denied unless the role (or role code) allows the act: the CLI operator's audit history, for instance."""
    known = ROLES.get(role) if isinstance(role, str) else role
    if known is None:
        raise Denied(f"rôle inconnu : {role} (rôles : {role_codes()})")
    if not role_may(known, act):
        raise Denied(refusal(known, act))


@dataclass(frozen=True)
class Principal:
    """Who is asking: a person (or a service account) with one role over one territory."""

    subject: str
    role: Role
    level: Level
    code: str
    geography: Hierarchy = field(repr=False, compare=False)
    name: str | None = None
    expires_at: float = float("inf")  # when the grant ends (epoch seconds: the token's `exp`)
    # The organisation acted for and the habilitation acted under (domain.directory): every act records them.
    organisation_id: str | None = None
    grant_id: str | None = None

    @property
    def territory(self) -> str:
        return f"{self.level.value}:{self.code}"

    @property
    def may_see_personal(self) -> bool:
        return self.role.personal

    def may(self, act: Act) -> bool:
        if act is Act.READ_QUARANTINE:
            # A refused message cannot be placed reliably: only a national perimeter sees the quarantine.
            return role_may(self.role, act) and self.level is Level.NATIONAL
        return role_may(self.role, act)

    def check(self, act: Act) -> None:
        if not self.may(act):
            raise Denied(refusal(self.role, act))

    def can_see(self, level: Level | str, code: str) -> bool:
        """Is this territory the principal's own or inside it?"""
        if not self.role.reads and not self.role.audits:
            return False
        try:
            lvl = Level(level)
        except ValueError:
            return False
        return self.geography.contains((self.level, self.code), (lvl, code))

    def can_see_placement(self, placement: Mapping[str, Any] | None) -> bool:
        """May the principal see a case placed there? Judged on the narrowest known territory."""
        placement = placement or {}
        for level, key in ((Level.COMMUNE, "insee"), (Level.DEPARTEMENT, "departement"), (Level.ZONE, "zone")):
            if placement.get(key):
                return self.can_see(level, placement[key])
        return self.can_see(Level.NATIONAL, NATIONAL) and self.level is Level.NATIONAL

    def visible(self, level: Level | str, code: str) -> tuple[Level, str]:
        """The territory, normalised, when it exists (else UnknownTerritory) and is within sight (else Denied)."""
        lvl, code = territory(level, code, known=self.geography)
        if not self.can_see(lvl, code):
            raise Denied(outside_message(lvl, code))
        return lvl, code

    def access_log_scope(self) -> dict[str, str]:
        """The access log rows an auditor reads: those of cases in its territory (all, at national level)."""
        if self.level is Level.NATIONAL:
            return {}
        return {self.level.value: self.code}

    def as_dict(self) -> dict[str, Any]:
        try:
            territory_name = self.geography.label(self.level, self.code)
        except KeyError:
            territory_name = self.code
        return {
            "subject": self.subject,
            "name": self.name,
            "role": self.role.code,
            "role_label": self.role.label,
            "level": self.level.value,
            "code": self.code,
            "territory": self.territory,
            "territory_name": territory_name,
            "may_see_personal": self.may_see_personal,
            "audits": self.role.audits,
            "organisation_id": self.organisation_id,
            "grant_id": self.grant_id,
        }


def outside_message(level: Level | str, code: str) -> str:
    """The one answer for a territory outside the principal's perimeter."""
    lvl = level.value if isinstance(level, Level) else level
    return f"accès refusé : le territoire {lvl}:{code} est hors de votre périmètre"


# ---- what of a case every role reads, and what only the roles with `personal` may --------------------
#
# A report's `personal` facts (adapters.ingest.normalise) mix two things. The description of what is
# happening and where (the call notes, the way in, the EMSI situation text) is what a mayor needs to act:
# every role that sees the case reads it, with the names and phone numbers in it masked. The data about
# people (caller, phone numbers, the victims' identity and health) is for the roles with `personal` only.

DESCRIPTION_FIELDS: dict[str, str] = {
    "notes": "Notes de l'appel",
    "situation_details": "Point de situation",
    "location_details": "Précisions sur le lieu",
    "access": "Accès",
}
PERSONAL_FIELDS: dict[str, str] = {
    "caller_name": "Appelant",
    "caller_phone": "Téléphone de l'appelant",
    "callback_phone": "Numéro de rappel",
    "caller_relation": "Lien de l'appelant avec les lieux ou la victime",
    "health_motive": "Motif de recours médical",
    "victims_details": "Victimes (identité, état)",
}
NAME_MASK = "[nom masqué]"
PHONE_MASK = "[numéro masqué]"
# A phone number: +33 or 0 then 9 digits, spaces, dots or dashes allowed between pairs.
_PHONE = re.compile(r"(?:\+\d{2}\s?|\b0)\d(?:[\s.-]?\d{2}){4}\b")
# A person as French call notes write them: a capitalised first name and a last name in capitals
# (« Christine MICHEL »), or a last name in capitals alone after a title (« Mme LECCIA »).
_NAMED = re.compile(
    r"\b(?:[A-ZÀ-Ý][a-zà-ÿ'-]+\s+|(?:M\.|Mme|Mlle|Mr|Dr)\s+)(?:[A-ZÀ-Ý][A-ZÀ-Ý'-]+\b)(?:\s+[A-ZÀ-Ý][A-ZÀ-Ý'-]+\b)*"
)
# Capitals that are not names (road numbers, services) are left alone: RD 675, SAMU, VSAV…


def _text(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("label") or value.get("code") or "")
    if isinstance(value, (list, tuple)):
        return " ; ".join(_text(v) for v in value if v)
    return "" if value is None else str(value)


def _known_names(personal: Mapping[str, Any]) -> list[str]:
    """Names the message gives in its personal fields, longest first (the whole name before its parts)."""
    names: set[str] = set()
    caller = _text(personal.get("caller_name")).strip()
    if caller:
        names.add(caller)
        names.update(part for part in caller.split() if len(part) >= 3)
    return sorted(names, key=len, reverse=True)


def mask_people(text: str, personal: Mapping[str, Any]) -> str:
    """The text with the names and phone numbers of people masked."""
    text = _PHONE.sub(PHONE_MASK, text)
    for name in _known_names(personal):
        text = re.sub(rf"(?i)(?<!\w){re.escape(name)}(?!\w)", NAME_MASK, text)
    for phone in (personal.get("caller_phone"), personal.get("callback_phone")):
        if isinstance(phone, str) and phone.strip():
            text = text.replace(phone.strip(), PHONE_MASK)
    return _NAMED.sub(NAME_MASK, text)


def case_description(personal_facts: Mapping[str, Any] | None, *, personal: bool) -> list[tuple[str, str]]:
    """(label, text) of what is happening, for every role that sees the case: masked unless `personal`."""
    facts = personal_facts or {}
    out: list[tuple[str, str]] = []
    for key, label in DESCRIPTION_FIELDS.items():
        values = facts.get(key)
        for value in values if isinstance(values, (list, tuple)) else [values]:
            text = _text(value).strip()
            if text:
                out.append((label, text if personal else mask_people(text, facts)))
    return out


def personal_details(personal_facts: Mapping[str, Any] | None, *, personal: bool) -> list[tuple[str, str]]:
    """(French label, value) of the data about people, for the roles that may see it; [] for the others."""
    if not personal:
        return []
    facts = personal_facts or {}
    return [(label, text) for key, label in PERSONAL_FIELDS.items() if (text := _text(facts.get(key)).strip())]


# ---- alerts (domain.alert) -----------------------------------------------------------------------

_AUTHORITY_OF = {"mairie": Level.COMMUNE, "prefecture": Level.DEPARTEMENT}
_RANK = {Level.COMMUNE: 0, Level.DEPARTEMENT: 1, Level.ZONE: 2, Level.NATIONAL: 3}


def organisation_territory(organisation_id: str) -> tuple[Level, str] | None:
    """The territory of a directory organisation whose id says it (`mairie.35238`, `prefecture.35`)."""
    kind, _, code = organisation_id.partition(".")
    level = _AUTHORITY_OF.get(kind)
    return (level, code) if level and code else None


_ROLE_OF_KIND = {"mairie": "mayor", "prefecture": "prefecture"}


def acts_for(principal: Principal, organisation_id: str) -> bool:
    """Does the principal act for this organisation? Its habilitation says so; a principal without one (a
    token naming only a role and a territory) acts for the organisation of its role over its territory."""
    if principal.organisation_id is not None:
        return principal.organisation_id == organisation_id
    kind = organisation_id.partition(".")[0]
    return _ROLE_OF_KIND.get(kind) == principal.role.code and organisation_territory(organisation_id) == (
        principal.level, principal.code)


def reached_by_alert(principal: Principal, reached: Iterable[Mapping[str, Any]]) -> bool:
    """Is the principal one of the people an alert reached (by person id or email), or acting for an
    organisation it reached?"""
    for person in reached:
        if principal.subject in (person.get("person_id"), person.get("email")):
            return True
        if person.get("organisation_id") and acts_for(principal, person["organisation_id"]):
            return True
    return False


def may_see_alert(principal: Principal, organisation_id: str, reached: Iterable[Mapping[str, Any]]) -> bool:
    """An alert is visible to the people it reached (and their organisation), and to the authorities above
    them: a principal whose perimeter strictly contains the alerted organisation's territory."""
    if acts_for(principal, organisation_id) or reached_by_alert(principal, reached):
        return True
    where = organisation_territory(organisation_id)
    if where is None:
        return principal.level is Level.NATIONAL and principal.role.reads
    level, code = where
    return _RANK[principal.level] > _RANK[level] and principal.can_see(level, code)


def check_may_acknowledge(principal: Principal, organisation_id: str, reached: Iterable[Mapping[str, Any]]) -> None:
    """Only someone the alert reached (or of the organisation it alerted) acknowledges it: an authority
    above sees it but does not answer for them."""
    if acts_for(principal, organisation_id) or reached_by_alert(principal, reached):
        return
    raise Denied("seules les personnes alertées peuvent accuser réception de cette alerte")


# ---- call-outs (domain.callout) ------------------------------------------------------------------

CALLOUT_ROLES = frozenset({"prefecture", "mayor", "zone", "national"})


def check_may_launch_callout(principal: Principal, organisation_ids: Iterable[str]) -> None:
    """A prefect, a mayor (their commune's crisis cell), zone or national staff call out the organisations
    of their own territory, none outside it."""
    if principal.role.code not in CALLOUT_ROLES:
        allowed = ", ".join(f"{r.label} ({r.code})" for r in ROLES.values() if r.code in CALLOUT_ROLES)
        raise Denied(f"les appels à mobilisation sont réservés à : {allowed}")
    ids = list(organisation_ids)
    if not ids:
        raise Denied("un appel à mobilisation s'adresse à au moins une organisation")
    for organisation_id in ids:
        where = organisation_territory(organisation_id)
        if where is None:
            if principal.level is not Level.NATIONAL:
                raise Denied(f"organisation hors de votre périmètre : {organisation_id}")
        elif not principal.can_see(*where):
            raise Denied(f"organisation hors de votre périmètre : {organisation_id}")


def may_see_callout(principal: Principal, organisation_ids: Iterable[str], asked: Iterable[Mapping[str, Any]],
                    launched_by: Mapping[str, Any]) -> bool:
    """Who launched it, the people asked, and the authorities above the organisations called out."""
    if principal.subject == launched_by.get("person_id"):
        return True
    asked = list(asked)
    return any(may_see_alert(principal, organisation_id, asked) for organisation_id in organisation_ids)


# ---- alerts to the population (domain.population_alert) ------------------------------------------


def may_see_population_alert(principal: Principal, insee: str) -> bool:
    """Whoever reads the commune's territory: its mairie, the authorities and services above it."""
    return principal.role.reads and principal.can_see(Level.COMMUNE, insee)


def check_may_draft_population_alert(principal: Principal, insee: str) -> None:
    """Only the commune's mairie drafts an alert to its population (and its new versions)."""
    if not acts_for(principal, f"mairie.{insee}"):
        raise Denied("seule la mairie de la commune rédige une alerte à sa population")


def check_may_decide_population_alert(principal: Principal, departement: str) -> None:
    """Only the préfecture of the commune's département approves or refuses it (and publishes it again
    after a failure)."""
    if not acts_for(principal, f"prefecture.{departement}"):
        raise Denied("seule la préfecture du département valide ou refuse une alerte à la population")


def check_may_cancel_population_alert(principal: Principal, insee: str, departement: str) -> None:
    """The mairie that drafted it, or the préfecture that decides on it, may cancel it."""
    if not (acts_for(principal, f"mairie.{insee}") or acts_for(principal, f"prefecture.{departement}")):
        raise Denied("seules la mairie de la commune et la préfecture du département annulent cette alerte")


# ---- who acted (every act of the platform records it) -----------------------------------------------

def actor(principal: Principal) -> dict[str, Any]:
    """Who did an act, as the event records it: the person, the organisation acted for, the habilitation
    acted under, the role and the territory."""
    return {"person_id": principal.subject, "name": principal.name or principal.subject,
            "organisation_id": principal.organisation_id, "grant_id": principal.grant_id,
            "role": principal.role.code, "territory": principal.territory}


# ---- crises (domain.crisis) ----------------------------------------------------------------------

# Who opens a crisis: the State's authorities (préfecture, zone, national), over their own territory.
CRISIS_ROLES = frozenset({"prefecture", "zone", "national"})


def _crisis_territory(crisis_territory: str) -> tuple[Level, str] | None:
    level, _, code = crisis_territory.partition(":")
    try:
        return Level(level), code
    except ValueError:
        return None


def check_may_open_crisis(principal: Principal, level: Level, code: str) -> None:
    if principal.role.code not in CRISIS_ROLES:
        allowed = ", ".join(f"{r.label} ({r.code})" for r in ROLES.values() if r.code in CRISIS_ROLES)
        raise Denied(f"l'ouverture d'une crise est réservée à : {allowed}")
    if not principal.can_see(level, code):
        raise Denied(outside_message(level, code))


def may_see_crisis(principal: Principal, crisis_territory: str) -> bool:
    """Everyone whose perimeter meets the crisis's territory takes part: the authorities above it and
    every organisation inside it (a mayor sees the crisis of their département)."""
    where = _crisis_territory(crisis_territory)
    if where is None or not principal.role.reads:
        return False
    return principal.can_see(*where) or principal.geography.contains(where, (principal.level, principal.code))


def check_may_manage_crisis(principal: Principal, crisis_territory: str, organisation_id: str | None) -> None:
    """Close, attach and detach: the organisation running the crisis, or a crisis authority whose perimeter
    holds the crisis's territory."""
    if organisation_id is not None and acts_for(principal, organisation_id):
        return
    where = _crisis_territory(crisis_territory)
    if principal.role.code in CRISIS_ROLES and where is not None and principal.can_see(*where):
        return
    raise Denied("seule l'autorité qui conduit la crise (ou une autorité au-dessus) peut la modifier")


# ---- alert settings (domain.alert_settings) ------------------------------------------------------

ALERT_SETTING_ROLES = frozenset({"mayor", "prefecture", "sdis", "zone", "national"})


def check_may_set_alerts(principal: Principal, organisation_id: str) -> None:
    """An organisation's own operational people set how it is alerted, nobody else (not even above it: a
    préfecture requires through the rules, it does not tune a mairie's)."""
    if principal.role.code in ALERT_SETTING_ROLES and acts_for(principal, organisation_id):
        return
    raise Denied("seules les personnes de l'organisation règlent ses alertes")


# ---- the log book and situation reports (domain.logbook) ---------------------------------------------

# Who writes in a crisis's log book and its situation reports: the organisations that act in it. Analysts
# and auditors read the history; they do not write it.
LOG_WRITERS = frozenset({"mayor", "prefecture", "sdis", "zone", "national"})


def check_may_write_log(principal: Principal) -> None:
    if principal.role.code not in LOG_WRITERS:
        allowed = ", ".join(f"{r.label} ({r.code})" for r in ROLES.values() if r.code in LOG_WRITERS)
        raise Denied(f"la main courante et les points de situation sont tenus par : {allowed}")


def may_read_log_entry(reader_organisation: str | None, entry_organisation: str | None, visibility: str) -> bool:
    """An entry for everyone in the crisis is read by all who take part in it (the caller checked that);
    an entry for an organisation only by the people acting for that very organisation, not even by the
    authorities above it. `reader_organisation` None with `visibility` organisation: never."""
    if visibility == "crisis":
        return True
    return reader_organisation is not None and reader_organisation == entry_organisation


# ---- requests between authorities (domain.request) --------------------------------------------------
#
# A party is a directory organisation as a request records it: {"id", "kind", "name", "level", "code"}.
# `acting` is the organisation the principal acts for (its habilitation's, or the one seeded for its role
# and territory: adapters.crisis.crises.organisation_of); None for roles that act for none.

def _party_territory(party: Mapping[str, Any]) -> tuple[Level, str] | None:
    try:
        return Level(party["level"]), str(party["code"])
    except (KeyError, ValueError):
        return None


def is_parent_territory(geography: Hierarchy, child: tuple[Level, str], parent: tuple[Level, str]) -> bool:
    """Is `parent` the territory directly above `child` (commune → département → zone → nation)?"""
    return _RANK[parent[0]] == _RANK[child[0]] + 1 and geography.contains(parent, child)


def check_may_address(principal: Principal, acting: str | None, issuer: Mapping[str, Any],
                      addressee: Mapping[str, Any], kind: str) -> None:
    """Who may send a request to whom: an organisation acts for itself, towards an organisation within its
    territory (a préfecture to the mairies, the SDIS and the partners of its département), of its parent
    territory (a mairie to its département's préfecture or SDIS), or its direct parent authority (a
    préfecture to its zone, a zone to national staff). A mairie asks its SDIS for information only."""
    if acting is None or acting != issuer.get("id") or not principal.role.reads:
        raise Denied("seule une organisation de l'annuaire, pour laquelle vous agissez, peut émettre une demande")
    if addressee.get("id") == issuer.get("id"):
        raise Denied("une organisation ne s'adresse pas de demande à elle-même")
    here, there = _party_territory(issuer), _party_territory(addressee)
    if here is None or there is None:
        raise Denied(f"organisation hors de votre périmètre : {addressee.get('id')}")
    geography = principal.geography
    if not (geography.contains(here, there) or is_parent_territory(geography, here, there)):
        raise Denied(f"organisation hors de votre périmètre : {addressee.get('id')}")
    if issuer.get("kind") == "mairie" and addressee.get("kind") == "sdis" and kind != "information":
        raise Denied("une mairie ne demande au SDIS que des informations")


def may_see_request(principal: Principal, acting: str | None, parties: Iterable[Mapping[str, Any]]) -> bool:
    """A request is seen by the people of its parties (issuer, addressee, the authorities it was escalated
    to) and by the State's authorities above a party (a préfecture, zone or national perimeter strictly
    containing the party's territory); not by an SDIS or an analyst who is no party to it."""
    if not principal.role.reads:
        return False
    above = principal.role.code in CRISIS_ROLES
    for party in parties:
        if acting is not None and acting == party.get("id"):
            return True
        where = _party_territory(party)
        if above and where is not None and _RANK[principal.level] > _RANK[where[0]] and principal.can_see(*where):
            return True
    return False


def may_replay_request(principal: Principal, parties: Iterable[Mapping[str, Any]]) -> bool:
    """A replay (analysts, auditors, national staff) shows the requests of which a party sits in the
    replayer's perimeter: what happened there, without acting on it."""
    if not principal.may(Act.REPLAY):
        return False
    return any(where is not None and principal.can_see(*where) for where in map(_party_territory, parties))


def check_may_act_on_request(acting: str | None, who: str, issuer: Mapping[str, Any],
                             owner: Mapping[str, Any]) -> None:
    """Only the owner (the addressee, or the authority it was escalated to) answers and progresses; only the
    issuer gives information, cancels and closes (domain.request.TRANSITIONS says which act is whose)."""
    party = issuer if who == "issuer" else owner
    if acting is None or acting != party.get("id"):
        if who == "issuer":
            raise Denied("seule l'organisation qui a émis la demande peut faire cela")
        raise Denied("seule l'organisation destinataire de la demande peut y répondre ou la faire avancer")


def escalation_target(owner: Mapping[str, Any], parent: tuple[Level, str] | None) -> tuple[str, Level, str] | None:
    """(kind, level, code) of the authority a request goes up to from its owner: the préfecture of a
    département's other organisations (SDIS, partners) and of a commune's, the zone's COZ above a
    préfecture, national staff (COGIC) above a zone; None at the top. `parent` is the territory directly
    above the owner's."""
    where = _party_territory(owner)
    if where is None:
        return None
    if where[0] is Level.DEPARTEMENT and owner.get("kind") != "prefecture":
        return "prefecture", where[0], where[1]
    if parent is None:
        return None
    authority = {Level.DEPARTEMENT: "prefecture", Level.ZONE: "coz", Level.NATIONAL: "cogic"}.get(parent[0])
    return (authority, parent[0], parent[1]) if authority else None
