"""Security headers on every response, redirects and errors included: one pure ASGI middleware rather
than per-route code, so that no route (or a future one) can forget them.

The dashboard and the API documentation load only their own scripts and styles (api/static, the
swagger-ui-bundle package), so the policy allows nothing inline and nothing from elsewhere, except the
map tile server an operator configured (TOCSIN_MAP_TILES), as images only. Every answer but the static
assets is marked `no-store`: case details, the access log and live views carry personal data, and a
shared cache or the browser's disk must keep none of it.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Paths whose answers are public, versioned assets: the only ones a cache may keep.
CACHEABLE_PREFIXES = ("/static/", "/docs/assets/")
HSTS = "max-age=31536000; includeSubDomains"


def content_security_policy(map_tiles: str | None = None, identity_provider: str | None = None) -> str:
    """The policy; `map_tiles` (an XYZ URL template) adds its origin to the images allowed, nothing else;
    `identity_provider` (TOCSIN_OIDC_ISSUER) adds its origin to where forms may lead: the logout form's
    answer sends the browser on to the provider's end-session endpoint, which form-action also governs."""
    images = ["'self'", "data:"]
    origin = tile_origin(map_tiles)
    if origin:
        images.append(origin)
    forms = ["'self'"]
    provider = tile_origin(identity_provider)
    if provider:
        forms.append(provider)
    return "; ".join((
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        f"img-src {' '.join(images)}",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        f"form-action {' '.join(forms)}",
        "frame-ancestors 'none'",
    ))


def tile_origin(map_tiles: str | None) -> str | None:
    """`https://tile.example.org` of `https://tile.example.org/{z}/{x}/{y}.png`; None unless absolute http(s)."""
    if not map_tiles:
        return None
    parts = urlsplit(map_tiles)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        return None
    # Only the scheme, host and port reach the policy: a ';' or a quote in the setting cannot add a directive.
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")


class SecurityHeaders:
    """ASGI middleware adding the headers to every HTTP response start (streams and redirects too).

    The tile server and the public address are settings, known once the lifespan has opened the
    services: they are read from the application's state at the first request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._policy: tuple[bytes, bool] | None = None

    def _configured(self, scope: Scope) -> tuple[bytes, bool]:
        if self._policy is None:
            services = getattr(getattr(scope.get("app"), "state", None), "services", None)
            settings = getattr(services, "settings", None)
            if settings is None:  # before the lifespan: the strictest policy, not remembered
                return content_security_policy().encode(), False
            public_url: str = settings.public_url or ""
            self._policy = (content_security_policy(settings.map_tiles, settings.oidc_issuer).encode(),
                            public_url.lower().startswith("https://"))
        return self._policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy, always_tls = self._configured(scope)
        path: str = scope.get("path", "")
        cacheable = path.startswith(CACHEABLE_PREFIXES)
        tls = always_tls or scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(_with_headers(message.get("headers") or [], policy, cacheable, tls))
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _with_headers(headers: Iterable[tuple[bytes, bytes]], policy: bytes, cacheable: bool,
                  tls: bool) -> Iterable[tuple[bytes, bytes]]:
    ours = {
        b"content-security-policy": policy,
        b"x-content-type-options": b"nosniff",
        b"referrer-policy": b"same-origin",
        b"x-frame-options": b"DENY",
    }
    if not cacheable:
        ours[b"cache-control"] = b"no-store"
    if tls:
        ours[b"strict-transport-security"] = HSTS.encode()
    for name, value in headers:
        if name.lower() not in ours:
            yield name, value
    yield from ours.items()
