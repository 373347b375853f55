"""Email over SMTP, configured by one URL (TOCSIN_SMTP_URL).

`smtp://[user:pass@]host:port`: plain SMTP, upgraded with STARTTLS whenever the server offers it;
`smtps://…`: TLS from the first byte. Credentials are never sent in clear over the network: without TLS
a login is only attempted to a loopback server. A refusal is classified as SMTP says: a 4xx reply (or a
network failure) is worth another attempt later, a 5xx is final.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from ipaddress import ip_address
from pathlib import Path
from urllib.parse import unquote, urlsplit


class DeliveryError(Exception):
    """A message the channel did not accept; `reason` is French (recorded on the alert), `final` says
    whether trying again could help."""

    def __init__(self, reason: str, *, final: bool) -> None:
        super().__init__(reason)
        self.reason, self.final = reason, final


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    implicit_tls: bool
    user: str | None = None
    password: str | None = None
    ca_file: Path | None = None
    timeout: float = 10.0

    @classmethod
    def from_url(cls, url: str, ca_file: Path | None = None) -> SmtpConfig:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("TOCSIN_SMTP_URL : attendu smtp://[utilisateur:mot-de-passe@]hôte:port ou smtps://…")
        implicit = parts.scheme == "smtps"
        return cls(parts.hostname, parts.port or (465 if implicit else 25), implicit,
                   unquote(parts.username) if parts.username else None,
                   unquote(parts.password) if parts.password else None, ca_file)

    def describe(self) -> str:
        """For logs: never the password."""
        return f"{'smtps' if self.implicit_tls else 'smtp'}://{self.host}:{self.port}"


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


class SmtpSender:
    def __init__(self, config: SmtpConfig) -> None:
        self.config = config

    def _context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.config.ca_file) if self.config.ca_file else None)

    def send(self, message: EmailMessage) -> None:
        c = self.config
        try:
            smtp: smtplib.SMTP
            if c.implicit_tls:
                smtp = smtplib.SMTP_SSL(c.host, c.port, timeout=c.timeout, context=self._context())
            else:
                smtp = smtplib.SMTP(c.host, c.port, timeout=c.timeout)
            with smtp:
                smtp.ehlo()
                secure = c.implicit_tls
                if not secure and smtp.has_extn("starttls"):
                    smtp.starttls(context=self._context())
                    smtp.ehlo()
                    secure = True
                if c.user:
                    if not secure and not _loopback(c.host):
                        raise DeliveryError("le serveur SMTP ne propose pas de chiffrement (STARTTLS) : identifiants "
                                            "non envoyés en clair", final=True)
                    smtp.login(c.user, c.password or "")
                smtp.send_message(message)
        except DeliveryError:
            raise
        except smtplib.SMTPRecipientsRefused as e:
            code, text = next(iter(e.recipients.values()))
            raise DeliveryError(f"destinataire refusé par le serveur SMTP ({code} {_text(text)})",
                                final=500 <= code < 600) from e
        except smtplib.SMTPResponseException as e:
            raise DeliveryError(f"refus du serveur SMTP ({e.smtp_code} {_text(e.smtp_error)})",
                                final=500 <= e.smtp_code < 600) from e
        except ssl.SSLError as e:
            raise DeliveryError(f"échec TLS avec le serveur SMTP ({e.reason or e.__class__.__name__})",
                                final=False) from e
        except (OSError, smtplib.SMTPException) as e:
            raise DeliveryError(f"serveur SMTP injoignable ou connexion interrompue ({e.__class__.__name__})",
                                final=False) from e


def _text(value: bytes | str) -> str:
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    return text.strip()[:200]
