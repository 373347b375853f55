"""The public JSON shapes of the HTTP API, as pydantic models, so that `/openapi.json` says what each
route returns.

The hot reads (a territory's view, its children, a page of cases, replays) are encoded with orjson, some
cached as bytes (JSONBytes, below): those routes declare their model for the documentation and return
their response untouched (FastAPI does not validate a response a route returns itself). The other
routes return plain data that FastAPI checks against the model. Every model accepts extra keys
(`extra="allow"`), so a field added to a view before its model is never silently dropped from an answer.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field


def json_bytes(content: Any) -> bytes:
    """The hot reads' JSON encoding, for a body cached as bytes before it becomes a response."""
    return orjson.dumps(content, default=str)


class JSONBytes(JSONResponse):
    """JSON encoded with orjson, straight to bytes (FastAPI's encoder costs more than the query).
    A JSONResponse, so that the OpenAPI document shows the route's response model."""

    def render(self, content: Any) -> bytes:
        return json_bytes(content)


class GeoJSONBytes(JSONResponse):
    """GeoJSON already encoded (the map's shapes), sent as is."""

    media_type = "application/geo+json"

    def render(self, content: bytes) -> bytes:
        return content


class Schema(BaseModel):
    model_config = ConfigDict(extra="allow")


# ---- territories --------------------------------------------------------------------------------------

class Territory(Schema):
    level: str = Field(description="commune, departement, zone ou national")
    code: str
    name: str
    label: str = Field(description="Nom sans ambiguïté : « Guichen (35) », « Zone Ouest »")


class TerritoryDetail(Territory):
    parent: Territory | None = Field(description="Le territoire parent, s'il est dans votre périmètre")
    children: list[Territory]


class Feature(Schema):
    type: str = "Feature"
    geometry: dict[str, Any]
    properties: dict[str, Any] = Field(description="level, code, name, role (self : le territoire, child : une "
                                                   "subdivision) ; sur la carte nationale, parts : les départements "
                                                   "de chaque zone et leur emprise (bbox : ouest, sud, est, nord)")


class FeatureCollection(Schema):
    """GeoJSON: the territory and its subdivisions, simplified for the map."""

    type: str = "FeatureCollection"
    features: list[Feature]


class ChildCount(Schema):
    level: str
    code: str
    name: str
    cases_active: int


# ---- cases ----------------------------------------------------------------------------------------------

class CaseRow(Schema):
    """One case in a list: the case list view's row, plus a point for the map when one is known."""

    case_id: str
    commune: str | None
    departement: str | None
    zone: str | None
    placement_method: str
    family: str | None
    family_label: str | None
    subfamily: str | None
    nature_code: str | None
    nature_label: str | None
    status: str | None
    emsi_status: str | None
    opened_at: str | None
    closed_at: str | None
    last_message_at: str | None
    victims_count: str | None
    red: int
    yellow: int
    green: int
    black: int
    missing: int
    displaced: int
    evacuated: int
    resources_total: int
    resources_engaged: int
    resources: dict[str, dict[str, int]] = Field(description="Moyens par type, puis par phase")
    severity: float
    location_label: str | None
    city: str | None
    commune_name: str | None
    messages: int
    corrections: int
    updated_at: str | None
    originator_id: str | None = Field(None, description="Identifiant de l'affaire dans le magasin d'événements")
    last_event_id: int | None = Field(None, description="Position du dernier événement replié dans la ligne")
    lat: float | None = None
    lon: float | None = None
    approximate: bool | None = Field(None, description="Point pris dans la commune, faute de point du message")
    opened_at_text: str = Field(description="Ouverture, à l'heure du territoire, fuseau indiqué")
    closed_at_text: str | None = Field(description="Clôture, à l'heure du territoire, fuseau indiqué")
    victims_text: str = Field(description="Victimes en mots : bilan des secours, sinon nombre déclaré à l'appel")
    resources_text: str = Field(description="Moyens en mots (engagés, ou tous libérés)")
    severity_label: str | None = Field(description="« Très grave », « Grave », ou null")
    time_zone: str = Field(description="Fuseau du territoire de l'affaire (ex. Europe/Paris, America/Cayenne)")


class CasePage(Schema):
    level: str
    code: str
    total: int
    limit: int
    offset: int
    items: list[CaseRow]


class CaseDetail(Schema):
    state: dict[str, Any] = Field(description="État courant de l'affaire")
    events: list[dict[str, Any]] = Field(description="Historique des événements, du premier au dernier")
    personal_included: bool = Field(description="Données personnelles incluses (selon votre rôle)")


# ---- requests between emergency services (NexSIS, read-only) -------------------------------------------

class NexsisRequest(Schema):
    """A request that emergency services exchanged through NexSIS (RS-DR/RS-RR, EMSI « demande de
    concours »), or the status of a resource sent (RS-SR), as a person reads it. Distinct from the
    authorities' own requests (`/api/v1/requests`)."""

    id: str = Field(description="Identifiant de la demande (requestId, ID de mission EMSI) ou de la ressource")
    kind: str = Field(description="demande_de_ressource, demande_de_concours ou statut_de_moyen")
    kind_label: str
    from_id: str | None = Field(description="Organisation émettrice (identifiant NexSIS)")
    from_label: str
    to_ids: list[str] = Field(description="Organisations destinataires (identifiants NexSIS)")
    to_label: str
    purpose: str | None = Field(description="Effet à obtenir (code), ou type de mission EMSI")
    purpose_label: str | None
    convention: str | None = Field(description="Cadre conventionnel")
    deadline: str | None = Field(description="Délai demandé (code : DEL0, ASAP, 30M … 24H, RDV)")
    deadline_text: str | None = Field(description="Délai demandé, en mots")
    requested_at: str | None
    requested_text: str | None = Field(description="Heure de la demande, dans le fuseau du territoire")
    answer: str | None = Field(description="Réponse (ACCEPTEE, PARTIELLE, REFUSEE, DIFFEREE ; ou le code EMSI)")
    answer_text: str | None
    answer_deadline: str | None = Field(description="Délai auquel s'engage celui qui répond")
    answer_deadline_text: str | None
    answered_at: str | None
    answered_text: str | None
    answered_by_label: str | None
    mission_status_text: str | None = Field(description="Statut de la mission (demande de concours)")
    cancelled: bool
    status_text: str = Field(description="Où en est la demande, en mots")
    latest_at: str | None


class NexsisRequestCase(Schema):
    case_id: str
    commune: str | None
    departement: str | None
    requests: list[NexsisRequest]


class NexsisRequestPage(Schema):
    level: str
    code: str
    total: int = Field(description="Affaires du territoire ayant des demandes entre services")
    limit: int
    offset: int
    items: list[NexsisRequestCase]


# ---- views ----------------------------------------------------------------------------------------------

class FamilyCount(Schema):
    family: str
    label: str
    total: int
    active: int


class SubfamilyCount(Schema):
    subfamily: str
    label: str
    total: int
    active: int


class ReportedVictims(Schema):
    code: str
    label: str
    cases: int


class OpenVictims(Schema):
    cases: int = Field(description="Affaires en cours")
    cases_with_declared_victims: int = Field(description="Affaires en cours dont le signalement déclare des victimes")
    declared: list[ReportedVictims] = Field(description="Affaires en cours par nombre de victimes déclaré")
    triage: dict[str, int] = Field(description="Bilan EMSI des affaires en cours (red : urgences absolues…)")
    triaged_victims: int
    declared_without_triage: int = Field(description="Affaires en cours qui déclarent des victimes, sans bilan EMSI")
    declared_without_triage_by_count: list[ReportedVictims]
    displaced: int
    evacuated: int
    headline: str = Field(description="Une phrase qui dit ce qui est bilan EMSI et ce qui est déclaré")


class Victims(Schema):
    cases_by_reported_count: list[ReportedVictims]
    triage: dict[str, int]
    displaced: int
    evacuated: int
    open: OpenVictims = Field(description="Les victimes des affaires en cours, à part des chiffres de toujours")


class PhaseCount(Schema):
    phase: str
    label: str
    count: int


class KindCount(Schema):
    kind: str
    label: str
    total: int
    engaged: int
    by_phase: list[PhaseCount]


class Resources(Schema):
    total: int
    engaged: int
    by_kind: list[KindCount]


class TerritoryView(Schema):
    level: str
    code: str
    name: str
    label: str
    cases_total: int
    cases_active: int
    cases_closed: int
    families: list[FamilyCount]
    subfamilies: list[SubfamilyCount]
    victims: Victims
    resources: Resources
    opened_last_hour: int
    opened_last_24h: int
    windows_until: str
    most_serious: list[CaseRow]
    updated_at: str | None
    position: int = Field(description="Position du journal intégrée à cette vue")
    case_list_position: int


# ---- replay ---------------------------------------------------------------------------------------------

class ReplayedView(Schema):
    level: str
    code: str
    at: str
    sense: str = Field(description="known-at ou happened-by")
    position: int
    events: int = Field(description="Événements rejoués depuis le point de reprise")
    checkpoint: int | None
    seconds: float
    view: dict[str, Any] | None = Field(description="La vue à cet instant (null : rien à cet instant)")


class Peak(Schema):
    value: float
    start: str
    end: str


class Timeline(Schema):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    territory: str
    level: str
    code: str
    start: str = Field(alias="from")
    end: str = Field(alias="to")
    requested_end: str = Field(alias="requested_to", description="Fin demandée (la fenêtre s'arrête à l'heure"
                               " de la lecture)")
    time_zone: str = Field(description="Fuseau du territoire, dans lequel les heures sont écrites")
    interval_minutes: float
    events: int
    summary: dict[str, Any]
    peaks: dict[str, Peak]
    intervals: list[dict[str, Any]]
    delays: list[dict[str, Any]]


# ---- audit ----------------------------------------------------------------------------------------------

class AccessLogEntry(Schema):
    id: int
    at: datetime
    subject: str
    role: str
    territory: str
    case_id: str
    personal: bool
    commune: str | None
    departement: str | None
    zone: str | None
    via: str
    details: dict[str, Any] | None
    organisation_id: str | None = None  # the organisation acted for (domain.directory)
    grant_id: str | None = None  # the habilitation acted under (None for a bearer token)


class QuarantineEntry(Schema):
    id: int
    received_at: str
    source: str
    content_type: str | None
    size: int
    sha256: str
    reasons: list[dict[str, Any]]
    distribution_id: str | None
    sender_id: str | None
    status: str
    attempts: int
    resolved_at: str | None
    resolution: str | None


# ---- session, feed, messages ----------------------------------------------------------------------------

class Me(Schema):
    subject: str
    name: str | None
    role: str
    role_label: str
    level: str
    code: str
    territory: str
    territory_name: str
    may_see_personal: bool
    audits: bool
    organisation_id: str | None
    grant_id: str | None


class ReplicationState(Schema):
    standby: bool
    lag_bytes: int
    lag_seconds: float


class FeedState(Schema):
    last_received_text: str = Field(description="Arrivée du dernier message, heure de Paris, fuseau indiqué")
    views_waiting_since_text: str | None
    last_received_at: str | None
    now: str
    quiet_after_seconds: int | float
    quiet: bool
    views_waiting_since: str | None
    views_late_after_seconds: int | float
    views_late: bool
    # Where the views are read (TOCSIN_READ_DATABASE_URL): {standby, lag_bytes, lag_seconds}, null until known.
    replication: ReplicationState | None = None


class Acknowledgement(Schema):
    """A CISU wire message (EDXL-DE envelope): an RC-REF `RECU`, or an error giving the reasons."""

    distributionID: str
    senderID: str
    dateTimeSent: str
    dateTimeExpires: str
    distributionStatus: str
    distributionKind: str
    descriptor: dict[str, Any]
    content: list[dict[str, Any]]


# ---- the directory (domain.directory) ------------------------------------------------------------------


class OrganisationOut(Schema):
    id: str = Field(examples=["mairie.35238"])
    kind: str = Field(description="mairie, epci, prefecture, sdis, coz, cogic, partenaire, nexsis")
    name: str
    territory: str = Field(examples=["commune:35238"])
    siret: str | None = None
    nexsis_id: str | None = Field(None, examples=["fr.fire.sdis35"])


class PersonOut(Schema):
    """A person habilitated in an organisation. `email` and `phones` only for the roles that reach people
    (domain.directory.CONTACT_ROLES), else null."""

    person_id: str
    name: str
    position: str | None
    role: str
    organisation_id: str
    grant_id: str
    until: datetime | None = None
    email: str | None = None
    phones: list[str] | None = None


class GrantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    organisation_id: str = Field(max_length=200, examples=["mairie.35238"])
    email: str = Field(max_length=254)
    name: str = Field(max_length=200)
    position: str = Field(max_length=120, examples=["Adjoint au maire"])
    phones: list[str] = Field(default_factory=list, max_length=5)
    until: datetime | None = Field(None, description="Fin de l'habilitation (avec fuseau) ; absent : sans fin.")


class GrantOut(Schema):
    grant_id: str
    person_id: str
    organisation_id: str
    role: str
    position: str


class RevocationOut(Schema):
    grant_id: str
    revoked: bool = Field(description="false : l'habilitation n'était déjà plus en vigueur")


class InvitationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    organisation_id: str = Field(max_length=200)
    email: str = Field(max_length=254)
    position: str = Field(max_length=120)
    hours: float = Field(72, gt=0, le=24 * 30)


class InvitationOut(Schema):
    token: str = Field(description="À transmettre dans le lien d'invitation (usage unique) : il n'est conservé nulle"
                                   " part, seule son empreinte SHA-256 l'est.")
    expires_at: datetime
    organisation_id: str
    email: str


# ---- alerts (api/routes/alerts.py) ------------------------------------------------------------------

class AlertPerson(Schema):
    person_id: str
    name: str
    organisation_id: str


class AlertDelivery(Schema):
    person_id: str
    channel: str = Field(description="email, push, sms, voix")
    status: str = Field(description="en attente, en cours, envoyé, échec")
    attempts: int
    reason: str | None = Field(description="Raison du dernier échec (français)")
    sent_at: str | None


class AlertItem(Schema):
    id: str
    rule: str = Field(description="La règle qui a décidé l'alerte")
    reason: str = Field(description="Pourquoi l'alerte (français)")
    subject: str = Field(description="Sur quoi : « affaire:… » ou « departement:35@2026-12-07T14 »")
    case_id: str | None
    organisation_id: str = Field(description="L'organisation alertée (annuaire : mairie.35238, prefecture.35…)")
    severity: str = Field(description="information ou grave")
    exercise: bool = Field(description="Alerte d'exercice (« EXERCICE »)")
    late: bool = Field(description="« Tardif » : message daté de plus de 30 min à sa réception")
    raised_at: str = Field(description="Décidée à (heure de Tocsin, ISO 8601)")
    people_reached: list[AlertPerson]
    channels: list[str]
    deliveries: list[AlertDelivery]
    details: dict = Field(description="Quoi, où, quand (UTC, à afficher dans `time_zone`), gravité")
    acknowledged_at: str | None
    acknowledged_by: dict | None = Field(description="Qui a accusé réception, sous quelle habilitation, par quel canal")
    escalations: list[dict]
    unreached: dict | None = Field(None, description="Alerte qui n'a joint personne : pourquoi (`reason`), depuis "
                                                     "quand (`at`) ; absent dès qu'une personne est jointe")


class AlertList(Schema):
    items: list[AlertItem]


class AckResult(Schema):
    recorded: bool = Field(description="false : l'alerte avait déjà été acquittée (par acknowledged_by)")
    alert: AlertItem


# ---- call-outs (api/routes/callouts.py) --------------------------------------------------------------

class CallOutRequest(Schema):
    question: str = Field(description="La question posée (500 caractères au plus)")
    organisation_ids: list[str] = Field(description="Organisations appelées (annuaire : mairie.35238, prefecture.35…)")
    deadline: datetime = Field(description="Date limite de réponse (ISO 8601 avec fuseau)")
    choices: list[str] = Field(default=["disponible", "indisponible", "en route"], description="Réponses possibles")
    exercise: bool = Field(default=False, description="Appel d'exercice (« EXERCICE »)")


class CallOutTally(Schema):
    counts: dict[str, int] = Field(description="Nombre de personnes par réponse (dernière réponse de chacun)")
    answered: int
    waiting: int = Field(description="Personnes appelées qui n'ont pas répondu")
    asked: int


class CallOutItem(Schema):
    id: str
    question: str
    choices: list[str]
    deadline: str
    launched_at: str
    launched_by: dict = Field(description="Qui a lancé l'appel, pour quelle organisation, sous quelle habilitation")
    organisation_ids: list[str]
    exercise: bool
    asked: list[AlertPerson]
    answers: list[dict] = Field(description="Dernière réponse de chacun : qui, quoi, par quel canal, quand")
    tally: CallOutTally


class CallOutList(Schema):
    items: list[CallOutItem]


class AnswerRequest(Schema):
    choice: str = Field(description="Une des réponses possibles de l'appel")


# ---- alerts to the population (api/routes/population_alerts.py) -------------------------------------

class PopulationAlertContent(Schema):
    event: str = Field(description="Quoi : l'événement, en quelques mots (« Inondation »), 100 caractères au plus")
    headline: str = Field(description="Titre diffusé (160 caractères au plus)")
    description: str = Field(description="Ce qui se passe (2000 caractères au plus)")
    instruction: str = Field(description="Ce que la population doit faire (1000 caractères au plus)")
    area_desc: str | None = Field(default=None, description="Où, en mots (par défaut : la commune)")
    category: str = Field(description="Catégorie CAP : Geo, Met, Safety, Security, Rescue, Fire, Health, Env, "
                                      "Transport, Infra, CBRNE, Other")
    urgency: str = Field(description="Urgence CAP : Immediate, Expected, Future, Past, Unknown")
    severity: str = Field(description="Gravité CAP : Extreme, Severe, Moderate, Minor, Unknown")
    certainty: str = Field(description="Certitude CAP : Observed, Likely, Possible, Unlikely, Unknown")
    response_type: str | None = Field(default=None, description="Consigne CAP : Shelter, Evacuate, Prepare, Execute, "
                                                                 "Avoid, Monitor, Assess, AllClear, None")
    expires: datetime | None = Field(default=None, description="Fin de validité (ISO 8601 avec fuseau)")


class PopulationAlertDraft(PopulationAlertContent):
    insee: str = Field(description="Code INSEE de la commune (sa mairie rédige l'alerte)")
    crisis_id: str | None = Field(default=None, description="La crise à laquelle l'alerte se rattache")
    exercise: bool = Field(default=False, description="Alerte d'exercice (CAP status Exercise)")


class PopulationAlertReason(Schema):
    reason: str = Field(description="La raison (refus, annulation), 1000 caractères au plus")


class CapMessage(Schema):
    identifier: str = Field(description="Identifiant CAP, unique")
    msg_type: str = Field(description="Alert, Update ou Cancel")
    sender: str
    sent: str = Field(description="CAP sent : heure locale avec son décalage")
    references: list[str] = Field(description="Messages précédents visés (sender,identifier,sent)")
    status: str = Field(description="à publier, publié, échec, abandonné")
    attempts: list[dict] = Field(description="Chaque remise à la passerelle : quand, où, résultat, raison")
    version: int | None = Field(description="La version du contenu publiée (aucune pour une annulation)")
    xml: str = Field(description="Le message CAP 1.2, valide selon le schéma OASIS")


class PopulationAlertAct(Schema):
    version: int
    act: str
    label: str = Field(description="L'acte, en français")
    recorded_at: str
    by: dict | None = Field(description="Qui : personne, organisation, habilitation, rôle, territoire")
    reason: str | None = None
    identifier: str | None = None
    gateway: str | None = None


class PopulationAlertItem(Schema):
    id: str
    insee: str
    commune: str
    departement: str
    time_zone: str = Field(description="Le fuseau du territoire, pour afficher les heures")
    state: str = Field(description="à valider ; validée, à publier (publication en attente ou en échec) ; publiée ; "
                                   "refusée ; annulée")
    crisis_id: str | None
    exercise: bool
    drafted_at: str
    drafted_by: dict
    content: dict = Field(description="Le contenu de la version courante")
    versions: list[dict] = Field(description="Chaque version : contenu, rédigée par, décision (qui, quand, raison)")
    messages: list[CapMessage]
    cancelled: dict | None


class PopulationAlertDetail(PopulationAlertItem):
    history: list[PopulationAlertAct] = Field(description="Chaque acte, tiré des événements : quoi, quand, qui")


class PopulationAlertList(Schema):
    items: list[PopulationAlertItem]

# ---- crises (domain.crisis) ----------------------------------------------------------------------

class CrisisRequest(Schema):
    title: str = Field(description="Intitulé de la crise (200 caractères au plus)")
    kind: str = Field(description="Type : storm, flood, wildfire, industrial, health, public_gathering, other")
    territory: str = Field(description="Territoire : departement:44, zone:ouest, national:FR (par défaut le vôtre)")
    start: datetime | None = Field(default=None, description="Début (ISO 8601 avec fuseau ; par défaut maintenant)")
    exercise: bool = Field(default=False, description="Crise d'exercice (« EXERCICE »)")


class CrisisCase(Schema):
    case_id: str
    how: str = Field(description="« règle » (rattachée à son arrivée) ou « manuel »")
    by: dict | None = Field(description="Qui l'a rattachée à la main")
    at: str


class CrisisItem(Schema):
    id: str
    title: str
    kind: str
    kind_label: str
    families: list[str] = Field(description="Familles de nature des affaires rattachées par règle (vide : toutes)")
    territory: str
    time_zone: str = Field(description="Fuseau horaire du territoire, dans lequel afficher les heures")
    start: str
    opened_at: str
    opened_by: dict = Field(description="Qui l'a ouverte, pour quelle organisation, sous quelle habilitation")
    organisation_id: str | None
    exercise: bool
    status: str = Field(description="« ouverte » ou « close »")
    closed_at: str | None
    closed_by: dict | None
    closing_summary: str
    cases: list[CrisisCase]
    detached: list[dict]
    version: int


class CrisisList(Schema):
    items: list[CrisisItem]


class CrisisCloseRequest(Schema):
    summary: str = Field(default="", description="Bilan de clôture (facultatif)")


class CrisisAttachRequest(Schema):
    case_id: str = Field(description="Identifiant CISU de l'affaire")


class CrisisDetachRequest(Schema):
    reason: str = Field(default="", description="Pourquoi l'affaire ne relève pas de la crise")


# ---- alert settings (domain.alert_settings) ------------------------------------------------------

class AlertTuning(Schema):
    rule_id: str = Field(description="La règle requise à rendre plus stricte")
    escalate_after_minutes: int | None = Field(default=None, description="Escalade avancée (jamais retardée)")
    extra_channels: list[str] = Field(default=[], description="Canaux ajoutés : email, push, sms, voix")
    grave: bool = Field(default=False, description="Présentée comme « grave »")
    more_than_cases_per_hour: int | None = Field(default=None, description="Seuil abaissé (jamais relevé)")
    on_exercises: bool = Field(default=False, description="Alerter aussi sur les messages d'exercice")


class OwnAlertRule(Schema):
    label: str = Field(description="Intitulé (120 caractères au plus)")
    families: list[str] = Field(default=[], description="Familles de nature (vide : toutes)")
    new_case: bool = False
    min_victims: int | None = None
    min_red: int | None = None
    min_dead: int | None = None
    min_resources: int | None = None
    evacuation: bool = False
    channels: list[str] = Field(default=["email"])
    grave: bool = False


class AlertSettingsIn(Schema):
    tunings: list[AlertTuning] = Field(default=[], description="Règles requises rendues plus strictes")
    own_rules: list[OwnAlertRule] = Field(default=[], description="Règles propres à l'organisation")
    version: int | None = Field(default=None, description="La version lue (`version` de la réponse) : refusé "
                                                          "(409) si les règles ont changé depuis ; sans : remplacées")


class AlertSettingsOut(Schema):
    organisation_id: str
    required: list[dict] = Field(description="Règles requises qui alertent l'organisation, telles qu'elles "
                                             "s'appliquent à elle (avec son réglage)")
    own_rules: list[dict] = Field(description="Règles propres, sur son territoire")
    changed_by: dict | None
    changed_at: str | None
    version: int


# ---- the log book and situation reports (domain.logbook) -----------------------------------------------

class LogEntryRequest(Schema):
    kind: str = Field(description="information, decision ou action")
    text: str = Field(description="Le texte de l'entrée (5 000 caractères au plus)")
    visibility: str = Field(default="organisation", description="organisation (la vôtre seulement) ou crisis "
                                                                "(tous les acteurs de la crise)")
    case_ids: list[str] = Field(default_factory=list, description="Affaires concernées (identifiants CISU)")
    amends: str | None = Field(default=None, description="N° de l'entrée que celle-ci corrige (jamais modifiée)")


class LogEntryItem(Schema):
    id: str = Field(description="N° de l'entrée dans la main courante ; identifiant de la source sinon")
    at: str = Field(description="Quand c'est arrivé (ISO 8601)")
    recorded_at: str = Field(description="Quand Tocsin l'a su (ISO 8601)")
    kind: str = Field(description="information, decision, action (entrées des personnes) ; message, alert, request")
    kind_label: str
    author: dict | None = Field(description="Qui l'a écrite : personne, organisation, habilitation, rôle")
    organisation_id: str | None
    text: str
    visibility: str = Field(description="organisation ou crisis")
    visibility_label: str
    case_ids: list[str]
    amends: str | None = Field(description="N° de l'entrée corrigée")
    amended_by: list[str] = Field(description="N° des entrées qui la corrigent")
    source: str = Field(description="personne, nexsis, alerte ou demande")
    source_label: str
    details: dict


class LogList(Schema):
    crisis_id: str
    time_zone: str = Field(description="Fuseau des heures à afficher (celui du territoire de la crise)")
    as_of: str | None = Field(description="Le moment rejoué, s'il y en a un")
    items: list[LogEntryItem]


class ReportRequest(Schema):
    text: str = Field(description="Le point de situation (5 000 caractères au plus)")
    request_id: str | None = Field(default=None, description="La demande d'information à laquelle il répond")


class ReportItem(Schema):
    organisation_id: str | None
    number: int = Field(description="N° du point de situation de cette organisation dans la crise")
    text: str
    figures: dict = Field(description="Les chiffres du territoire de la crise au moment de l'écriture (figés)")
    request_id: str | None
    author: dict
    at: str


class ReportList(Schema):
    crisis_id: str
    time_zone: str
    as_of: str | None
    items: list[ReportItem]


class OwnLogList(Schema):
    organisation_id: str
    time_zone: str = Field(description="Fuseau des heures à afficher (celui du territoire de l'organisation)")
    as_of: str | None
    items: list[LogEntryItem]


# ---- a crisis's live view (projections.read.crisis_view) ----------------------------------------------

class CrisisHeader(Schema):
    id: str
    title: str
    kind: str
    kind_label: str
    families: list[str]
    family_labels: list[str] = Field(description="Familles de nature rattachées par règle, en français (vide : toutes)")
    territory: str
    territory_name: str
    time_zone: str = Field(description="Fuseau horaire du territoire de la crise (heures écrites dans ce fuseau)")
    time_zone_name: str = Field(description="Le fuseau en français (« heure de Paris »)")
    start: str
    start_text: str
    opened_at: str
    opened_at_text: str
    opened_by: dict = Field(description="Qui l'a ouverte : nom, rôle, organisation")
    organisation_id: str | None
    exercise: bool
    status: str = Field(description="« ouverte » ou « close »")
    closed_at: str | None
    closed_at_text: str | None
    closed_by: dict | None
    closing_summary: str
    version: int


class CrisisFigures(Schema):
    cases_total: int
    cases_active: int
    cases_closed: int
    families: list[FamilyCount]
    subfamilies: list[SubfamilyCount]
    victims: Victims
    resources: Resources


class CrisisAttachment(Schema):
    attached_how: str = Field(description="« règle » (à son arrivée) ou « manuel »")
    attached_at: str
    attached_at_text: str = Field(description="Rattachement, à l'heure de la crise, fuseau indiqué")
    attached_by: str | None = Field(description="Qui l'a rattachée à la main")


class CrisisViewCase(CaseRow, CrisisAttachment):
    """An attached case: its case list row (with its point for the map) and how it was attached."""


class CrisisPendingCase(CrisisAttachment):
    case_id: str


class CrisisView(Schema):
    crisis: CrisisHeader
    whole_perimeter: bool = Field(description="Votre périmètre couvre tout le territoire de la crise (sinon : "
                                              "chiffres et affaires de votre périmètre seulement)")
    figures: CrisisFigures = Field(description="Chiffres des affaires rattachées que vous voyez")
    cases: list[CrisisViewCase] = Field(description="Affaires rattachées de votre périmètre, la plus grave d'abord "
                                                    "(les `limit` plus graves)")
    cases_left_out: int = Field(description="Affaires de votre périmètre comptées dans les chiffres, au-delà de "
                                            "`limit` dans la liste")
    pending: list[CrisisPendingCase] = Field(description="Affaires rattachées pas encore dans les vues (ou inconnues)")
    generated_at: str


class DutyPeriodIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    person: str = Field(max_length=254, description="Identifiant de la personne (voir /people) ou son courriel.")
    start: str = Field(max_length=40, examples=["2026-12-24T20:00"],
                       description="Début (inclus) ; sans décalage, lu dans le fuseau du territoire.")
    end: str = Field(max_length=40, examples=["2026-12-25T08:00"],
                     description="Fin (exclue) ; sans décalage, lue dans le fuseau du territoire.")


class DutyPeriodOut(Schema):
    id: str
    organisation_id: str
    person_id: str
    name: str | None = Field(description="absent : la personne n'est plus habilitée dans l'organisation")
    start: datetime
    end: datetime
    start_local: str = Field(description="début dans le fuseau du territoire, fuseau précisé")
    end_local: str


class DutyScheduleOut(Schema):
    organisation_id: str
    time_zone: str = Field(examples=["Europe/Paris"])
    on_duty_now: list[str] = Field(description="personnes d'astreinte en ce moment (vide : toute l'organisation"
                                               " est alertée)")
    periods: list[DutyPeriodOut]


class PushSubscriptionIn(BaseModel):
    """Ce que donne `PushManager.subscribe()` du navigateur (`subscription.toJSON()`)."""

    model_config = ConfigDict(extra="ignore")
    endpoint: str = Field(max_length=2000)
    keys: dict[str, str] = Field(description="p256dh et auth")


class PushEndpointIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    endpoint: str = Field(max_length=2000)


class PushSubscriptionOut(Schema):
    subscribed: bool
    subscriptions: int = Field(description="abonnements de cette personne en vigueur")


class PushKeyOut(Schema):
    application_server_key: str | None = Field(
        description="clé publique VAPID (base64url) ; absente : les notifications push ne sont pas configurées")


# ---- requests between authorities (domain.request) --------------------------------------------------

class RequestSend(Schema):
    to: str = Field(description="Organisation destinataire (annuaire : mairie.44109, prefecture.44, sdis.44, "
                                "coz.ouest, cogic.FR…)")
    kind: str = Field(description="Type : information, means, action, population_alert")
    text: str = Field(description="Ce qui est demandé (2000 caractères au plus)")
    deadline: str = Field(description="Délai : un code RS-DR (DEL0, ASAP, 30M, 45M, 1H, 2H, 4H, 8H, 12H, 24H, "
                                      "RDV) ou une date ISO 8601 avec fuseau")
    crisis_id: str | None = Field(default=None, description="Crise dans laquelle s'inscrit la demande (ouverte)")
    case_id: str | None = Field(default=None, description="Affaire CISU concernée")


class RequestAnswer(Schema):
    answer: str = Field(description="Réponse RS-RR : ACCEPTEE, PARTIELLE, REFUSEE, DIFFEREE")
    comment: str = Field(default="", description="Commentaire ; le motif, obligatoire pour un refus")
    deadline: datetime | None = Field(default=None, description="Délai promis (ISO 8601 avec fuseau), obligatoire "
                                                                "pour une réponse partielle")


class RequestText(Schema):
    text: str = Field(default="", description="Commentaire, motif, question ou complément selon l'acte")


class RequestParty(Schema):
    id: str
    kind: str
    name: str
    level: str
    code: str


class RequestStep(Schema):
    act: str = Field(description="issued, seen, answered, info_asked, info_given, started, done, closed, "
                                 "cancelled, escalated, returned, overdue")
    label: str
    by: dict | None = Field(description="Qui (personne, organisation, habilitation) ; null pour le retard")
    at: str
    text: str | None = None
    answer: str | None = None
    deadline: str | None = None
    due_at: str | None = None
    to: str | None = None


class RequestItem(Schema):
    id: str = Field(description="Identifiant {organisation}.request.{n}")
    uuid: str
    kind: str
    kind_label: str
    text: str
    from_organisation_id: str
    from_organisation: RequestParty
    to_organisation_id: str
    to_organisation: RequestParty
    owner_organisation_id: str = Field(description="Organisation qui doit agir (le destinataire, ou l'autorité à "
                                                   "laquelle la demande a été transmise)")
    owner_organisation: RequestParty
    status: str
    status_label: str
    deadline: str | None = Field(description="Code RS-DR du délai, null pour une date donnée")
    deadline_label: str | None
    due_at: str | None = Field(description="Échéance (UTC) ; null : sans échéance")
    overdue: bool
    time_zone: str = Field(description="Fuseau horaire dans lequel afficher les heures")
    issued_at: str
    issued_by: dict
    seen_at: str | None
    answered_at: str | None
    done_at: str | None
    answer: dict | None = Field(description="Dernière réponse : answer, label, comment, deadline, by, at")
    crisis_id: str | None
    case_id: str | None
    exercise: bool
    version: int
    history: list[RequestStep] | None = None


class RequestList(Schema):
    items: list[RequestItem]
