"""Who is asking: OIDC-style bearer tokens, verified (and, in local mode, minted), carrying a role and a territory.

A token is a signed JWT whose claims carry a role and a territory:

    {"iss": ..., "aud": ..., "sub": "marie.dupont", "exp": ...,
     "tocsin_role": "mayor", "tocsin_territory": "commune:35238", "name": "Marie Dupont"}

Keys. In local mode (nothing configured) tokens are HS256, signed with a random key generated once in
`<data_dir>/secrets/jwt.key`; `tocsin token` and the demonstration login mint them. With a real
identity provider (ProConnect, Keycloak, ...) set TOCSIN_JWKS_URL (an https:// or file:// JWKS) or
TOCSIN_JWT_KEY_FILE (a PEM public key; RS256/ES256), plus TOCSIN_JWT_ISSUER and TOCSIN_JWT_AUDIENCE;
Tocsin then only verifies, it never mints. The IdP must put the two `tocsin_*` claims in its tokens
(claim names are configurable: TOCSIN_JWT_ROLE_CLAIM, TOCSIN_JWT_TERRITORY_CLAIM).

The token's claims become a `domain.access.Principal` in one place (`AuthConfig.principal`); what a
principal may see and do is decided by `domain.access`, not here.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt

from adapters.secret_file import create_once
from adapters.settings import Settings
from domain.access import Denied, Principal, UnknownRole, check_holds, role_named
from domain.geography import Hierarchy, UnknownTerritory, parse_territory

COOKIE_NAME = "tocsin_token"
DEFAULT_ISSUER = "tocsin-local"
DEFAULT_AUDIENCE = "tocsin"


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
    # Verified tokens (signature, issuer, audience, claims) until they expire.
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
        known = self._verified.get(token)
        if known is not None and known[0] > time.time() and known[1].geography is geography:
            return known[1]
        principal = self._principal(token, geography)
        if len(self._verified) > 10_000:
            self._verified.clear()
        # Kept until the token's expiry (less the leeway granted at verification: never beyond it).
        self._verified[token] = (principal.expires_at, principal)
        return principal

    def _principal(self, token: str, geography: Hierarchy) -> Principal:
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
