"""The dashboard's sessions after an OpenID Connect login: opened for a person the provider vouched for,
acting under one of their habilitations, checked on every request, ended by a logout or at expiry.

The session is not the authority: the directory is. A session names the person (their email) and the
habilitation they chose; every request asks the directory whether that habilitation is still in force
(`Habilitations.active`), so that a revocation takes effect at once, and the principal is derived from it
(`domain.directory.principal_for`), never from anything the browser or the provider sent.

The session row itself (adapters.store.sessions) is read again at most every `refresh` seconds per
process: a logout in this process takes effect here at once, in the other processes within `refresh`.

Synchronous (database I/O): the HTTP layer calls these in its thread pool, except `cached`, which never
does I/O.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from adapters.store import sessions as table
from adapters.store.event_store import TocsinStore
from domain.access import Denied, Principal, UnknownRole
from domain.directory import Grant, Habilitations, normalise_email, principal_for
from domain.geography import Hierarchy

SESSION_TTL = 10 * 3600  # a working day; then the person logs in again at the provider
LOGIN_TTL = 600  # the time a person has to log in at the provider


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class Session:
    """A session in force, as a request sees it."""

    id_hash: str
    email: str
    name: str | None
    grant_id: str | None
    id_token: str | None
    expires_at: float  # epoch seconds

    @property
    def key(self) -> str:
        """What forms are bound to (CSRF) and what the logs may name: never the cookie's secret."""
        return "session:" + self.id_hash


class WebSessions:
    def __init__(self, store: TocsinStore, geography: Hierarchy, habilitations: Habilitations | None, *,
                 ttl: int = SESSION_TTL, refresh: float = 2.0) -> None:
        self.store = store
        self.geography = geography
        self.habilitations = habilitations
        self.ttl = ttl
        self.refresh = refresh
        # id hash -> (read at, monotonic; the session, or None once ended here)
        self._seen: dict[str, tuple[float, Session | None]] = {}
        self._lock = threading.Lock()

    # ---- the directory ----------------------------------------------------------------------------------

    def grants(self, email: str) -> Sequence[Grant]:
        """The person's habilitations in force (none without a directory: nobody is let in)."""
        if self.habilitations is None:
            return ()
        return self.habilitations.active_for_email(normalise_email(email))

    def principal(self, session: Session) -> Principal | None:
        """The principal the session acts as now; None when no habilitation is chosen or it is no longer
        in force (revoked, expired, or not this person's)."""
        if session.grant_id is None or self.habilitations is None:
            return None
        grant = self.habilitations.active(session.grant_id)
        if grant is None or normalise_email(grant.email) != normalise_email(session.email):
            return None
        try:
            return principal_for(grant, self.geography, expires_at=session.expires_at)
        except (Denied, UnknownRole):
            return None

    # ---- the session's life --------------------------------------------------------------------------

    def open(self, email: str, name: str | None, id_token: str | None) -> tuple[str, Session]:
        """A new session (the cookie's secret, the session). It acts under the person's habilitation when
        they have exactly one; with several, they choose (`choose`); with none, it gives access to nothing."""
        grants = self.grants(email)
        secret = secrets.token_urlsafe(32)
        expires = time.time() + self.ttl
        session = Session(digest(secret), normalise_email(email), name, grants[0].id if len(grants) == 1 else None,
                          id_token, expires)
        table.open_session(self.store, session.id_hash, email=session.email, name=name, grant_id=session.grant_id,
                           id_token=id_token, expires_at=datetime.fromtimestamp(expires, UTC))
        self._remember(session, time.monotonic())
        return secret, session

    def cached(self, secret: str) -> Session | None:
        """The session as read less than `refresh` seconds ago, without I/O; None: `find` must read it."""
        seen = self._seen.get(digest(secret))
        if seen is None or seen[1] is None or time.monotonic() - seen[0] >= self.refresh:
            return None
        return seen[1] if seen[1].expires_at > time.time() else None

    def find(self, secret: str) -> Session | None:
        """The session in force for this cookie, or None (unknown, expired, ended)."""
        id_hash = digest(secret)
        read_at = time.monotonic()
        row = table.find_session(self.store, id_hash)
        if row is None:
            self._forget(id_hash)
            return None
        session = Session(row.id_hash, row.email, row.name, row.grant_id, row.id_token, row.expires_at.timestamp())
        self._remember(session, read_at)
        return session

    def choose(self, session: Session, grant_id: str) -> Session | None:
        """Act under this habilitation from now on, when it is one of the person's in force."""
        if grant_id not in {g.id for g in self.grants(session.email)}:
            return None
        if not table.choose_grant(self.store, session.id_hash, grant_id):
            return None
        chosen = Session(session.id_hash, session.email, session.name, grant_id, session.id_token, session.expires_at)
        self._remember(chosen, time.monotonic())
        return chosen

    def end(self, session: Session) -> None:
        """End the session for every server process (a logout)."""
        table.end_session(self.store, session.id_hash)
        self._forget(session.id_hash)

    def in_force(self, session: Session) -> str | None:
        """Why the session no longer holds (`expired`, `revoked`), or None; for streams that outlive a
        request. Reads the session row at most every `refresh` seconds, and asks the directory each time."""
        if time.time() >= session.expires_at:
            return "expired"
        seen = self._seen.get(session.id_hash)
        if seen is None or time.monotonic() - seen[0] >= self.refresh:
            read_at = time.monotonic()
            found = table.session_state(self.store, session.id_hash)
            if found is None or found[1] is not None:
                self._forget(session.id_hash)
                return "expired" if found is not None and found[1] == "expired" else "revoked"
            row = found[0]
            self._remember(Session(row.id_hash, row.email, row.name, row.grant_id, row.id_token,
                                   row.expires_at.timestamp()), read_at)
            if row.grant_id != session.grant_id:
                return "revoked"  # the person switched habilitation: this stream was for the other one
        elif seen[1] is None or seen[1].grant_id != session.grant_id:
            return "revoked"  # ended by this process, or switched to another habilitation
        if self.principal(session) is None:
            return "revoked"
        return None

    # ---- logins under way -----------------------------------------------------------------------------

    def start_login(self, request: table.LoginRequest) -> str:
        """Remember a login under way; the browser's secret for it (its cookie)."""
        secret = secrets.token_urlsafe(32)
        table.put_login(self.store, digest(secret), request,
                        datetime.fromtimestamp(time.time() + LOGIN_TTL, UTC))
        return secret

    def take_login(self, secret: str) -> table.LoginRequest | None:
        """The login this browser started, once: a second callback with the same cookie finds nothing."""
        return table.take_login(self.store, digest(secret))

    # ---- the process's copy -----------------------------------------------------------------------------

    def _remember(self, session: Session, read_at: float) -> None:
        """Keep the session as read at `read_at` (monotonic, taken before the read), unless a later read or
        write is already kept: a read that started before a change (a new habilitation chosen, a logout)
        and ended after it must not bring the old state back."""
        with self._lock:
            if len(self._seen) > 10_000:
                now = time.monotonic()
                self._seen = {k: v for k, v in self._seen.items() if now - v[0] < self.refresh}
            kept = self._seen.get(session.id_hash)
            if kept is None or kept[0] <= read_at:
                self._seen[session.id_hash] = (read_at, session)

    def _forget(self, id_hash: str) -> None:
        """The session is over: no read that started before now brings it back into this copy."""
        with self._lock:
            self._seen[id_hash] = (time.monotonic(), None)
