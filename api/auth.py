"""Who is asking, and what they may see: OIDC-style bearer tokens scoped to a territory.

A token is a signed JWT whose claims carry a role and a territory:

    {"iss": ..., "aud": ..., "sub": "marie.dupont", "exp": ...,
     "tocsin_role": "mayor", "tocsin_territory": "commune:35238", "name": "Marie Dupont"}

Keys. In local mode (nothing configured) tokens are HS256, signed with a random key generated once in
`<data_dir>/secrets/jwt.key`; `tocsin token` and the demonstration login mint them. With a real
identity provider (ProConnect, Keycloak, ...) set TOCSIN_JWKS_URL (an https:// or file:// JWKS) or
TOCSIN_JWT_KEY_FILE (a PEM public key; RS256/ES256), plus TOCSIN_JWT_ISSUER and TOCSIN_JWT_AUDIENCE;
Tocsin then only verifies, it never mints. The IdP must put the two `tocsin_*` claims in its tokens
(claim names are configurable: TOCSIN_JWT_ROLE_CLAIM, TOCSIN_JWT_TERRITORY_CLAIM).

Visibility. Each role is bound to one level of territory and sees that territory and everything
inside it (Geography.contains), nothing else. A case belongs to the narrowest territory it could be
placed in; a case that could not be placed at all is seen by national-level tokens only.

Personal data (callers, phone numbers, victims' names, health details, free texts) is shown only to
roles that act on individual people: the SDIS (rescue), the prefecture (crisis centre, information
of families) and national operational staff (COGIC, mass-casualty events). Mayors, zone staff,
analysts and auditors see the facts without them: figures and places are enough for their job, and
least privilege is the rule (DESIGN.md, principle 4).
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import jwt
from fastapi import Depends, HTTPException, Request

from adapters.geography import Geography
from adapters.secret_file import create_once
from adapters.settings import Settings
from domain.geography import NATIONAL, Level

COOKIE_NAME = "tocsin_token"
DEFAULT_ISSUER = "tocsin-local"
DEFAULT_AUDIENCE = "tocsin"


@dataclass(frozen=True)
class Role:
    code: str
    label: str  # French, shown in the dashboard
    levels: tuple[Level, ...]  # the levels of territory a token of this role may carry
    personal: bool  # may see personal data
    reads: bool = True  # may read views and cases (False for service accounts)
    ingests: bool = False  # may post NexSIS messages
    audits: bool = False  # may read the access log and the quarantine


_ANY = (Level.COMMUNE, Level.DEPARTEMENT, Level.ZONE, Level.NATIONAL)

ROLES: dict[str, Role] = {
    r.code: r
    for r in (
        Role("mayor", "Maire", (Level.COMMUNE,), personal=False),
        Role("prefecture", "Préfecture", (Level.DEPARTEMENT,), personal=True),
        Role("sdis", "SDIS", (Level.DEPARTEMENT,), personal=True),
        Role("zone", "État-major de zone", (Level.ZONE,), personal=False),
        Role("national", "Niveau national (COGIC)", (Level.NATIONAL,), personal=True),
        Role("analyst", "Analyste", _ANY, personal=False),
        Role("auditor", "Auditeur", _ANY, personal=False, audits=True),
        Role("nexsis", "Plateforme d'échange NexSIS (compte de service)", (Level.NATIONAL,), personal=False,
             reads=False, ingests=True),
    )
}


def parse_territory(value: str) -> tuple[Level, str]:
    """'commune:35238' -> (Level.COMMUNE, '35238'); ValueError when malformed."""
    level, sep, code = (value or "").partition(":")
    if not sep or not code:
        raise ValueError(f"territoire mal formé : {value!r} (attendu niveau:code, ex. commune:35238)")
    return Level(level.strip().lower()), code.strip()


@dataclass(frozen=True)
class Principal:
    """The authenticated caller: a role over one territory."""

    subject: str
    role: Role
    level: Level
    code: str
    geography: Geography = field(repr=False, compare=False)
    name: str | None = None
    expires_at: float = float("inf")  # the token's `exp` (epoch seconds)

    @property
    def territory(self) -> str:
        return f"{self.level.value}:{self.code}"

    @property
    def may_see_personal(self) -> bool:
        return self.role.personal

    def can_see(self, level: Level | str, code: str) -> bool:
        """Is this territory the caller's own or inside it?"""
        if not self.role.reads and not self.role.audits:
            return False
        return self.geography.contains((self.level, self.code), (level, code))

    def can_see_placement(self, placement: dict | None) -> bool:
        """May the caller see a case placed there? Judged on the narrowest known territory."""
        placement = placement or {}
        for level, key in ((Level.COMMUNE, "insee"), (Level.DEPARTEMENT, "departement"), (Level.ZONE, "zone")):
            if placement.get(key):
                return self.can_see(level, placement[key])
        return self.can_see(Level.NATIONAL, NATIONAL) and self.level is Level.NATIONAL

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
        }


class AuthError(Exception):
    """A token that cannot be trusted; the message is French, for the caller."""


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
    demo_login: bool = True
    ingest_open: bool = False  # POST /api/v1/messages without token (trusted listener only)
    token_ttl: int = 12 * 3600
    leeway: int = 30
    _jwks_client: Any = field(default=None, repr=False)
    # Verified tokens (signature, issuer, audience, claims: ~150 µs each) until they expire.
    _verified: dict = field(default_factory=dict, repr=False)

    @property
    def local(self) -> bool:
        """Local mode: Tocsin holds the signing key and may mint tokens."""
        return self.secret is not None and self.public_key is None and self.jwks_url is None

    @classmethod
    def from_env(cls, settings: Settings, environ: dict | None = None) -> AuthConfig:
        env = settings.auth_env if environ is None else environ  # read once, with the other settings
        jwks_url = env.get("TOCSIN_JWKS_URL") or None
        key_file = env.get("TOCSIN_JWT_KEY_FILE") or None
        secret = public_key = None
        algorithms: tuple[str, ...]
        if key_file:
            data = Path(key_file).read_bytes()
            if b"-----BEGIN" in data:
                public_key = data
                algorithms = ("RS256", "ES256")
            else:
                secret = data.strip()
                algorithms = ("HS256",)
        elif jwks_url:
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
        )
        # The demonstration login mints tokens: only where Tocsin holds the key, and never when refused.
        config.demo_login = config.local and (env.get("TOCSIN_DEMO_LOGIN") or "1") != "0"
        # Posting messages: a `nexsis` service-account token, except on a trusted listener
        # (TOCSIN_INGEST_AUTH=open) and in demonstration mode, where anyone may mint any token anyway
        # (so that `tocsin simulate --http` works on a laptop).
        policy = (env.get("TOCSIN_INGEST_AUTH") or ("open" if config.demo_login else "token")).lower()
        config.ingest_open = policy == "open"
        return config

    # ---- tokens ----------------------------------------------------------------------------------

    def mint(self, role: str, territory: str, *, subject: str | None = None, name: str | None = None,
             ttl: int | None = None) -> str:
        """A signed token (local mode only: a real IdP issues its own)."""
        if not self.local:
            raise AuthError("les jetons sont émis par le fournisseur d'identité configuré, pas par Tocsin")
        if role not in ROLES:
            raise AuthError(f"rôle inconnu : {role} (rôles : {', '.join(ROLES)})")
        level, _ = parse_territory(territory)
        if level not in ROLES[role].levels:
            raise AuthError(f"le rôle {role} ne peut pas porter un territoire de niveau {level.value}")
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": subject or f"{role}@{territory}",
            "iat": now,
            "nbf": now,
            "exp": now + (ttl or self.token_ttl),
            self.role_claim: role,
            self.territory_claim: territory,
        }
        if name:
            claims["name"] = name
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
            if self.jwks_url and self.jwks_url.startswith("file://"):
                self._jwks_client = _JwksFile(Path(self.jwks_url.removeprefix("file://")))
            else:
                self._jwks_client = jwt.PyJWKClient(self.jwks_url, cache_keys=True, lifespan=3600)
        return self._jwks_client


    def principal(self, token: str, geography: Geography) -> Principal:
        known = self._verified.get(token)
        if known is not None and known[0] > time.time() and known[1].geography is geography:
            return known[1]
        principal = self._principal(token, geography)
        if len(self._verified) > 10_000:
            self._verified.clear()
        # Kept until the token's expiry (less the leeway granted at verification: never beyond it).
        self._verified[token] = (principal.expires_at, principal)
        return principal

    def _principal(self, token: str, geography: Geography) -> Principal:
        claims = self.verify(token)
        role = ROLES.get(str(claims.get(self.role_claim) or ""))
        if role is None:
            raise AuthError(f"rôle absent ou inconnu dans le jeton ({self.role_claim})")
        try:
            level, code = parse_territory(str(claims.get(self.territory_claim) or ""))
        except ValueError as e:
            raise AuthError(f"territoire absent ou invalide dans le jeton ({self.territory_claim})") from e
        if level not in role.levels or not geography.exists(level, code):
            raise AuthError(f"territoire {level.value}:{code} non valable pour le rôle {role.code}")
        return Principal(str(claims["sub"]), role, level, code, geography, claims.get("name"), float(claims["exp"]))


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


# ---- FastAPI dependencies -------------------------------------------------------------------------
# Async although they do no I/O (a JWKS fetch aside, cached for an hour): a sync dependency would cost
# a thread hop on every request. Verifying an HS256/RS256/ES256 signature takes tens of microseconds.

UNAUTHENTICATED = "authentification requise : jeton porteur (Authorization: Bearer …) manquant"


def token_from_request(request: Request) -> str | None:
    header = request.headers.get("authorization") or ""
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    # The dashboard's HttpOnly cookie, for reads only (SameSite=Strict; writes need the header).
    if request.method in ("GET", "HEAD"):
        return request.cookies.get(COOKIE_NAME) or None
    return None


async def current_principal(request: Request) -> Principal:
    token = token_from_request(request)
    if token is None:
        raise HTTPException(401, UNAUTHENTICATED, headers={"WWW-Authenticate": "Bearer"})
    config: AuthConfig = request.app.state.auth
    try:
        return config.principal(token, request.app.state.services.geography)
    except AuthError as e:
        raise HTTPException(401, str(e), headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}) from e


async def reader(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
    """A caller allowed to read views and cases (not a service account)."""
    if not principal.role.reads:
        raise HTTPException(403, f"le rôle {principal.role.code} ne donne pas accès aux données")
    return principal


async def auditor(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
    if not principal.role.audits:
        raise HTTPException(403, "réservé aux auditeurs")
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
Reader = Annotated[Principal, Depends(reader)]
Auditor = Annotated[Principal, Depends(auditor)]


def outside(level: Level | str, code: str) -> HTTPException:
    """The one answer for a territory outside the caller's perimeter."""
    lvl = level.value if isinstance(level, Level) else level
    return HTTPException(403, f"accès refusé : le territoire {lvl}:{code} est hors de votre périmètre")


def check_territory(principal: Principal, level: str, code: str) -> Level:
    """The level, after checking the territory exists and the caller may see it (404 / 403)."""
    try:
        lvl = Level(level)
    except ValueError as e:
        raise HTTPException(404, f"niveau de territoire inconnu : {level} (commune, departement, zone, national)") from e
    if not principal.geography.exists(lvl, code):
        raise HTTPException(404, f"territoire inconnu : {lvl.value}:{code}")
    if not principal.can_see(lvl, code):
        raise outside(lvl, code)
    return lvl
