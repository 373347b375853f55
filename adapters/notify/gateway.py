"""SMS and voice calls through a gateway: one HTTP adapter, configured by URL (TOCSIN_SMS_URL,
TOCSIN_VOICE_URL), e.g. `https://jeton@passerelle.example.fr/v1/sms`.

The adapter POSTs JSON `{"to": "+33…", "text": "…", "reference": "…"}` (credentials from the URL as
HTTP basic, or a bearer token when only a user part is given). A 2xx is accepted; a 4xx other than 408 or
429 is final; anything else is retried. Where no gateway is configured the channel does not exist, and
the dispatcher records that, never a delivery.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit, urlunsplit

import httpx

from adapters.notify.smtp import DeliveryError
from domain.alert import SMS, VOICE, Alert
from domain.recipients import Contact

LABELS = {SMS: "SMS", VOICE: "appel vocal"}


class GatewayChannel:
    def __init__(self, name: str, url: str, timeout: float = 10.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"passerelle {LABELS.get(name, name)} : URL http(s) attendue")
        self.name = name
        netloc = parts.hostname + (f":{parts.port}" if parts.port else "")
        self.url = urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
        self.auth: httpx.Auth | None = None
        self.headers: dict[str, str] = {}
        if parts.username and parts.password:
            self.auth = httpx.BasicAuth(unquote(parts.username), unquote(parts.password))
        elif parts.username:
            self.headers["Authorization"] = f"Bearer {unquote(parts.username)}"
        self.timeout = timeout

    def describe(self) -> str:
        return self.url  # without the credentials

    def reference(self, alert: Alert, contact: Contact) -> str:
        return f"{self.name}:{alert.id}:{contact.person_id}"

    def unreachable(self, contact: Contact) -> str | None:
        return None if contact.phone else "aucun numéro de téléphone dans l'annuaire pour cette personne"

    def text(self, alert: Alert) -> str:
        return ("EXERCICE — " if alert.exercise else "") + "Tocsin : " + alert.reason

    def send(self, alert: Alert, contact: Contact) -> None:
        body = {"to": contact.phone, "text": self.text(alert), "reference": self.reference(alert, contact)}
        label = LABELS.get(self.name, self.name)
        try:
            response = httpx.post(self.url, json=body, auth=self.auth, headers=self.headers, timeout=self.timeout)
        except httpx.HTTPError as e:
            raise DeliveryError(f"passerelle {label} injoignable ({e.__class__.__name__})", final=False) from e
        status = response.status_code
        if 200 <= status < 300:
            return
        final = 400 <= status < 500 and status not in (408, 429)
        raise DeliveryError(f"passerelle {label} : refus ({status})", final=final)
