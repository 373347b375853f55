"""Acknowledgement links: `/acquittement/{jeton}`, a token that proves who was reached by which alert.

The token is the proof, not a login session: it names the alert and the person, signed with HMAC-SHA256
under the alert token key (adapters.settings.resolved_alert_token_key). It is single-use because what it
does happens once: the alert's first acknowledgement ends it, and any later use only says who did.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from uuid import UUID

_MAC_BYTES = 16


class BadToken(ValueError):
    """A link that was not made by this Tocsin (forged, truncated, or signed with another key)."""


@dataclass(frozen=True)
class AckToken:
    alert_id: UUID
    person_id: str


ACK = "tocsin-ack"  # an alert's acknowledgement link
ANSWER = "tocsin-answer"  # a call-out's answer link (domain.callout)


def make_token(key: bytes, alert_id: UUID, person_id: str, purpose: str = ACK) -> str:
    """`alert_id`: the aggregate the link acts on (an alert, or a call-out for ANSWER links); a link made
    for one purpose is refused for the other."""
    body = alert_id.bytes + person_id.encode("utf-8")
    mac = hmac.new(key, purpose.encode() + b"\x00" + body, hashlib.sha256).digest()[:_MAC_BYTES]
    return base64.urlsafe_b64encode(mac + body).rstrip(b"=").decode("ascii")


def read_token(key: bytes, token: str, purpose: str = ACK) -> AckToken:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (ValueError, TypeError) as e:
        raise BadToken("token is not base64url") from e
    if len(raw) < _MAC_BYTES + 17 or len(raw) > 1024:
        raise BadToken("token has the wrong length")
    mac, body = raw[:_MAC_BYTES], raw[_MAC_BYTES:]
    expected = hmac.new(key, purpose.encode() + b"\x00" + body, hashlib.sha256).digest()[:_MAC_BYTES]
    if not hmac.compare_digest(mac, expected):
        raise BadToken("token signature does not match")
    try:
        person_id = body[16:].decode("utf-8")
    except UnicodeDecodeError as e:
        raise BadToken("token person is not UTF-8") from e
    return AckToken(UUID(bytes=body[:16]), person_id)
