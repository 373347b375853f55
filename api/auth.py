"""Who is asking: OIDC-style bearer tokens, verified (and, in local mode, minted), carrying a role and a territory.

A token is a signed JWT whose claims carry a role and a territory:

    {"iss": ..., "aud": ..., "sub": "marie.dupont", "exp": ...,
     "tocsin_role": "mayor", "tocsin_territory": "commune:35238", "name": "Marie Dupont"}

Keys. In local mode (no identity provider configured) tokens are HS256, signed with a random key
generated once in `<data_dir>/secrets/jwt.key`: the operator's own, which `tocsin token` mints with.
With a real identity provider (ProConnect, Keycloak, ...) set TOCSIN_JWKS_URL (an https:// or file://
JWKS) or TOCSIN_JWT_KEY_FILE (a PEM public key, RS256/ES256, or the provider's HS256 shared secret), plus
TOCSIN_JWT_ISSUER and TOCSIN_JWT_AUDIENCE; Tocsin then only verifies, it never mints: a provider's
shared secret signs nothing here. The IdP must put the two `tocsin_*` claims in its tokens (claim names
are configurable: TOCSIN_JWT_ROLE_CLAIM, TOCSIN_JWT_TERRITORY_CLAIM).

Demonstration mode (anyone signs in with any role, on the local key) exists only when asked for:
`tocsin run` or `tocsin serve --demo` (`from_env(..., demo=True)`), and never next to an identity
provider's settings. Outside it, the dashboard's login takes a token from the identity provider, and
without one there is no interactive login at all. With TOCSIN_OIDC_* set, the dashboard's login is
OpenID Connect with server-side sessions (api/routes/login.py, api/web_session.py), and the tokens
verified here remain for services and scripts.

Logging out revokes the token by its id (`jti`) in a list shared by all server processes
(`Revocations`); login attempts are rate-limited per client address and overall (`LoginLimit`).

The token's claims become a `domain.access.Principal` in one place (`AuthConfig.principal`); what a
principal may see and do is decided by `domain.access`, not here.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import math
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jwt
from fastapi.concurrency import run_in_threadpool

from adapters.secret_file import create_once
from adapters.settings import Settings
from adapters.store import revocations
from adapters.store.event_store import TocsinStore
from domain.access import Denied, Principal, UnknownRole, check_holds, role_named
from domain.directory import seeded_organisation_id
from domain.geography import Hierarchy, UnknownTerritory, parse_territory

log = logging.getLogger(__name__)

COOKIE_NAME = "tocsin_token"
LOGIN_COOKIE = "tocsin_login"  # the login form's CSRF nonce, before any session exists
DEFAULT_ISSUER = "tocsin-local"
DEFAULT_AUDIENCE = "tocsin"
# The variables naming an identity provider: demonstration mode refuses to start beside any of them.
IDENTITY_PREFIXES = ("TOCSIN_JWT_", "TOCSIN_JWKS_URL", "TOCSIN_OIDC_")


class AuthError(Exception):
    """A token that cannot be trusted; the message is French, for the caller."""


class DemoRefused(AuthError):
    """Demonstration mode asked for where an identity provider is configured: a production server."""


def identity_settings(env: Mapping[str, str]) -> list[str]:
    """The identity provider's variables set (non-empty) in `env`, sorted."""
    return sorted(k for k, v in env.items() if k.startswith(IDENTITY_PREFIXES) and v.strip())


@dataclass
class AuthConfig:
    """How tokens are verified (and, in local mode, minted)."""

    issuer: str = DEFAULT_ISSUER
    audience: str = DEFAULT_AUDIENCE
    algorithms: tuple[str, ...] = ("HS256",)
    secret: bytes | None = None  # HS256 key (local mode)
    public_key: Any = None  # PEM public key (TOCSIN_JWT_KEY_FILE)
    jwks_url: str | None = None
    role_claim: str = "tocsin_role"
    territory_claim: str = "tocsin_territory"
    identity_provider: str | None = None  # the setting that names the IdP (its tokens only; Tocsin never mints)
    demo_login: bool = False  # demonstration mode: `tocsin run`, `tocsin serve --demo`
    ingest_open: bool = False  # POST /api/v1/messages without token (trusted listener only)
    token_ttl: int = 12 * 3600
    leeway: int = 30
    csrf_key: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)
    _jwks_client: Any = field(default=None, repr=False)
    # Verified tokens (signature, issuer, audience, claims) until they expire.
    _verified: dict = field(default_factory=dict, repr=False)

    @property
    def local(self) -> bool:
        """Local mode: the key is Tocsin's own (the data folder's), so Tocsin may mint tokens."""
        return (self.secret is not None and self.identity_provider is None and self.public_key is None
                and self.jwks_url is None)

    @property
    def interactive_login(self) -> bool:
        """Does the dashboard offer a login: a pasted IdP token, or the demonstration's chosen role."""
        return self.demo_login or self.identity_provider is not None

    @classmethod
    def from_env(cls, settings: Settings, environ: Mapping[str, str] | None = None, *,
                 demo: bool = False) -> AuthConfig:
        """The configuration the environment describes; `demo`: demonstration mode, asked for by the
        command line (DemoRefused where an identity provider is configured)."""
        env = settings.auth_env if environ is None else environ  # read once, with the other settings
        if demo and identity_settings(env):
            raise DemoRefused(
                "mode démonstration refusé : un fournisseur d'identité est configuré ("
                + ", ".join(identity_settings(env)) + "). Retirez ces variables pour un essai, "
                "ou lancez `tocsin serve` sans --demo en production."
            )
        if env.get("TOCSIN_DEMO_LOGIN"):
            log.warning("TOCSIN_DEMO_LOGIN is no longer read: demonstration mode is `tocsin run` or "
                        "`tocsin serve --demo`, and is off otherwise")
        jwks_url = env.get("TOCSIN_JWKS_URL") or None
        key_file = env.get("TOCSIN_JWT_KEY_FILE") or None
        secret = public_key = identity_provider = None
        algorithms: tuple[str, ...]
        if key_file:
            identity_provider = "TOCSIN_JWT_KEY_FILE"
            data = Path(key_file).read_bytes()
            if b"-----BEGIN" in data:
                public_key = data
                algorithms = ("RS256", "ES256")
            else:  # the provider's shared secret: it verifies the provider's tokens, and signs nothing here
                secret = data.strip()
                algorithms = ("HS256",)
        elif jwks_url:
            identity_provider = "TOCSIN_JWKS_URL"
            algorithms = ("RS256", "ES256")
        else:
            secret = local_secret(settings)
            algorithms = ("HS256",)
        if env.get("TOCSIN_JWT_ALGORITHMS"):
            algorithms = tuple(a.strip() for a in env["TOCSIN_JWT_ALGORITHMS"].split(",") if a.strip())
        config = cls(
            issuer=env.get("TOCSIN_JWT_ISSUER") or DEFAULT_ISSUER,
            audience=env.get("TOCSIN_JWT_AUDIENCE") or DEFAULT_AUDIENCE,
            algorithms=algorithms,
            secret=secret,
            public_key=public_key,
            jwks_url=jwks_url,
            role_claim=env.get("TOCSIN_JWT_ROLE_CLAIM") or "tocsin_role",
            territory_claim=env.get("TOCSIN_JWT_TERRITORY_CLAIM") or "tocsin_territory",
            identity_provider=identity_provider,
            demo_login=demo,
            csrf_key=local_csrf_key(settings),
        )
        # Posting messages: a `nexsis` service-account token, except on a listener explicitly declared
        # trusted (TOCSIN_INGEST_AUTH=open) and in demonstration mode, where anyone may mint any token
        # anyway (so that `tocsin simulate --http` works on a laptop).
        policy = (env.get("TOCSIN_INGEST_AUTH") or ("open" if demo else "token")).lower()
        config.ingest_open = policy == "open"
        return config

    def describe(self) -> str:
        """How callers authenticate, for the operator's start-up log (English)."""
        if self.demo_login:
            return ("DEMONSTRATION MODE: anyone who reaches this server can sign in with any role and "
                    "territory; do not use in production")
        if self.identity_provider is None:
            return ("no identity provider configured: the dashboard offers no login, and the API accepts "
                    "only tokens made by `tocsin token` with this data folder's key. Set TOCSIN_JWKS_URL "
                    "(or TOCSIN_JWT_KEY_FILE), TOCSIN_JWT_ISSUER and TOCSIN_JWT_AUDIENCE for your identity "
                    "provider, or run `tocsin serve --demo` for a demonstration")
        return f"tokens verified with the identity provider's keys ({self.identity_provider})"

    # ---- cross-site request forgery ----------------------------------------------------------------

    def csrf_token(self, purpose: str, binding: str) -> str:
        """The token a form must send back: bound to what it acts on (the login nonce, the session's id),
        signed with a key no other site knows."""
        return hmac.new(self.csrf_key, f"{purpose}\0{binding}".encode(), hashlib.sha256).hexdigest()

    def csrf_valid(self, purpose: str, binding: str | None, sent: str | None) -> bool:
        if not binding or not sent:
            return False
        # As bytes: compare_digest refuses str with non-ASCII characters (a forged form's « forgé » was a 500).
        return hmac.compare_digest(self.csrf_token(purpose, binding).encode(), sent.encode())

    # ---- tokens ----------------------------------------------------------------------------------

    def mint(self, role: str, territory: str, *, subject: str | None = None, name: str | None = None,
             ttl: int | None = None) -> str:
        """A signed token (local mode only: a real IdP issues its own)."""
        if not self.local:
            raise AuthError("les jetons sont émis par le fournisseur d'identité configuré, pas par Tocsin")
        try:
            granted = role_named(role)
            level, code = parse_territory(territory)
            check_holds(granted, level)
        except (UnknownRole, Denied) as e:
            raise AuthError(str(e)) from e
        territory = f"{level.value}:{code}"
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": subject or f"{role}@{territory}",
            "iat": now,
            "nbf": now,
            "exp": now + (ttl or self.token_ttl),
            "jti": secrets.token_urlsafe(16),
            self.role_claim: role,
            self.territory_claim: territory,
        }
        if name:
            claims["name"] = name
        assert self.secret is not None  # local mode
        return jwt.encode(claims, self.secret, algorithm="HS256")

    def verify(self, token: str) -> dict[str, Any]:
        """The token's claims, or AuthError (bad signature, expired, wrong issuer or audience)."""
        try:
            key: Any
            if self.jwks_url:
                key = self._jwks().get_signing_key_from_jwt(token).key
            elif self.public_key is not None:
                key = self.public_key
            else:
                key = self.secret
            return jwt.decode(
                token,
                key,
                algorithms=list(self.algorithms),
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError as e:
            raise AuthError("jeton expiré : reconnectez-vous") from e
        except (jwt.PyJWTError, ValueError) as e:
            raise AuthError(f"jeton invalide : {e}") from e

    def _jwks(self) -> Any:
        if self._jwks_client is None:
            assert self.jwks_url is not None  # only called when a JWKS is configured
            if self.jwks_url.startswith("file://"):
                self._jwks_client = _JwksFile(Path(self.jwks_url.removeprefix("file://")))
            else:
                self._jwks_client = jwt.PyJWKClient(self.jwks_url, cache_keys=True, lifespan=3600)
        return self._jwks_client


    def principal(self, token: str, geography: Hierarchy) -> Principal:
        """The one way from a bearer token to a principal: verified, then its claims checked; AuthError else."""
        return self.session(token, geography)[0]

    def session(self, token: str, geography: Hierarchy) -> tuple[Principal, str]:
        """The principal and the token's id (its `jti`, else a digest of the token), the key of revocation."""
        known = self._verified.get(token)
        if known is not None and known[0] > time.time() and known[1].geography is geography:
            return known[1], known[2]
        principal, token_id = self._principal(token, geography)
        if len(self._verified) > 10_000:
            self._verified.clear()
        # Kept until the token's expiry (less the leeway granted at verification: never beyond it).
        self._verified[token] = (principal.expires_at, principal, token_id)
        return principal, token_id

    def _principal(self, token: str, geography: Hierarchy) -> tuple[Principal, str]:
        claims = self.verify(token)
        try:
            role = role_named(str(claims.get(self.role_claim) or ""))
        except UnknownRole as e:
            raise AuthError(f"rôle absent ou inconnu dans le jeton ({self.role_claim})") from e
        try:
            level, code = parse_territory(str(claims.get(self.territory_claim) or ""))
        except UnknownTerritory as e:
            raise AuthError(f"territoire absent ou invalide dans le jeton ({self.territory_claim})") from e
        if not role.may_hold(level) or not geography.exists(level, code):
            raise AuthError(f"territoire {level.value}:{code} non valable pour le rôle {role.code}")
        token_id = str(claims.get("jti") or "") or "sha256:" + hashlib.sha256(token.encode()).hexdigest()
        name, expires = claims.get("name"), float(claims["exp"])
        # A service or script's token acts for its territory's seeded organisation of the role's kind (pure:
        # the seeded ids are derived from the territory, no directory lookup per request).
        organisation = seeded_organisation_id(role.code, level, code)
        return Principal(str(claims["sub"]), role, level, code, geography, name, expires,
                         organisation_id=organisation), token_id


class _JwksFile:
    """A JWKS kept in a local file (an IdP without network access, tests); re-read when it changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: float | None = None
        self._keys: jwt.PyJWKSet | None = None

    def get_signing_key_from_jwt(self, token: str) -> jwt.PyJWK:
        stamp = self.path.stat().st_mtime
        if self._keys is None or stamp != self._stamp:
            self._keys, self._stamp = jwt.PyJWKSet.from_json(self.path.read_text()), stamp
        kid = jwt.get_unverified_header(token).get("kid")
        for key in self._keys.keys:
            if key.key_id == kid:
                return key
        raise jwt.InvalidTokenError(f"clé {kid!r} absente du JWKS")


def local_secret(settings: Settings) -> bytes:
    """The HS256 key of local mode, generated once next to the cipher key (mode 0600)."""
    path = settings.data_dir / "secrets" / "jwt.key"
    if not path.exists():
        create_once(path, secrets.token_urlsafe(48).encode())
    return path.read_bytes().strip()


def local_csrf_key(settings: Settings) -> bytes:
    """The key that signs the forms' CSRF tokens: one per data folder, so that every server process
    accepts the forms another one rendered."""
    path = settings.data_dir / "secrets" / "csrf.key"
    if not path.exists():
        create_once(path, secrets.token_urlsafe(48).encode())
    return path.read_bytes().strip()


class Revocations:
    """The revoked tokens' ids, as this process knows them: the shared list (adapters.store.revocations),
    read again at most every `refresh` seconds, plus what this process revoked itself at once."""

    def __init__(self, store: TocsinStore, refresh: float = 2.0, max_stale: float = 30.0) -> None:
        self.store = store
        self.refresh = refresh
        # While the database is away (a failover), requests go on with the list last read, this long at most;
        # the list is read again in the background, so that no request waits for a database that is not there.
        self.max_stale = max_stale
        self._ids: set[str] = set()
        self._loaded_at = -math.inf
        self._lock = asyncio.Lock()
        self._reloading: asyncio.Task | None = None

    async def is_revoked(self, token_id: str) -> bool:
        age = time.monotonic() - self._loaded_at
        if age >= self.max_stale:  # never read, or unreadable for too long: wait for it (an error if still so)
            async with self._lock:
                if time.monotonic() - self._loaded_at >= self.max_stale:
                    await self._reload()
        elif age >= self.refresh and (self._reloading is None or self._reloading.done()):
            self._reloading = asyncio.create_task(self._reload_quietly())
        return token_id in self._ids

    async def _reload(self) -> None:
        loaded = await run_in_threadpool(revocations.revoked, self.store)
        self._ids, self._loaded_at = loaded, time.monotonic()

    async def _reload_quietly(self) -> None:
        try:
            await self._reload()
        except Exception:  # noqa: BLE001 - the list last read stands, for max_stale at most
            log.warning("revoked tokens not read again (database unreachable): using the list read %.0f s ago",
                        time.monotonic() - self._loaded_at, exc_info=True)

    async def revoke(self, token_id: str, expires_at: float, leeway: int) -> None:
        """Until the token could no longer be accepted anyway (its expiry plus the verification's leeway)."""
        until = datetime.fromtimestamp(expires_at + leeway, UTC)
        await run_in_threadpool(revocations.revoke, self.store, token_id, until)
        self._ids.add(token_id)


@dataclass
class LoginLimit:
    """Login attempts: so many a minute per client address, and overall (token buckets, in memory).

    Refusing costs a dictionary look-up, before the request's body is read. Per process: with N
    server processes an address gets at most N times its allowance."""

    per_client: int = 10  # attempts a minute from one address (and as many in a burst)
    overall: int = 300  # attempts a minute from all addresses together
    max_clients: int = 10_000  # addresses remembered; beyond, the full buckets are forgotten
    _clients: dict[str, tuple[float, float]] = field(default_factory=dict, repr=False)
    _overall: tuple[float, float] | None = field(default=None, repr=False)

    def attempt(self, client: str, now: float | None = None) -> float:
        """0 when the attempt may go on (it is counted), else the seconds to wait before the next one."""
        now = time.monotonic() if now is None else now
        mine = _refill(self._clients.get(client), self.per_client, now)
        every = _refill(self._overall, self.overall, now)
        if mine < 1 or every < 1:
            return max(_wait(mine, self.per_client), _wait(every, self.overall))
        if len(self._clients) >= self.max_clients and client not in self._clients:
            self._clients = {k: v for k, v in self._clients.items()
                             if _refill(v, self.per_client, now) < self.per_client}
        self._clients[client] = (mine - 1, now)
        self._overall = (every - 1, now)
        return 0.0


def _refill(bucket: tuple[float, float] | None, per_minute: int, now: float) -> float:
    if bucket is None:
        return float(per_minute)
    tokens, at = bucket
    return min(float(per_minute), tokens + (now - at) * per_minute / 60)


def _wait(tokens: float, per_minute: int) -> float:
    return 0.0 if tokens >= 1 else (1 - tokens) * 60 / per_minute
