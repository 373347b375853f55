"""The directory's vocabulary: organisations, people and the habilitations that let a person act for an
organisation, and how a habilitation becomes a `domain.access.Principal`.

What a person may see and do comes from the organisation they act for (a mairie, a préfecture, an
SDIS…), never from a claim in a login token: a habilitation names the organisation and the role held in
it, and the organisation's territory is the principal's perimeter. One person may hold several
habilitations and chooses, per session, the one they act under; every act records it.

Pure: the store, the seeding from reference data, the CSV import and the lookups live in
`adapters.directory`; the rules of who may grant what live here so that the API, the CLI and the
demonstration login ask the same question.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol
from urllib.parse import urlsplit

from domain.access import Principal, check_holds, role_named
from domain.geography import NATIONAL, Hierarchy, Level, UnknownTerritory, parse_territory


class OrganisationKind(StrEnum):
    """The kinds of the directory's CSV (`organisation_kind` column) and of the API."""

    MAIRIE = "mairie"
    EPCI = "epci"
    PREFECTURE = "prefecture"
    SDIS = "sdis"
    COZ = "coz"
    COGIC = "cogic"
    PARTENAIRE = "partenaire"
    NEXSIS = "nexsis"  # the NexSIS exchange platform, which the `nexsis` service accounts act for


@dataclass(frozen=True)
class Grant:
    """One active habilitation, as login and the access policy need it (read from the directory)."""

    id: str  # the habilitation's id
    person_id: str
    person_name: str
    email: str  # lower-cased: people are matched by email (ProConnect's `sub` differs per service)
    organisation_id: str
    organisation_name: str
    organisation_kind: OrganisationKind
    role: str  # a `domain.access.ROLES` code
    level: Level  # the organisation's territory
    code: str
    until: float | None = None  # epoch seconds; None: no end date
    position: str | None = None  # the person's position in the organisation (Maire, Chef du SIDPC…)

    @property
    def territory(self) -> str:
        return f"{self.level.value}:{self.code}"


class Habilitations(Protocol):
    """What login needs from the directory (implemented in `adapters.directory`)."""

    def active_for_email(self, email: str) -> Sequence[Grant]:
        """The person's habilitations in force now, any organisation (empty: nobody to let in)."""
        ...

    def active(self, grant_id: str) -> Grant | None:
        """The habilitation, if still in force (revoked or expired: None): checked on every request."""
        ...


def normalise_email(email: str) -> str:
    """The directory's key for a person: trimmed and lower-cased (emails are matched case-insensitively)."""
    return email.strip().lower()


class DirectoryError(ValueError):
    """A directory entry or act that breaks a rule (French message, for users)."""


# ---- kinds: their level of territory and the role they give -------------------------------------------


@dataclass(frozen=True)
class Kind:
    kind: OrganisationKind
    label: str  # French
    levels: tuple[Level, ...]  # where an organisation of this kind may sit; the first is where it is seeded
    role: str  # the `domain.access.ROLES` code a habilitation in it gives by default
    seeded: bool  # one per territory, created from the reference geography (its id is `kind.code`)


_ANY_LEVEL = (Level.COMMUNE, Level.DEPARTEMENT, Level.ZONE, Level.NATIONAL)

# EPCI: the territory tree has no intercommunal level, so an EPCI sits in the département of its seat and
# reads it as an analyst does: figures of its communes and the rest of the département, no personal data
# (a mayor's role cannot hold a département, and a préfecture's would show personal data). Partners
# (Croix-Rouge, network operators…) sit at any level and read the same way, least privilege first.
KINDS: dict[OrganisationKind, Kind] = {
    k.kind: k
    for k in (
        Kind(OrganisationKind.MAIRIE, "Mairie", (Level.COMMUNE,), "mayor", seeded=True),
        Kind(OrganisationKind.EPCI, "EPCI", (Level.DEPARTEMENT,), "analyst", seeded=False),
        Kind(OrganisationKind.PREFECTURE, "Préfecture", (Level.DEPARTEMENT,), "prefecture", seeded=True),
        Kind(OrganisationKind.SDIS, "SDIS", (Level.DEPARTEMENT,), "sdis", seeded=True),
        Kind(OrganisationKind.COZ, "COZ (état-major de zone)", (Level.ZONE,), "zone", seeded=True),
        Kind(OrganisationKind.COGIC, "COGIC (niveau national)", (Level.NATIONAL,), "national", seeded=True),
        Kind(OrganisationKind.PARTENAIRE, "Partenaire", _ANY_LEVEL, "analyst", seeded=False),
        Kind(OrganisationKind.NEXSIS, "Plateforme d'échange NexSIS", (Level.NATIONAL,), "nexsis", seeded=True),
    )
}
# The kinds of the CSV (the exchange platform is seeded, never imported).
CSV_KINDS = tuple(k for k in OrganisationKind if k is not OrganisationKind.NEXSIS)

# The kind of organisation a bearer token of each role acts for (`tocsin token --role R`).
KIND_OF_ROLE: dict[str, OrganisationKind] = {
    "mayor": OrganisationKind.MAIRIE,
    "prefecture": OrganisationKind.PREFECTURE,
    "sdis": OrganisationKind.SDIS,
    "zone": OrganisationKind.COZ,
    "national": OrganisationKind.COGIC,
    "nexsis": OrganisationKind.NEXSIS,
}

# Roles a habilitation may carry in any organisation besides its kind's: narrower ones (no personal data,
# no operational act); the directory's administrators sit in the COGIC.
_NARROWER = ("analyst", "auditor")
ADMIN_ROLE = "admin"


def kind_named(text: str) -> OrganisationKind:
    try:
        return OrganisationKind((text or "").strip().lower())
    except ValueError:
        raise DirectoryError(
            f"type d'organisation inconnu : {text!r} (types : {', '.join(k.value for k in CSV_KINDS)})"
        ) from None


def roles_in(kind: OrganisationKind) -> tuple[str, ...]:
    """The roles a habilitation in an organisation of this kind may carry."""
    own = KINDS[kind].role
    extra = (ADMIN_ROLE,) if kind is OrganisationKind.COGIC else ()
    return (own, *(r for r in _NARROWER if r != own), *extra)


def check_role_in(kind: OrganisationKind, role: str) -> None:
    if role not in roles_in(kind):
        raise DirectoryError(
            f"le rôle {role} ne peut pas être donné dans une organisation de type {kind.value}"
            f" (rôles possibles : {', '.join(roles_in(kind))})"
        )


def check_level(kind: OrganisationKind, level: Level) -> None:
    info = KINDS[kind]
    if level not in info.levels:
        expected = " ou ".join(lv.value for lv in info.levels)
        raise DirectoryError(f"une organisation de type {kind.value} a un territoire de niveau {expected},"
                             f" pas {level.value}")


# ---- ids --------------------------------------------------------------------------------------------

_SLUG = re.compile(r"[^a-z0-9]+")


def slug(text: str) -> str:
    """'Rennes Métropole' -> 'rennes-metropole' (ASCII, for ids)."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return _SLUG.sub("-", plain).strip("-")


def organisation_id(kind: OrganisationKind, level: Level, code: str, name: str | None = None) -> str:
    """The organisation's id: `mairie.35238`, `prefecture.35`, `coz.ouest`, `cogic.FR`, `nexsis.FR` for the
    kinds with one organisation per territory (seeded); `epci.35.rennes-metropole` for the others, which
    several organisations of a territory share, told apart by name. Deterministic: importing the same row
    twice names the same organisation."""
    if KINDS[kind].seeded:
        return f"{kind.value}.{code}"
    key = slug(name or "")
    if not key:
        raise DirectoryError(f"une organisation de type {kind.value} doit avoir un nom")
    return f"{kind.value}.{code}.{key}"


def seeded_organisation_id(role: str, level: Level, code: str) -> str | None:
    """The seeded organisation a bearer token of this role over this territory acts for (None for roles
    that act for no organisation of their own: analysts, auditors, administrators). Pure: no lookup."""
    kind = KIND_OF_ROLE.get(role)
    if kind is None or level not in KINDS[kind].levels:
        return None
    return organisation_id(kind, level, code)


def mairie_name(commune: str) -> str:
    """'Mairie de Rennes', 'Mairie d'Angers', 'Mairie du Mans', 'Mairie des Sables-d'Olonne'."""
    for article, contracted in (("Le ", "du "), ("Les ", "des ")):
        if commune.startswith(article):
            return f"Mairie {contracted}{commune[len(article):]}"
    if unicodedata.normalize("NFKD", commune[:1]).lower()[:1] in "aeiouy" or commune[:1] == "H":
        return f"Mairie d'{commune}"
    return f"Mairie de {commune}"


@dataclass(frozen=True)
class Organisation:
    id: str
    kind: OrganisationKind
    name: str
    level: Level
    code: str
    siret: str | None = None
    nexsis_id: str | None = None

    @property
    def territory(self) -> str:
        return f"{self.level.value}:{self.code}"


def seeded_organisations(
    communes: Sequence[tuple[str, str]],
    departements: Sequence[tuple[str, str]],
    zones: Sequence[tuple[str, str]],
) -> list[Organisation]:
    """Every commune's mairie, every département's préfecture and SDIS, every zone's COZ, the COGIC and the
    NexSIS exchange platform, from (code, name) pairs of the reference geography."""
    out = [
        Organisation(organisation_id(OrganisationKind.COGIC, Level.NATIONAL, NATIONAL), OrganisationKind.COGIC,
                     "COGIC – Centre opérationnel de gestion interministérielle des crises", Level.NATIONAL, NATIONAL),
        Organisation(organisation_id(OrganisationKind.NEXSIS, Level.NATIONAL, NATIONAL), OrganisationKind.NEXSIS,
                     "Plateforme d'échange NexSIS", Level.NATIONAL, NATIONAL),
    ]
    for code, name in zones:
        out.append(Organisation(f"coz.{code}", OrganisationKind.COZ, f"COZ – zone {name}", Level.ZONE, code))
    for code, name in departements:
        out.append(Organisation(f"prefecture.{code}", OrganisationKind.PREFECTURE, f"Préfecture – {name} ({code})",
                                Level.DEPARTEMENT, code))
        # NexSIS names an SDIS `fr.fire.sdis<département>` (lower case: 2a, 2b).
        out.append(Organisation(f"sdis.{code}", OrganisationKind.SDIS, f"SDIS – {name} ({code})", Level.DEPARTEMENT,
                                code, nexsis_id=f"fr.fire.sdis{code.lower()}"))
    for code, name in communes:
        out.append(Organisation(f"mairie.{code}", OrganisationKind.MAIRIE, mairie_name(name), Level.COMMUNE, code))
    return out


# ---- positions ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Position:
    label: str
    kinds: tuple[OrganisationKind, ...]  # where the position exists
    role: str | None = None  # None: the organisation kind's role


_K = OrganisationKind
POSITIONS: tuple[Position, ...] = (
    Position("Maire", (_K.MAIRIE,)),
    Position("Adjoint au maire", (_K.MAIRIE,)),
    Position("Adjointe au maire", (_K.MAIRIE,)),
    Position("Secrétaire de mairie", (_K.MAIRIE,)),
    Position("Directeur général des services", (_K.MAIRIE, _K.EPCI)),
    Position("Président", (_K.EPCI, _K.PARTENAIRE)),
    Position("Préfet", (_K.PREFECTURE,)),
    Position("Sous-préfet", (_K.PREFECTURE,)),
    Position("Directeur de cabinet", (_K.PREFECTURE,)),
    Position("Chef du SIDPC", (_K.PREFECTURE,)),
    Position("Agent du SIDPC", (_K.PREFECTURE,)),
    Position("Directeur départemental", (_K.SDIS,)),
    Position("Chef de salle CODIS", (_K.SDIS,)),
    Position("Officier CODIS", (_K.SDIS,)),
    Position("Chef d'état-major de zone", (_K.COZ,)),
    Position("Officier COZ", (_K.COZ,)),
    Position("Officier COGIC", (_K.COGIC,)),
    Position("Chef de salle COGIC", (_K.COGIC,)),
    Position("Correspondant", (_K.PARTENAIRE, _K.EPCI)),
    Position("Analyste", tuple(CSV_KINDS), "analyst"),
    Position("Auditeur", tuple(CSV_KINDS), "auditor"),
    Position("Administrateur de l'annuaire", (_K.COGIC,), ADMIN_ROLE),
)


def _position_key(text: str) -> str:
    return slug(text.replace("’", "'"))


_POSITIONS = {_position_key(p.label): p for p in POSITIONS}


def position_role(kind: OrganisationKind, position: str) -> tuple[str, str]:
    """(role, position as written in the directory) for a person's position in an organisation of this
    kind. A known position is checked against the kind (no Maire in an SDIS) and may name a narrower
    role (Analyste, Auditeur); a position the list does not know is kept as written, with the kind's role."""
    text = " ".join((position or "").split())
    if not text:
        raise DirectoryError("fonction manquante")
    if len(text) > 120:
        raise DirectoryError("fonction trop longue (120 caractères au plus)")
    known = _POSITIONS.get(_position_key(text))
    if known is None:
        return KINDS[kind].role, text
    if kind not in known.kinds:
        raise DirectoryError(f"la fonction « {known.label} » n'existe pas dans une organisation de type {kind.value}")
    return known.role or KINDS[kind].role, known.label


# ---- validation ------------------------------------------------------------------------------------

_EMAIL = re.compile(r"^[^@\s,;<>\"]+@[^@\s,;<>\"]+\.[^@\s,;<>\"]+$")
_PHONE = re.compile(r"^\+?[0-9 .\-()]{6,25}$")
_SIRET = re.compile(r"^[0-9]{14}$")


def check_email(email: str) -> str:
    e = normalise_email(email)
    if not e:
        raise DirectoryError("adresse électronique manquante")
    if len(e) > 254 or not _EMAIL.match(e):
        raise DirectoryError(f"adresse électronique invalide : {email.strip()!r}")
    return e


def check_phone(phone: str) -> str:
    p = " ".join((phone or "").split())
    if p and (not _PHONE.match(p) or sum(c.isdigit() for c in p) < 6):
        raise DirectoryError(f"numéro de téléphone invalide : {p!r}")
    return p


def check_name(name: str, what: str = "nom") -> str:
    n = " ".join((name or "").split())
    if not n:
        raise DirectoryError(f"{what} manquant")
    if len(n) > 200:
        raise DirectoryError(f"{what} trop long (200 caractères au plus)")
    if any(unicodedata.category(c).startswith("C") for c in n):
        raise DirectoryError(f"{what} : caractères de contrôle refusés")
    return n


def check_siret(siret: str | None) -> str | None:
    s = (siret or "").replace(" ", "")
    if s and not _SIRET.match(s):
        raise DirectoryError(f"SIRET invalide : {siret!r} (14 chiffres)")
    return s or None


def organisation_territory(kind: OrganisationKind, text: str, known: Hierarchy) -> tuple[Level, str]:
    """The territory of an organisation of this kind, read by the one territory parser."""
    try:
        level, code = parse_territory(text, default=KINDS[kind].levels[0], known=known)
    except UnknownTerritory as e:
        raise DirectoryError(str(e)) from None
    check_level(kind, level)
    return level, code


# ---- who may grant for whom ---------------------------------------------------------------------------

# What each granting role grants for: the kinds of organisation under its territory, and the kinds at its
# own territory (an EPCI sits at its département's). A préfecture for its mairies, EPCI, SDIS and partners;
# a zone for its préfectures and partners; the national level for the zones and national partners.
_GRANTS_FOR: dict[str, tuple[tuple[OrganisationKind, ...], tuple[OrganisationKind, ...]]] = {
    "prefecture": ((_K.MAIRIE, _K.PARTENAIRE), (_K.SDIS, _K.EPCI, _K.PARTENAIRE)),
    "zone": ((_K.PREFECTURE, _K.PARTENAIRE), (_K.PARTENAIRE,)),
    "national": ((_K.COZ, _K.PARTENAIRE), (_K.PARTENAIRE,)),
}


def may_grant(role: str, level: Level, code: str, target: Organisation, known: Hierarchy) -> bool:
    """May a principal of this role over this territory grant (or revoke) habilitations in `target`?"""
    if role == ADMIN_ROLE:
        return True
    under, same = _GRANTS_FOR.get(role, ((), ()))
    if (target.level, target.code) == (level, code):
        return target.kind in same
    return target.kind in under and known.contains((level, code), (target.level, target.code))


def grant_refusal(role: str, target: Organisation) -> str:
    if role not in _GRANTS_FOR:
        return (f"le rôle {role} ne donne pas d'habilitations"
                " (réservé aux préfectures, zones, niveau national et administrateurs)")
    kinds = dict.fromkeys(k.value for group in _GRANTS_FOR[role] for k in group)
    return (f"le rôle {role} ne donne d'habilitations que pour : {', '.join(kinds)} de son territoire,"
            f" pas pour {target.name}")


def may_set_duty(role: str, level: Level, code: str, acts_for: str | None, target: Organisation,
                 known: Hierarchy) -> bool:
    """May a principal set (or remove) the on-duty schedule of `target`? Its own people acting with the
    organisation's operational role (a mayor for the mairie, the préfecture's staff for the préfecture),
    and whoever grants habilitations in it (its parent authority, an administrator)."""
    if acts_for == target.id and role == KINDS[target.kind].role:
        return True
    return may_grant(role, level, code, target, known)


def duty_refusal(target: Organisation) -> str:
    return (f"le planning d'astreinte de {target.name} est tenu par ses membres et par l'autorité qui y donne"
            " les habilitations")


def may_read_directory(role: str, reads: bool, level: Level, code: str, target: tuple[Level, str],
                       known: Hierarchy) -> bool:
    """Which organisations (and their people) a principal sees in the directory: those of its territory and
    those above it, whom it reports to (a mayor sees its préfecture, SDIS, COZ and the COGIC), not its
    neighbours'. Administrators see all; roles that read nothing (service accounts) see nothing."""
    if role == ADMIN_ROLE:
        return True
    if not reads:
        return False
    return known.contains((level, code), target) or known.contains(target, (level, code))


# Who sees people's work contacts (email, telephone): the operational roles that must reach them in a crisis
# and the administrators; analysts and auditors see names and positions only.
CONTACT_ROLES = frozenset({"mayor", "prefecture", "sdis", "zone", "national", ADMIN_ROLE})


def principal_for(grant: Grant, geography: Hierarchy, *, expires_at: float = float("inf")) -> Principal:
    """The principal a person acts as under this habilitation: the grant's role over its organisation's
    territory, naming the organisation and the habilitation (every act records them), until the
    habilitation or the session (`expires_at`) ends, whichever comes first. The subject is the person's
    id, not their email: what acts record (the access log) carries no personal data. Denied or UnknownRole
    for a grant the access policy cannot hold (a role bound to another level of territory)."""
    role = role_named(grant.role)
    check_holds(role, grant.level)
    until = float("inf") if grant.until is None else grant.until
    return Principal(grant.person_id, role, grant.level, grant.code, geography, name=grant.person_name,
                     expires_at=min(expires_at, until), organisation_id=grant.organisation_id, grant_id=grant.id)


def operator_principal(organisation: Organisation, operator: str, geography: Hierarchy) -> Principal:
    """The CLI operator (who holds the server's keys) acting for an organisation: the organisation's own
    role over its territory, with no habilitation (acts record the operator's login name instead)."""
    role = role_named(KINDS[organisation.kind].role)
    check_holds(role, organisation.level)
    return Principal(operator, role, organisation.level, organisation.code, geography,
                     name=f"opérateur ({operator})", organisation_id=organisation.id)


# ---- Web Push subscriptions ----------------------------------------------------------------------------

_B64URL = re.compile(r"^[A-Za-z0-9_-]+={0,2}$")
_LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})
MAX_PUSH_SUBSCRIPTIONS = 10  # browsers of one person; beyond, the oldest would be forgotten by hand


def _b64url_bytes(text: str) -> int:
    """The number of bytes a base64url text decodes to (padding optional)."""
    body = text.rstrip("=")
    return len(body) * 3 // 4


def check_push_subscription(endpoint: str, keys: dict[str, str]) -> dict:
    """A browser's subscription (`PushSubscription.toJSON()`), checked before Tocsin posts to it: an HTTPS
    endpoint (plain HTTP only on this machine, for development and tests: Tocsin must not be made to post
    to arbitrary addresses in clear), the P-256 public key (65 bytes) and the 16-byte auth secret, as
    RFC 8291 says. The subscription as it will be recorded."""
    endpoint = (endpoint or "").strip()
    parts = urlsplit(endpoint)
    if len(endpoint) > 2000 or not parts.hostname or parts.scheme not in ("https", "http") or (
            parts.scheme == "http" and parts.hostname not in _LOOPBACK) or parts.username or parts.password:
        raise DirectoryError("abonnement push refusé : adresse du service de notification invalide (https attendu)")
    p256dh, auth = (keys or {}).get("p256dh") or "", (keys or {}).get("auth") or ""
    if not (_B64URL.match(p256dh) and _b64url_bytes(p256dh) == 65 and _B64URL.match(auth)
            and _b64url_bytes(auth) == 16):
        raise DirectoryError("abonnement push refusé : clés du navigateur invalides (p256dh, auth)")
    return {"endpoint": endpoint, "keys": {"p256dh": p256dh, "auth": auth}}
