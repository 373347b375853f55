"""The gateway CAP messages are published to: a port (`CapGateway`) and its one real adapter, an HTTP
POST of the message to a URL (TOCSIN_CAP_GATEWAY_URL, e.g. `https://jeton@diffusion.example.fr/v1/cap`).

FR-Alert's own interface is not reachable from here; a broadcaster's CAP intake (or a relay to it) takes
the message as the body of a POST, `Content-Type: application/cap+xml`. Credentials come from the URL:
HTTP basic with a user and password, a bearer token with a user alone. A 2xx is accepted; anything else,
or no answer, is a failure whose reason is recorded, and the same message may be published again (its
identifier lets the gateway recognise a repeat).

Where no gateway is configured, there is none: `gateway_for` answers None and the use cases record that
the message was not published, and why.
"""

from __future__ import annotations

from typing import Protocol
from urllib.parse import unquote, urlsplit, urlunsplit

import httpx

from adapters.settings import Settings

CONTENT_TYPE = "application/cap+xml; charset=utf-8"
NO_GATEWAY = "aucune passerelle de diffusion n'est configurée (TOCSIN_CAP_GATEWAY_URL) : message non publié"


class PublicationError(Exception):
    """The gateway did not accept the message (French reason, without credentials)."""


class CapGateway(Protocol):
    def describe(self) -> str:
        """Where messages go, without credentials (recorded with each attempt)."""
        ...

    def publish(self, identifier: str, xml: bytes) -> None:
        """Hand the message over; PublicationError if the gateway did not accept it."""
        ...


class HttpCapGateway:
    def __init__(self, url: str, timeout: float = 10.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("passerelle CAP : URL http(s) attendue")
        netloc = parts.hostname + (f":{parts.port}" if parts.port else "")
        self.url = urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
        self.auth: httpx.Auth | None = None
        self.headers = {"Content-Type": CONTENT_TYPE}
        if parts.username and parts.password:
            self.auth = httpx.BasicAuth(unquote(parts.username), unquote(parts.password))
        elif parts.username:
            self.headers["Authorization"] = f"Bearer {unquote(parts.username)}"
        self.timeout = timeout

    def describe(self) -> str:
        return self.url

    def publish(self, identifier: str, xml: bytes) -> None:
        try:
            response = httpx.post(self.url, content=xml, auth=self.auth, timeout=self.timeout,
                                  headers={**self.headers, "X-CAP-Identifier": identifier})
        except httpx.HTTPError as e:
            raise PublicationError(f"passerelle de diffusion injoignable ({e.__class__.__name__})") from e
        if not 200 <= response.status_code < 300:
            raise PublicationError(f"passerelle de diffusion : refus (HTTP {response.status_code})")


def gateway_for(settings: Settings) -> CapGateway | None:
    return HttpCapGateway(settings.cap_gateway_url) if settings.cap_gateway_url else None
