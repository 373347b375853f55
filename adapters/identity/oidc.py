"""The dashboard's OpenID Connect client: authorisation code with PKCE (S256), state and nonce, against the
provider named by TOCSIN_OIDC_ISSUER (ProConnect, the State's identity federation, or any conforming one).

The protocol's pieces come from maintained libraries: Authlib builds the authorisation request and the
token request and validates the ID token's claims (issuer, audience, nonce, expiry, at_hash), joserfc
(Authlib's JOSE library) verifies signatures against the provider's published keys. Nothing here signs,
hashes or compares secrets by hand.

ProConnect's particulars: its userinfo endpoint answers a JWT signed with the provider's keys
(`application/jwt`), verified here like the ID token; its claims are given_name, usual_name, email, uid,
siret, idp_id; its `sub` differs per service, so people are matched by email (domain.directory).

The discovery document is fetched when first needed, not at start: Tocsin starts while the provider is
down, and a login attempted then gets a clear page (ProviderUnreachable) and may be retried. Keys are
fetched again when a token names a key not yet known (the provider rotated its keys).

Errors carry a French message for the person and an English reason for the operator's log; neither
contains a token or a personal claim.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
from authlib.common.security import generate_token
from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri, prepare_token_request
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet

from adapters.settings import Settings
from adapters.store.sessions import LoginRequest

log = logging.getLogger(__name__)

# The scopes ProConnect knows, one per claim Tocsin reads (a provider ignores the scopes it does not know).
SCOPES = "openid email given_name usual_name uid siret idp_id"
SIGNING_ALGORITHMS = ("RS256", "ES256", "PS256")  # asymmetric only: no provider secret makes a token here
UNREACHABLE = ("Le service d'identité (ProConnect) ne répond pas pour le moment. Réessayez dans quelques "
               "minutes ; si cela dure, prévenez l'administrateur de Tocsin.")


class OidcConfigError(ValueError):
    """Settings that cannot work (French message, for the operator at start)."""


class OidcError(Exception):
    """A login that cannot go on: `message` is French, for the person; `reason` English, for the log."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(reason)
        self.message = message
        self.reason = reason


class ProviderUnreachable(OidcError):
    def __init__(self, reason: str) -> None:
        super().__init__(UNREACHABLE, reason)


class LoginRefused(OidcError):
    """The provider's answer cannot be trusted (bad signature, wrong nonce, a code used twice…)."""

    def __init__(self, reason: str) -> None:
        super().__init__("La connexion n'a pas pu être vérifiée : recommencez depuis la page de connexion. "
                         "Si cela se reproduit, prévenez l'administrateur de Tocsin.", reason)


def loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_issuer(issuer: str) -> str:
    """The issuer URL, without a trailing slash; OidcConfigError unless https (http only on loopback, for a
    provider running beside Tocsin in tests or on a laptop)."""
    parts = urlsplit(issuer.strip())
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise OidcConfigError(f"TOCSIN_OIDC_ISSUER invalide : « {issuer} » n'est pas une adresse https://…")
    if parts.scheme == "http" and not loopback(parts.hostname):
        raise OidcConfigError(
            f"TOCSIN_OIDC_ISSUER refusé : « {issuer} » est en http sur une machine distante. Les jetons et les "
            "codes de connexion circuleraient en clair : utilisez l'adresse https:// du fournisseur "
            "(http n'est accepté que sur la boucle locale, 127.0.0.1 ou localhost).")
    if parts.query or parts.fragment:
        raise OidcConfigError(f"TOCSIN_OIDC_ISSUER invalide : « {issuer} » ne doit avoir ni ? ni #")
    return issuer.strip().rstrip("/")


def config_error(settings: Settings) -> str | None:
    """Why the OpenID Connect settings cannot work (French), or None; checked before a server starts."""
    given = [settings.oidc_issuer, settings.oidc_client_id, settings.oidc_client_secret]
    if not any(given):
        return None
    if not all(given):
        return ("connexion OpenID Connect incomplète : renseignez ensemble TOCSIN_OIDC_ISSUER, "
                "TOCSIN_OIDC_CLIENT_ID et TOCSIN_OIDC_CLIENT_SECRET")
    try:
        check_issuer(settings.oidc_issuer or "")
    except OidcConfigError as e:
        return str(e)
    return None


@dataclass(frozen=True)
class Identity:
    """Who the provider says logged in (verified). `email` is the directory's key."""

    subject: str
    email: str
    given_name: str | None
    usual_name: str | None
    uid: str | None
    siret: str | None
    idp_id: str | None
    id_token: str  # kept as the hint of the logout at the provider

    @property
    def name(self) -> str:
        return " ".join(p for p in (self.given_name, self.usual_name) if p) or self.email


class OidcClient:
    """One provider, one registration of Tocsin at it. Shared by the requests of a server process."""

    def __init__(self, issuer: str, client_id: str, client_secret: str, *, timeout: float = 10.0,
                 leeway: int = 60, metadata_ttl: float = 3600.0) -> None:
        self.issuer = check_issuer(issuer)
        self.client_id = client_id
        self.client_secret = client_secret
        self.timeout = timeout
        self.leeway = leeway
        self.metadata_ttl = metadata_ttl
        self._metadata: dict[str, Any] | None = None
        self._metadata_at = 0.0
        self._keys: KeySet | None = None
        self._lock = asyncio.Lock()
        self._tls: ssl.SSLContext | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> OidcClient | None:
        """The client the settings describe; None without OpenID Connect; OidcConfigError when they cannot work."""
        if (error := config_error(settings)) is not None:
            raise OidcConfigError(error)
        if not settings.oidc_issuer:
            return None
        assert settings.oidc_client_id and settings.oidc_client_secret  # config_error checked all three
        return cls(settings.oidc_issuer, settings.oidc_client_id, settings.oidc_client_secret)

    def _http(self) -> httpx.AsyncClient:
        # Never follows redirects: a provider's endpoint answers itself, and a redirect could lead anywhere.
        # One TLS context for all (loading the trusted certificates is most of a new client's cost); a
        # client per call, as its connections belong to the event loop that opened them.
        if self._tls is None:
            self._tls = ssl.create_default_context()
        return httpx.AsyncClient(timeout=self.timeout, follow_redirects=False, verify=self._tls,
                                 headers={"accept": "application/json"})

    # ---- discovery and keys -----------------------------------------------------------------------------

    async def metadata(self) -> dict[str, Any]:
        """The provider's discovery document (fetched when first needed, kept an hour)."""
        if self._metadata is not None and time.monotonic() - self._metadata_at < self.metadata_ttl:
            return self._metadata
        async with self._lock:
            if self._metadata is not None and time.monotonic() - self._metadata_at < self.metadata_ttl:
                return self._metadata
            url = self.issuer + "/.well-known/openid-configuration"
            document = await self._get_json(url, "discovery")
            if document.get("issuer", "").rstrip("/") != self.issuer:
                raise ProviderUnreachable(f"discovery document names issuer {document.get('issuer')!r}, "
                                          f"not {self.issuer!r}")
            missing = [k for k in ("authorization_endpoint", "token_endpoint", "jwks_uri") if not document.get(k)]
            if missing:
                raise ProviderUnreachable(f"discovery document lacks {', '.join(missing)}")
            self._metadata, self._metadata_at = document, time.monotonic()
            self._keys = None
            return document

    async def _get_json(self, url: str, what: str) -> dict[str, Any]:
        try:
            async with self._http() as http:
                response = await http.get(url)
        except httpx.HTTPError as e:
            raise ProviderUnreachable(f"{what} at {url}: {type(e).__name__}: {e}") from e
        if response.status_code != 200:
            raise ProviderUnreachable(f"{what} at {url}: HTTP {response.status_code}")
        try:
            document = response.json()
        except ValueError as e:
            raise ProviderUnreachable(f"{what} at {url}: not JSON") from e
        if not isinstance(document, dict):
            raise ProviderUnreachable(f"{what} at {url}: not a JSON object")
        return document

    async def keys(self, *, refresh: bool = False) -> KeySet:
        """The provider's signing keys (its JWKS), fetched again when asked (a key not yet known)."""
        if self._keys is not None and not refresh:
            return self._keys
        metadata = await self.metadata()
        document = await self._get_json(metadata["jwks_uri"], "JWKS")
        try:
            self._keys = KeySet.import_key_set(document)  # type: ignore[arg-type]  # a JWKS document
        except (JoseError, ValueError, TypeError, KeyError) as e:
            raise ProviderUnreachable(f"JWKS unreadable: {type(e).__name__}") from e
        return self._keys

    async def _verified(self, token: str, what: str) -> jwt.Token:
        """The JWT, its signature checked against the provider's keys (fetched again once for a new key)."""
        metadata = await self.metadata()
        offered = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
        algorithms = [a for a in offered if a in SIGNING_ALGORITHMS] or ["RS256"]
        for attempt in (0, 1):
            try:
                return jwt.decode(token, await self.keys(refresh=attempt == 1), algorithms=algorithms)
            except InvalidKeyIdError as e:
                if attempt == 1:
                    raise LoginRefused(f"{what}: signed with a key the provider does not publish") from e
            except (JoseError, ValueError, TypeError) as e:
                raise LoginRefused(f"{what}: {type(e).__name__}") from e
        raise AssertionError("unreachable")

    # ---- the flow -------------------------------------------------------------------------------------

    async def authorization(self, redirect_uri: str) -> tuple[str, LoginRequest]:
        """The provider's URL to send the browser to, and what the callback will need to check its answer."""
        metadata = await self.metadata()
        request = LoginRequest(state=generate_token(32), nonce=generate_token(32),
                               code_verifier=generate_token(64), redirect_uri=redirect_uri)
        url = prepare_grant_uri(
            metadata["authorization_endpoint"], client_id=self.client_id, response_type="code",
            redirect_uri=redirect_uri, scope=SCOPES, state=request.state, nonce=request.nonce,
            code_challenge=create_s256_code_challenge(request.code_verifier), code_challenge_method="S256",
        )
        return url, request

    async def complete(self, code: str, request: LoginRequest) -> Identity:
        """The code exchanged (with the PKCE verifier), the ID token and the userinfo verified."""
        metadata = await self.metadata()
        tokens = await self._token(metadata, code, request)
        id_token = tokens.get("id_token")
        access_token = tokens.get("access_token")
        if not isinstance(id_token, str) or not isinstance(access_token, str):
            raise LoginRefused("token response without id_token or access_token")
        claims = await self.verify_id_token(id_token, request.nonce, access_token=access_token)
        info = await self.userinfo(metadata, access_token, str(claims["sub"]))
        email = info.get("email") or claims.get("email")
        if not isinstance(email, str) or "@" not in email:
            raise LoginRefused("no email claim")

        def text(name: str) -> str | None:
            value = info.get(name, claims.get(name))
            return None if value is None else str(value)

        return Identity(subject=str(claims["sub"]), email=email, given_name=text("given_name"),
                        usual_name=text("usual_name") or text("family_name"), uid=text("uid"),
                        siret=text("siret"), idp_id=text("idp_id"), id_token=id_token)

    async def _token(self, metadata: Mapping[str, Any], code: str, request: LoginRequest) -> dict[str, Any]:
        methods = metadata.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
        secret: dict[str, str] = {}
        auth: httpx.Auth | httpx._client.UseClientDefault = httpx.USE_CLIENT_DEFAULT
        if "client_secret_post" in methods:  # what ProConnect asks of its clients
            secret = {"client_id": self.client_id, "client_secret": self.client_secret}
        else:  # the default (RFC 6749 2.3.1): each part form-encoded, then HTTP Basic
            auth = httpx.BasicAuth(quote(self.client_id, safe=""), quote(self.client_secret, safe=""))
        body = prepare_token_request("authorization_code", code=code, redirect_uri=request.redirect_uri,
                                     code_verifier=request.code_verifier, **secret)
        try:
            async with self._http() as http:
                response = await http.post(metadata["token_endpoint"], content=body, auth=auth,
                                           headers={"content-type": "application/x-www-form-urlencoded"})
        except httpx.HTTPError as e:
            raise ProviderUnreachable(f"token endpoint: {type(e).__name__}") from e
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        if response.status_code != 200 or not isinstance(answer, dict):
            error = answer.get("error") if isinstance(answer, dict) else None
            if response.status_code >= 500:
                raise ProviderUnreachable(f"token endpoint: HTTP {response.status_code}")
            # invalid_grant: a code already used, expired, or not issued for this verifier and redirect URI.
            raise LoginRefused(f"token endpoint refused the code: HTTP {response.status_code} {error}")
        return answer

    async def verify_id_token(self, id_token: str, nonce: str, *, access_token: str | None = None) -> dict[str, Any]:
        """The ID token's claims: signature (the provider's keys), issuer, audience, nonce, expiry, at_hash."""
        token = await self._verified(id_token, "id_token")
        params: dict[str, Any] = {"nonce": nonce, "client_id": self.client_id}
        if access_token is not None:
            params["access_token"] = access_token
        options: dict[str, Any] = {"iss": {"essential": True, "value": self.issuer},
                                   "aud": {"essential": True, "value": self.client_id},
                                   "exp": {"essential": True}, "nonce": {"essential": True}}
        claims = CodeIDToken(token.claims, token.header, options, params)
        try:
            claims.validate(leeway=self.leeway)
        except (JoseError, ValueError, TypeError) as e:
            raise LoginRefused(f"id_token: {type(e).__name__} {getattr(e, 'description', '')}".strip()) from e
        # Checked again here, whatever the library's defaults: a token without our nonce is someone else's.
        if not hmac.compare_digest(str(claims.get("nonce", "")).encode(), nonce.encode()):
            raise LoginRefused("id_token: nonce mismatch")
        return dict(claims)

    async def userinfo(self, metadata: Mapping[str, Any], access_token: str, subject: str) -> dict[str, Any]:
        """The userinfo claims: a signed JWT (ProConnect) verified against the provider's keys, or JSON."""
        url = metadata.get("userinfo_endpoint")
        if not url:
            return {}
        try:
            async with self._http() as http:
                response = await http.get(url, headers={"authorization": f"Bearer {access_token}",
                                                        "accept": "application/jwt, application/json"})
        except httpx.HTTPError as e:
            raise ProviderUnreachable(f"userinfo: {type(e).__name__}") from e
        if response.status_code != 200:
            raise LoginRefused(f"userinfo: HTTP {response.status_code}")
        kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind == "application/jwt":
            claims = (await self._verified(response.text.strip(), "userinfo")).claims
            if claims.get("iss", self.issuer).rstrip("/") != self.issuer:
                raise LoginRefused("userinfo: wrong issuer")
            audience = claims.get("aud", self.client_id)
            if self.client_id not in (audience if isinstance(audience, list) else [audience]):
                raise LoginRefused("userinfo: wrong audience")
        else:
            try:
                claims = response.json()
            except ValueError as e:
                raise LoginRefused("userinfo: neither a JWT nor JSON") from e
            if not isinstance(claims, dict):
                raise LoginRefused("userinfo: not a JSON object")
        if claims.get("sub") != subject:  # OpenID Connect Core 5.3.2: else the answer is about someone else
            raise LoginRefused("userinfo: sub differs from the id_token's")
        return dict(claims)

    async def logout_url(self, id_token_hint: str | None, post_logout_redirect_uri: str) -> str | None:
        """Where to send the browser to end the session at the provider too; None when the provider has no
        end-session endpoint or cannot be reached (the session at Tocsin is ended all the same)."""
        try:
            metadata = await self.metadata()
        except OidcError as e:
            log.warning("logout at the provider skipped: %s", e.reason)
            return None
        endpoint = metadata.get("end_session_endpoint")
        if not endpoint:
            return None
        params = [("post_logout_redirect_uri", post_logout_redirect_uri), ("client_id", self.client_id),
                  ("state", generate_token(24))]
        if id_token_hint:
            params.insert(0, ("id_token_hint", id_token_hint))
        return str(add_params_to_uri(endpoint, params))
