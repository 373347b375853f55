"""Tocsin's settings: read from the environment once per process, by `Settings.from_env`, then passed
down. No other module reads the environment for a Tocsin setting.

Every setting has an embedded default so that `make run` works on a laptop with nothing set:
the data folder holds the embedded PostgreSQL, the embedded NATS store and the encryption key.
"""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from adapters.secret_file import create_once

DEFAULT_DATA_DIR = Path("var")

# Set by `tocsin serve --workers N` in its server processes' environment only (api/cli/main.py): the
# projection worker then runs once, in the parent, and the servers only read the views.
PROJECTIONS_IN_APP = "TOCSIN_PROJECTIONS_IN_APP"
# Likewise for the alert policies and their delivery (`tocsin alerts run` when "0").
DISPATCH_IN_APP = "TOCSIN_DISPATCH_IN_APP"

# The identity provider's variables, interpreted by api.auth.AuthConfig (TOCSIN_JWKS_URL,
# TOCSIN_JWT_KEY_FILE, TOCSIN_JWT_ALGORITHMS, TOCSIN_JWT_ISSUER, TOCSIN_JWT_AUDIENCE,
# TOCSIN_JWT_ROLE_CLAIM, TOCSIN_JWT_TERRITORY_CLAIM, TOCSIN_DEMO_LOGIN, TOCSIN_INGEST_AUTH).
AUTH_PREFIXES = ("TOCSIN_JWT_", "TOCSIN_JWKS_URL", "TOCSIN_DEMO_LOGIN", "TOCSIN_INGEST_AUTH", "TOCSIN_OIDC_")


@dataclass(frozen=True)
class Settings:
    database_url: str | None = None  # None: start the embedded PostgreSQL
    nats_url: str | None = None  # None: start the embedded NATS server
    data_dir: Path = DEFAULT_DATA_DIR
    schema: str = "public"
    cipher_key: str | None = None  # base64 AES-256 key; None: the key file in the data folder
    max_message_bytes: int = 1_048_576
    nats_subject: str = "nexsis.>"
    nats_stream: str = "NEXSIS"
    map_tiles: str | None = None  # XYZ tile URL template for the dashboard map; None: offline map only
    map_attribution: str = ""
    public_url: str | None = None  # the address users reach (https://… behind a TLS proxy: HSTS is sent)
    feed_quiet_after: float = 900.0  # seconds without a NexSIS message before the dashboard warns
    cache_dir: Path = field(default_factory=lambda: default_cache_dir({}))  # the reference polygons' binary cache
    audit_seal_key: str | None = None  # the audit chain's sealing key (base64 seed or PEM); None: its key file
    projections_in_app: bool = True  # the HTTP app also keeps the views up to date (a thread)
    dispatch_in_app: bool = True  # the HTTP app also runs the alert policies and their delivery (a thread)
    # smtp://[user:pass@]host:port (STARTTLS when offered) or smtps://… (implicit TLS); None: no email.
    smtp_url: str | None = None
    smtp_from: str = "Tocsin <tocsin@localhost>"
    smtp_ca_file: Path | None = None  # a private CA for the SMTP server's certificate (else the system's)
    alert_token_key: str | None = None  # signs acknowledgement links (base64); None: its key file
    vapid_subject: str | None = None  # Web Push contact (mailto:… or https://…); None: no push channel
    vapid_private_key: str | None = None  # PEM text or file path; None: its key file in the data folder
    sms_url: str | None = None  # the SMS gateway (adapters.notify.gateway); None: no SMS channel
    voice_url: str | None = None  # the voice call gateway; None: no voice channel
    # Where alerts to the population are published as CAP 1.2 (adapters.cap.gateway); None: not published.
    cap_gateway_url: str | None = None
    cap_sender: str = "tocsin@localhost"  # CAP <sender>: globally unique, no spaces, commas, '<' or '&'
    auth_env: Mapping[str, str] = field(default_factory=dict, repr=False)  # AUTH_PREFIXES' variables, for api.auth
    # The dashboard's OpenID Connect login (adapters/identity/oidc.py): the provider's issuer URL and
    # Tocsin's registration there. None: no OpenID Connect login.
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = field(default=None, repr=False)
    log_format: str = "human"  # "json": one JSON object per line (adapters/logs.py)
    log_level: str = "WARNING"  # of Tocsin's own loggers (the HTTP server logs its start and requests at INFO)
    metrics_token: str | None = None  # bearer token /metrics asks for; None: /metrics is open (no personal data)
    metrics_port: int | None = None  # the ingester's and the worker's own /metrics port; None: not served
    metrics_address: str = "127.0.0.1"  # where that port listens
    ready_view_lag: float = 300.0  # seconds a view may lag behind the store before /readyz says not ready
    extra: dict = field(default_factory=dict)
    # ---- high availability (deploy/README.md, "Past one machine") ----
    # The views' readers (dashboard, API): a standby, e.g. a multi-host URL with
    # target_session_attrs=prefer-standby; None: they read where the writers write (database_url).
    read_database_url: str | None = None
    nats_replicas: int = 1  # copies of the JetStream stream Tocsin creates (3 on a three-server cluster)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        return cls(
            database_url=env.get("TOCSIN_DATABASE_URL") or None,
            nats_url=env.get("TOCSIN_NATS_URL") or None,
            data_dir=Path(env.get("TOCSIN_DATA_DIR") or DEFAULT_DATA_DIR),
            schema=env.get("TOCSIN_DB_SCHEMA") or "public",
            cipher_key=env.get("TOCSIN_CIPHER_KEY") or None,
            max_message_bytes=int(env.get("TOCSIN_MAX_MESSAGE_BYTES") or 1_048_576),
            nats_subject=env.get("TOCSIN_NATS_SUBJECT") or "nexsis.>",
            nats_stream=env.get("TOCSIN_NATS_STREAM") or "NEXSIS",
            map_tiles=env.get("TOCSIN_MAP_TILES") or None,
            map_attribution=env.get("TOCSIN_MAP_ATTRIBUTION") or "",
            public_url=env.get("TOCSIN_PUBLIC_URL") or None,
            feed_quiet_after=float(env.get("TOCSIN_FEED_QUIET_AFTER") or 900),
            cache_dir=default_cache_dir(env),
            audit_seal_key=(env.get("TOCSIN_AUDIT_SEAL_KEY") or "").strip() or None,
            projections_in_app=(env.get(PROJECTIONS_IN_APP) or "1") != "0",
            dispatch_in_app=(env.get(DISPATCH_IN_APP) or "1") != "0",
            smtp_url=env.get("TOCSIN_SMTP_URL") or None,
            smtp_from=env.get("TOCSIN_SMTP_FROM") or "Tocsin <tocsin@localhost>",
            smtp_ca_file=Path(env["TOCSIN_SMTP_CA_FILE"]) if env.get("TOCSIN_SMTP_CA_FILE") else None,
            alert_token_key=env.get("TOCSIN_ALERT_TOKEN_KEY") or None,
            vapid_subject=env.get("TOCSIN_VAPID_SUBJECT") or None,
            vapid_private_key=env.get("TOCSIN_VAPID_PRIVATE_KEY") or None,
            sms_url=env.get("TOCSIN_SMS_URL") or None,
            voice_url=env.get("TOCSIN_VOICE_URL") or None,
            cap_gateway_url=(env.get("TOCSIN_CAP_GATEWAY_URL") or "").strip() or None,
            cap_sender=(env.get("TOCSIN_CAP_SENDER") or "").strip() or "tocsin@localhost",
            auth_env={k: v for k, v in env.items() if k.startswith(AUTH_PREFIXES)},
            oidc_issuer=(env.get("TOCSIN_OIDC_ISSUER") or "").strip() or None,
            oidc_client_id=(env.get("TOCSIN_OIDC_CLIENT_ID") or "").strip() or None,
            oidc_client_secret=(env.get("TOCSIN_OIDC_CLIENT_SECRET") or "").strip() or None,
            log_format="json" if (env.get("TOCSIN_LOG_FORMAT") or "").strip().lower() == "json" else "human",
            log_level=(env.get("TOCSIN_LOG_LEVEL") or "WARNING").strip().upper(),
            metrics_token=(env.get("TOCSIN_METRICS_TOKEN") or "").strip() or None,
            metrics_port=int(env["TOCSIN_METRICS_PORT"]) if env.get("TOCSIN_METRICS_PORT") else None,
            metrics_address=env.get("TOCSIN_METRICS_ADDRESS") or "127.0.0.1",
            ready_view_lag=float(env.get("TOCSIN_READY_VIEW_LAG") or 300),
            read_database_url=env.get("TOCSIN_READ_DATABASE_URL") or None,
            nats_replicas=int(env.get("TOCSIN_NATS_REPLICAS") or 1),
        )

    def resolved_cipher_key(self) -> str:
        """The key that encrypts payloads at rest. Losing it loses the history: back it up apart
        from the database (see deploy/README.md)."""
        if self.cipher_key:
            return self.cipher_key
        key_file = self.data_dir / "secrets" / "cipher.key"
        if not key_file.exists():
            create_once(key_file, base64.b64encode(secrets.token_bytes(32)))
        return key_file.read_text().strip()


def resolved_alert_token_key(settings: Settings) -> bytes:
    """The key that signs acknowledgement links: a link stays valid as long as this key does."""
    if settings.alert_token_key:
        return base64.b64decode(settings.alert_token_key)
    key_file = settings.data_dir / "secrets" / "alert-token.key"
    if not key_file.exists():
        create_once(key_file, base64.b64encode(secrets.token_bytes(32)))
    return base64.b64decode(key_file.read_text().strip())


def default_cache_dir(env: Mapping[str, str]) -> Path:
    """$TOCSIN_CACHE_DIR, else $XDG_CACHE_HOME/tocsin, else ~/.cache/tocsin."""
    configured = env.get("TOCSIN_CACHE_DIR")
    if configured:
        return Path(configured)
    return Path(env.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "tocsin"
