"""Secure by default (issue #17): no demonstration unless asked for, no cross-site forms, a logout that
ends the token everywhere, a live stream that ends with its token, login attempts rate-limited."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time

import httpx
import pytest
from fastapi.testclient import TestClient

from adapters.embedded import free_port
from api.app import create_app
from api.auth import COOKIE_NAME, AuthConfig
from tests.support.api import RENNES, LiveServer, bearer, client_for, report_in
from tests.support.nats_harness import ROOT, environment, tocsin_command

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
BANNER = "Mode démonstration : connexion sans contrôle d'identité, ne pas utiliser en production"


def csrf_of(page: str) -> str:
    found = CSRF.search(page)
    assert found, page
    return found.group(1)


def demo_login(client: TestClient | httpx.Client, role: str = "mayor", territory: str = "commune:35238",
               **headers: str) -> httpx.Response:
    """The demonstration form, as a browser fills it in on this server's own login page."""
    csrf = csrf_of(client.get("/connexion").text)
    return client.post("/connexion/demo", data={"role": role, "territory": territory, "csrf": csrf},
                       headers=headers, follow_redirects=False)


# ---- 1. no demonstration unless asked for -------------------------------------------------------------

def test_a_server_without_identity_provider_has_no_demo_login_and_no_anonymous_posting(services):
    config = AuthConfig.from_env(services.settings)  # what `tocsin serve` reads: nothing configured
    raw = report_in(services.geography, RENNES, "fr.fire.secure.rennes-1", seed=1)
    with client_for(services, config) as (client, _):
        page = client.get("/connexion")
        assert page.status_code == 200 and "Connexion non configurée" in page.text and "TOCSIN_JWKS_URL" in page.text
        assert 'action="/connexion/demo"' not in page.text and 'name="token"' not in page.text
        assert "Mode démonstration" not in page.text
        assert client.post("/connexion/demo", data={"role": "national", "territory": "FR"}).status_code == 404
        assert client.get("/connexion/territoires", params={"q": "Rennes"}).status_code == 404
        assert client.post("/connexion", data={"token": config.mint("national", "FR")}).status_code == 404
        assert COOKIE_NAME not in client.cookies
        # Every request without a valid token: 401; posting a message needs a `nexsis` token.
        json_body = {"content-type": "application/json"}
        assert client.post("/api/v1/messages", content=raw, headers=json_body).status_code == 401
        for path in ("/api/v1/cases", "/api/v1/views/national/FR", "/api/v1/me", "/api/v1/stream"):
            assert client.get(path).status_code == 401, path
        # The operator's own tokens (`tocsin token`, the local key) still work, for what their role allows.
        posted = client.post("/api/v1/messages", content=raw,
                             headers={"content-type": "application/json", **bearer(config, "nexsis", "national:FR")})
        assert posted.status_code == 200 and posted.headers["x-tocsin-outcome"] == "accepted"
        assert client.get("/api/v1/me", headers=bearer(config, "mayor", "commune:35238")).status_code == 200


def test_demonstration_mode_says_so_on_every_page(services):
    with client_for(services, AuthConfig.from_env(services.settings, demo=True)) as (client, _):
        assert BANNER in client.get("/connexion").text
        assert demo_login(client).status_code == 303
        dashboard = client.get("/")
        assert dashboard.status_code == 200 and BANNER in dashboard.text


@pytest.mark.parametrize("command", [["serve", "--demo"], ["run"]])
def test_demonstration_mode_refuses_to_start_beside_an_identity_provider(command, settings, tmp_path):
    """Refused before anything starts (a process of its own: a server that did start is stopped)."""
    env = {**environment(settings), "TOCSIN_JWKS_URL": "https://idp.example.gouv.fr/jwks"}
    process = subprocess.Popen(tocsin_command(*command, "--port", str(free_port())), cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        output, _ = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGTERM)
        process.communicate(timeout=30)
        pytest.fail(f"`tocsin {' '.join(command)}` started beside an identity provider")
    text = output.decode()
    assert process.returncode == 2, text
    assert "mode démonstration refusé" in text and "TOCSIN_JWKS_URL" in text


# ---- 2. cross-site request forgery --------------------------------------------------------------------

def test_posting_accepts_only_the_declared_content_types(services):
    """Even where posting is open (demonstration), a cross-site form's text/plain is refused, unread."""
    raw = report_in(services.geography, RENNES, "fr.fire.secure.rennes-2", seed=2)
    with client_for(services, AuthConfig.from_env(services.settings, demo=True)) as (client, config):
        nexsis = bearer(config, "nexsis", "national:FR")
        for content_type in ("text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded",
                             "multipart/form-data; boundary=x", ""):
            for headers in ({}, nexsis):
                response = client.post("/api/v1/messages", content=raw,
                                       headers={"content-type": content_type, **headers})
                assert response.status_code == 415, (content_type, response.text)
        assert client.get("/api/v1/quarantine", headers=bearer(config, "auditor", "national:FR")).json() == []
        accepted = client.post("/api/v1/messages", content=raw,
                               headers={"content-type": "application/json; charset=utf-8"})
        assert accepted.status_code == 200


def test_login_forms_cannot_be_sent_from_another_site(services):
    with client_for(services) as (client, _):
        # No CSRF token (a form on another site cannot read this server's page).
        forged = client.post("/connexion/demo", data={"role": "national", "territory": "FR"}, follow_redirects=False)
        assert forged.status_code == 403 and COOKIE_NAME not in client.cookies
        # A token from another visitor's page does not go with this browser's nonce.
        # Another browser on the same server (no second lifespan: one app runs one, as in production).
        other = TestClient(client.app)
        stolen = csrf_of(other.get("/connexion").text)
        client.get("/connexion")
        crossed = client.post("/connexion/demo", data={"role": "national", "territory": "FR", "csrf": stolen},
                              follow_redirects=False)
        assert crossed.status_code == 403
        # The browser says where the form came from.
        assert demo_login(client, origin="https://evil.example").status_code == 403
        assert demo_login(client, **{"sec-fetch-site": "cross-site"}).status_code == 403
        assert demo_login(client, **{"sec-fetch-site": "same-site"}).status_code == 403
        assert COOKIE_NAME not in client.cookies
        signed_in = demo_login(client, origin="http://testserver", **{"sec-fetch-site": "same-origin"})
        assert signed_in.status_code == 303 and COOKIE_NAME in client.cookies


def test_logout_needs_its_csrf_token_and_revokes_the_token_everywhere(services):
    with client_for(services) as (client, config):
        assert demo_login(client, "national", "national:FR").status_code == 303
        token = client.cookies[COOKIE_NAME]
        copied = {"Authorization": f"Bearer {token}"}
        dashboard = client.get("/").text
        assert client.get("/deconnexion", follow_redirects=False).status_code == 405  # a link cannot log out
        assert client.post("/deconnexion", data={}, follow_redirects=False).status_code == 403
        assert client.post("/deconnexion", data={"csrf": csrf_of(dashboard)}, follow_redirects=False,
                           headers={"origin": "https://evil.example"}).status_code == 403
        assert client.get("/api/v1/me", headers=copied).status_code == 200  # still signed in

        # Another server process (its own app and revocation list, the same database).
        with TestClient(create_app(services, config)) as elsewhere:
            assert elsewhere.get("/api/v1/me", headers=copied).status_code == 200
            out = client.post("/deconnexion", data={"csrf": csrf_of(dashboard)}, follow_redirects=False)
            assert out.status_code == 303 and out.headers["location"] == "/connexion"
            assert COOKIE_NAME not in client.cookies
            # The copied token is dead here at once, and elsewhere within a few seconds.
            refused = client.get("/api/v1/me", headers=copied)
            assert refused.status_code == 401 and "révoqué" in refused.json()["detail"]
            deadline = time.monotonic() + 5
            while elsewhere.get("/api/v1/me", headers=copied).status_code != 401:
                assert time.monotonic() < deadline, "the other process still accepts the revoked token"
                time.sleep(0.2)
            client.cookies.set(COOKIE_NAME, token)  # the copied cookie
            assert client.get("/", follow_redirects=False).status_code == 401
            assert elsewhere.get("/api/v1/cases", headers=copied).status_code == 401


# ---- 8. a live stream ends with its token ---------------------------------------------------------------

def _read_stream(url: str, headers: dict[str, str], cookies: dict[str, str] | None, events: list[str],
                 opened: threading.Event) -> None:
    with httpx.Client(timeout=30, cookies=cookies) as http, http.stream("GET", url + "/api/v1/stream",
                                                                        headers=headers) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            if line.startswith("event: "):
                events.append(line.removeprefix("event: "))
                opened.set()


def test_the_live_stream_closes_when_its_token_expires(services):
    with LiveServer(services) as server:
        config = server.config
        token = config.mint("mayor", "commune:35238", ttl=3)
        events: list[str] = []
        opened = threading.Event()
        reader = threading.Thread(target=_read_stream, daemon=True,
                                  args=(server.url, {"Authorization": f"Bearer {token}"}, None, events, opened))
        started = time.monotonic()
        reader.start()
        assert opened.wait(10)
        reader.join(15)
        assert not reader.is_alive(), "the stream outlived its token"
        assert events[0] == "hello" and events[-1] == "session-end"
        assert time.monotonic() - started < 3 + 4


def test_the_live_stream_closes_when_its_session_is_revoked(services):
    with LiveServer(services) as server, httpx.Client(base_url=server.url) as browser:
        assert demo_login(browser).status_code == 303
        cookie = browser.cookies[COOKIE_NAME]
        events: list[str] = []
        opened = threading.Event()
        reader = threading.Thread(target=_read_stream, daemon=True,
                                  args=(server.url, {}, {COOKIE_NAME: cookie}, events, opened))
        reader.start()
        assert opened.wait(10)
        time.sleep(1.5)
        assert reader.is_alive()
        logged_out = time.monotonic()
        csrf = csrf_of(browser.get("/").text)
        assert browser.post("/deconnexion", data={"csrf": csrf}, follow_redirects=False).status_code == 303
        reader.join(10)
        assert not reader.is_alive(), "the stream outlived the logout"
        assert events[-1] == "session-end" and time.monotonic() - logged_out < 5


# ---- 9. login attempts are rate-limited -----------------------------------------------------------------

def test_login_attempts_are_rate_limited_per_client_address(services):
    with client_for(services) as (client, _):
        answers = [client.post("/connexion/demo", data={"role": "mayor", "territory": "35238"},
                               follow_redirects=False) for _ in range(15)]
        assert {r.status_code for r in answers[:10]} == {403}  # no CSRF token: refused, but counted
        limited = answers[-1]
        assert limited.status_code == 429 and 1 <= int(limited.headers["retry-after"]) <= 60
        assert client.post("/connexion", data={"token": "x"}).status_code == 429  # the same door
        assert client.get("/connexion").status_code == 200  # reading the page is not an attempt
