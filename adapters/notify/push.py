"""Web Push (RFC 8030, VAPID RFC 8292, payload encrypted aes128gcm RFC 8291) through pywebpush.

The payload is encrypted for the browser's subscription keys: the push service relays bytes it cannot
read. It names the alert and the acknowledgement page, nothing personal beyond the alert's own reason.
A subscription the push service says is gone (404, 410) is a final failure; a 429 or 5xx is retried.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from py_vapid import Vapid02  # type: ignore[import-untyped]  # ships no type information
from pywebpush import WebPushException, webpush  # type: ignore[import-untyped]  # ships no type information

from adapters.notify.smtp import DeliveryError
from adapters.notify.tokens import make_token
from adapters.secret_file import create_once
from adapters.settings import Settings, resolved_alert_token_key
from domain.alert import PUSH, Alert
from domain.recipients import Contact

log = logging.getLogger(__name__)

TTL_SECONDS = 3600  # an alert still worth showing an hour later; the push service drops it after that


def vapid_key(settings: Settings) -> Vapid02:
    """The server's VAPID key: TOCSIN_VAPID_PRIVATE_KEY (PEM text or a file), else the data folder's key file."""
    configured = settings.vapid_private_key
    if configured:
        pem = configured.encode() if configured.lstrip().startswith("-----BEGIN") else Path(configured).read_bytes()
        return Vapid02.from_pem(pem)
    key_file = settings.data_dir / "secrets" / "vapid.pem"
    if not key_file.exists():
        fresh = Vapid02()
        fresh.generate_keys()
        create_once(key_file, fresh.private_pem())
    return Vapid02.from_pem(key_file.read_bytes())


def application_server_key(vapid: Vapid02) -> str:
    """The public key a browser subscribes with (base64url of the uncompressed point)."""
    raw = vapid.public_key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class PushChannel:
    name = PUSH

    def __init__(self, settings: Settings, *, forget: Callable[[str, str], None] | None = None) -> None:
        """`forget(person_id, endpoint)` is told of a subscription the push service says is gone (404, 410),
        so that the directory stops offering it."""
        assert settings.vapid_subject, "the push channel needs TOCSIN_VAPID_SUBJECT"
        self.subject = settings.vapid_subject
        self.vapid = vapid_key(settings)
        self.public_url = (settings.public_url or "http://127.0.0.1:8000").rstrip("/")
        self.key = resolved_alert_token_key(settings)
        self.forget = forget

    def reference(self, alert: Alert, contact: Contact) -> str:
        return f"push:{alert.id}"

    def unreachable(self, contact: Contact) -> str | None:
        return None if contact.push_subscriptions else "aucun abonnement aux notifications push pour cette personne"

    def payload(self, alert: Alert, contact: Contact) -> bytes:
        token = make_token(self.key, alert.id, contact.person_id)
        return json.dumps({
            "title": ("EXERCICE — " if alert.exercise else "") + "Alerte Tocsin",
            "body": alert.reason,
            "alert_id": str(alert.id),
            "severity": alert.severity,
            "url": f"{self.public_url}/acquittement/{token}",
            "tag": str(alert.id),  # one notification per alert on the device, even if shown twice
        }, ensure_ascii=False).encode()

    def send(self, alert: Alert, contact: Contact) -> None:
        data = self.payload(alert, contact)
        failures: list[DeliveryError] = []
        for subscription in contact.push_subscriptions:
            endpoint = str(subscription.get("endpoint") or "")
            parts = urlsplit(endpoint)
            claims: dict[str, str | int] = {"sub": self.subject, "aud": f"{parts.scheme}://{parts.netloc}"}
            try:
                webpush(dict(subscription), data.decode(), vapid_private_key=self.vapid, vapid_claims=claims,
                        ttl=TTL_SECONDS, timeout=10, headers={"Urgency": "high"})
                return  # one device reached is enough
            except WebPushException as e:
                status = e.response.status_code if e.response is not None else None
                gone = status in (404, 410)
                if gone and self.forget is not None:
                    try:
                        self.forget(contact.person_id, endpoint)
                    except Exception:  # noqa: BLE001 - the delivery's outcome is recorded whatever happens here
                        log.exception("could not forget a push subscription its service says is gone")
                failures.append(DeliveryError(
                    f"service de notification push : {'abonnement expiré' if gone else 'refus'} ({status or 'réseau'})",
                    final=gone or (status is not None and 400 <= status < 500 and status != 429)))
            except Exception as e:  # noqa: BLE001 - requests' network errors: worth another attempt
                failures.append(DeliveryError(f"service de notification push injoignable ({e.__class__.__name__})",
                                              final=False))
        if not failures:
            raise DeliveryError("aucun abonnement aux notifications push pour cette personne", final=True)
        retryable = [f for f in failures if not f.final]
        raise retryable[0] if retryable else failures[0]
