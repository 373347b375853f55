"""Alerts to the population (information des populations): drafted by a mayor, decided by the préfecture,
published as CAP 1.2 messages.

A mayor drafts what is happening, where, and what people must do, for their commune, in the Common
Alerting Protocol's own terms (category, urgency, severity, certainty). The préfecture of the commune's
département approves it or refuses it with a reason. Approval prepares a CAP message (built and validated
outside the domain, adapters.cap) and records it; publishing it to the gateway is a further event,
succeeded or failed with its reason, so a message that never left is visible and can be sent again, as
the same message (same identifier, same `sent`).

CAP's own rules for what follows: a new version of a published alert is drafted and approved again, then
published as an `Update` referencing every message published before; cancelling a published alert
publishes a `Cancel` referencing them. Each message has its own identifier.

Pure: times and the prepared messages come in as arguments.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from eventsourcing.domain import Aggregate, event

# CAP 1.2's value lists (section 3.2), with the French words the dashboard shows.
CATEGORIES = {
    "Geo": "géophysique", "Met": "météorologique", "Safety": "sécurité civile", "Security": "sûreté",
    "Rescue": "secours", "Fire": "incendie", "Health": "santé", "Env": "environnement", "Transport": "transports",
    "Infra": "infrastructures", "CBRNE": "NRBC", "Other": "autre",
}
URGENCIES = {"Immediate": "immédiate", "Expected": "attendue (dans l'heure)", "Future": "future",
             "Past": "passée", "Unknown": "inconnue"}
SEVERITIES = {"Extreme": "extrême", "Severe": "sévère", "Moderate": "modérée", "Minor": "mineure",
              "Unknown": "inconnue"}
CERTAINTIES = {"Observed": "observé", "Likely": "probable", "Possible": "possible", "Unlikely": "peu probable",
               "Unknown": "inconnu"}
RESPONSE_TYPES = {"Shelter": "se mettre à l'abri", "Evacuate": "évacuer", "Prepare": "se préparer",
                  "Execute": "appliquer les consignes", "Avoid": "éviter la zone", "Monitor": "rester informé",
                  "Assess": "évaluer", "AllClear": "fin d'alerte", "None": "aucune action"}

# States, in French as shown.
TO_APPROVE = "à valider"
TO_PUBLISH = "validée, à publier"  # approved, its message not (yet) accepted by the gateway
PUBLISHED = "publiée"
REFUSED = "refusée"
CANCELLED = "annulée"

# A prepared message's publication.
PENDING = "à publier"
SENT = "publié"
FAILED = "échec"  # the last attempt failed: may be tried again
ABANDONED = "abandonné"  # superseded by a cancellation before it left

# Lengths: CAP advises a headline under 160 characters (what mobile broadcasts show).
LIMITS = {"event": 100, "headline": 160, "description": 2000, "instruction": 1000, "area_desc": 300}
_REQUIRED = ("event", "headline", "description", "instruction")
# What XML 1.0 cannot carry (C0 controls but tab and line breaks, lone surrogates, U+FFFE/U+FFFF); other
# controls (C1, format characters) are removed too: they make the text say what the reader does not see.
_NOT_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


class Refused(ValueError):
    """Content that CAP or the rules refuse, or an act the alert's state does not allow (French message)."""


class WrongState(Refused):
    """An act the alert's current state does not allow (approving twice, updating a cancelled alert…)."""


def clean_text(value: str) -> str:
    """The text as it can be published: characters XML cannot carry and invisible formatting removed,
    line breaks normalised, surrounding blanks trimmed."""
    text = _NOT_TEXT.sub("", value.replace("\r\n", "\n").replace("\r", "\n"))
    text = "".join(c for c in text if c in "\n\t" or unicodedata.category(c) not in ("Cc", "Cf", "Cs", "Co", "Cn"))
    return text.strip()


def checked_content(raw: Mapping[str, Any], default_area: str) -> dict[str, Any]:
    """The alert's content, cleaned and checked against CAP's value lists; Refused says what is wrong."""
    content: dict[str, Any] = {}
    for key in (*_REQUIRED, "area_desc"):
        text = clean_text(str(raw.get(key) or ""))
        if key == "area_desc" and not text:
            text = default_area
        if not text:
            raise Refused(f"champ obligatoire vide : {key}")
        if len(text) > LIMITS[key]:
            raise Refused(f"{key} : {LIMITS[key]} caractères au plus")
        content[key] = text
    for key, allowed in (("category", CATEGORIES), ("urgency", URGENCIES), ("severity", SEVERITIES),
                         ("certainty", CERTAINTIES)):
        value = raw.get(key)
        if value not in allowed:
            raise Refused(f"{key} : valeur inconnue {value!r} (valeurs CAP : {', '.join(allowed)})")
        content[key] = value
    response = raw.get("response_type") or None
    if response is not None and response not in RESPONSE_TYPES:
        raise Refused(f"response_type : valeur inconnue {response!r} (valeurs CAP : {', '.join(RESPONSE_TYPES)})")
    content["response_type"] = response
    expires = raw.get("expires")
    if expires is not None:
        if not isinstance(expires, datetime) or expires.tzinfo is None:
            raise Refused("expires : date et heure avec fuseau horaire attendues")
        expires = expires.isoformat()
    content["expires"] = expires
    return content


def reference(message: Mapping[str, Any]) -> str:
    """A message as CAP's `references` names it: sender,identifier,sent."""
    return f"{message['sender']},{message['identifier']},{message['sent']}"


class PopulationAlert(Aggregate):
    """One alert to the population of a commune, through all its versions and CAP messages."""

    @event("Drafted")
    def __init__(self, insee: str, departement: str, commune_name: str, content: dict, drafted_by: dict,
                 crisis_id: str | None, exercise: bool, at: datetime) -> None:
        self.insee = insee
        self.departement = departement
        self.commune_name = commune_name
        self.crisis_id = crisis_id
        self.exercise = exercise
        # Each version of the content, the first one drafted here; a version is decided once.
        self.versions: list[dict] = [{"number": 1, "content": content, "drafted_by": drafted_by,
                                      "drafted_at": at.isoformat(), "status": TO_APPROVE, "decided_by": None,
                                      "decided_at": None, "reason": None}]
        self.messages: list[dict] = []  # the CAP messages prepared, in order, with their publication
        self.cancelled: dict | None = None

    # ---- reading -------------------------------------------------------------------------------

    @property
    def current(self) -> dict:
        return self.versions[-1]

    @property
    def published(self) -> list[dict]:
        return [m for m in self.messages if m["status"] == SENT]

    @property
    def outbox(self) -> list[dict]:
        """The prepared messages the gateway has not accepted yet, in order."""
        return [m for m in self.messages if m["status"] in (PENDING, FAILED)]

    @property
    def state(self) -> str:
        if self.cancelled is not None:
            return CANCELLED
        if self.current["status"] == TO_APPROVE:
            return TO_APPROVE
        if self.outbox:
            return TO_PUBLISH
        if self.published:
            return PUBLISHED
        return REFUSED

    def next_identifier(self, prefix: str) -> str:
        """A new message's identifier: unique (the alert's id and the message's rank), without the spaces,
        commas, '<' and '&' CAP forbids."""
        return f"{prefix}.{self.id}.{len(self.messages) + 1}"

    def next_msg_type(self) -> str:
        return "Update" if self.published else "Alert"

    def references(self) -> list[str]:
        """Every message published before, as a new Update or Cancel names them."""
        return [reference(m) for m in self.published]

    # ---- acts ----------------------------------------------------------------------------------

    def approve(self, by: dict, at: datetime, message: dict) -> None:
        if self.state != TO_APPROVE:
            raise WrongState(f"cette alerte n'attend pas de validation (état : {self.state})")
        self._approved(by, at, message)

    @event("Approved")
    def _approved(self, by: dict, at: datetime, message: dict) -> None:
        self.current.update(status="validée", decided_by=by, decided_at=at.isoformat())
        self.messages.append({**message, "version": self.current["number"], "status": PENDING, "attempts": []})

    def refuse(self, by: dict, reason: str, at: datetime) -> None:
        if self.state != TO_APPROVE:
            raise WrongState(f"cette alerte n'attend pas de validation (état : {self.state})")
        reason = clean_text(reason)
        if not reason:
            raise Refused("un refus doit donner sa raison")
        if len(reason) > 1000:
            raise Refused("raison du refus : 1000 caractères au plus")
        self._refused(by, reason, at)

    @event("Refused")
    def _refused(self, by: dict, reason: str, at: datetime) -> None:
        self.current.update(status=REFUSED, decided_by=by, decided_at=at.isoformat(), reason=reason)

    def update(self, content: dict, by: dict, at: datetime) -> None:
        """A new version: of a draft still waiting (it replaces it), or of a published alert (it will be
        published as an Update once approved)."""
        if self.state not in (TO_APPROVE, PUBLISHED):
            raise WrongState(f"seule une alerte à valider ou publiée peut être mise à jour (état : {self.state})")
        self._update_drafted(content, by, at)

    @event("UpdateDrafted")
    def _update_drafted(self, content: dict, by: dict, at: datetime) -> None:
        if self.current["status"] == TO_APPROVE:
            self.current.update(status="remplacée", decided_at=at.isoformat())
        self.versions.append({"number": len(self.versions) + 1, "content": content, "drafted_by": by,
                              "drafted_at": at.isoformat(), "status": TO_APPROVE, "decided_by": None,
                              "decided_at": None, "reason": None})

    def cancel(self, by: dict, reason: str, at: datetime, message: dict | None) -> None:
        """`message`: the Cancel to publish when something was published (None otherwise)."""
        if self.state in (CANCELLED, REFUSED):
            raise WrongState(f"cette alerte ne peut plus être annulée (état : {self.state})")
        reason = clean_text(reason)
        if not reason or len(reason) > 1000:
            raise Refused("une annulation donne sa raison (1000 caractères au plus)")
        if (message is None) != (not self.published):
            raise Refused("une alerte publiée s'annule par un message CAP Cancel, et seule une alerte publiée")
        self._cancelled(by, reason, at, message)

    @event("Cancelled")
    def _cancelled(self, by: dict, reason: str, at: datetime, message: dict | None) -> None:
        for m in self.outbox:  # an Alert or Update not sent yet never will be
            m["status"] = ABANDONED
        if self.current["status"] == TO_APPROVE:
            self.current.update(status=CANCELLED, decided_at=at.isoformat())
        self.cancelled = {"by": by, "reason": reason, "at": at.isoformat()}
        if message is not None:
            self.messages.append({**message, "version": None, "status": PENDING, "attempts": []})

    @event("Published")
    def published_to(self, identifier: str, gateway: str, at: datetime) -> None:
        """The gateway accepted the message."""
        m = self._message(identifier)
        m["status"] = SENT
        m["attempts"].append({"at": at.isoformat(), "gateway": gateway, "outcome": SENT, "reason": None})

    @event("PublicationFailed")
    def failed_to_publish(self, identifier: str, gateway: str | None, reason: str, at: datetime) -> None:
        """Not published (no gateway, unreachable, refused): the reason is kept; it may be tried again."""
        m = self._message(identifier)
        m["status"] = FAILED
        m["attempts"].append({"at": at.isoformat(), "gateway": gateway, "outcome": FAILED, "reason": reason})

    def _message(self, identifier: str) -> dict:
        for m in self.messages:
            if m["identifier"] == identifier:
                return m
        raise KeyError(identifier)
