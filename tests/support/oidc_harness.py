"""A real OpenID Connect provider for the login tests (tests/support/oidc_provider/server.mjs, the npm package
oidc-provider configured like ProConnect) on 127.0.0.1, and a Tocsin server registered at it.

`oidc_stack` (a fixture) gives a running Tocsin with its provider, its directory stand-in, and helpers
that log in the way a browser does: follow the redirect to the provider, fill its login form, come back.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from html import unescape
from typing import Any
from urllib.parse import urljoin

import httpx
import pytest

from adapters.embedded import free_port
from adapters.settings import Settings
from api.auth import AuthConfig
from tests.support.api import LiveServer
from tests.support.directory_stand_in import StandInDirectory
from tests.support.paths import ROOT

SERVER = ROOT / "tests" / "support" / "oidc_provider" / "server.mjs"
CLIENT_ID = "tocsin-test"
CLIENT_SECRET = "un-secret-de-test-assez-long-pour-le-fournisseur"
MARIE = {"email": "Marie.Dupont@rennes.fr", "given_name": "Marie", "usual_name": "Dupont", "uid": "4242",
         "siret": "21350238800019", "idp_id": "fia1v2"}
PAUL = {"email": "paul.martin@interieur.gouv.fr", "given_name": "Paul", "usual_name": "Martin", "uid": "77",
        "siret": "17350001800013", "idp_id": "fia1v2"}
NOBODY = {"email": "inconnu@exemple.fr", "given_name": "Inès", "usual_name": "Connue", "uid": "1",
          "siret": "00000000000000", "idp_id": "fia1v2"}
ACCOUNTS = {"marie": MARIE, "paul": PAUL, "nobody": NOBODY}

FORM = re.compile(r'<form[^>]*action="([^"]+)"[^>]*>(.*?)</form>', re.S)
INPUT = re.compile(r"<input\b([^>]*)>")
ATTRIBUTE = re.compile(r'([a-z-]+)="([^"]*)"')


@dataclass
class Provider:
    issuer: str
    process: subprocess.Popen

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def start_provider(tocsin_base: str, accounts: dict[str, dict[str, str]] | None = None) -> Provider:
    """The provider, Tocsin registered at it with redirect and post-logout URIs under `tocsin_base`;
    returns once its discovery document answers."""
    node = shutil.which("node")
    assert node, "Node.js is needed for the OpenID provider of the tests"
    port = free_port()
    client = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
              "redirect_uris": [tocsin_base + "/connexion/retour"],
              "post_logout_redirect_uris": [tocsin_base + "/deconnexion/fin"]}
    env = {**os.environ, "OIDC_PORT": str(port), "OIDC_CLIENTS": json.dumps([client]),
           "OIDC_ACCOUNTS": json.dumps(accounts or ACCOUNTS)}
    process = subprocess.Popen([node, str(SERVER)], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
    issuer = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            if httpx.get(issuer + "/.well-known/openid-configuration", timeout=1).status_code == 200:
                return Provider(issuer, process)
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"the OpenID provider did not start (exit {process.poll()})")
        time.sleep(0.1)


def oidc_settings(settings: Settings, issuer: str, **changes: Any) -> Settings:
    return dataclasses.replace(settings, oidc_issuer=issuer, oidc_client_id=CLIENT_ID,
                               oidc_client_secret=CLIENT_SECRET, **changes)


def forms(page: str) -> list[tuple[str, dict[str, str]]]:
    """The page's forms: (action, hidden and prefilled fields)."""
    found = []
    for action, body in FORM.findall(page):
        fields = {}
        for attributes in INPUT.findall(body):
            named = dict(ATTRIBUTE.findall(attributes))
            if "name" in named:
                fields[unescape(named["name"])] = unescape(named.get("value", ""))
        found.append((unescape(action), fields))
    return found


def _follow(client: httpx.Client, answer: httpx.Response) -> httpx.Response:
    """Redirects followed until a page, or until the provider's redirect to Tocsin's callback."""
    while answer.status_code in (302, 303) and "/connexion/retour" not in answer.headers["location"]:
        answer = client.get(urljoin(str(answer.url), answer.headers["location"]))
    return answer


def provider_login(client: httpx.Client, response: httpx.Response, login: str) -> httpx.Response:
    """Follow Tocsin's redirect to the provider, fill its login form as a person would (unless the
    provider remembers them), and follow the redirects back until the provider's redirect to Tocsin's
    callback (returned, not followed)."""
    assert response.status_code in (302, 303), response.text
    page = _follow(client, client.get(response.headers["location"]))
    if page.status_code in (302, 303):  # already logged in at the provider
        return page
    [(action, fields)] = [f for f in forms(page.text) if "login" in f[1] or "prompt" in f[1]]
    fields.update(login=login, password="peu-importe")
    answer = _follow(client, client.post(urljoin(str(page.url), action), data=fields))
    assert answer.status_code in (302, 303), answer.text
    return answer


@dataclass
class OidcStack:
    """Tocsin (a live server) with its provider and directory."""

    server: LiveServer
    provider: Provider
    directory: StandInDirectory
    services: Any
    clients: list[httpx.Client] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.server.url

    def client(self) -> httpx.Client:
        """A browser-like client: its own cookies, redirects followed by hand."""
        made = httpx.Client(base_url=self.url, timeout=15)
        self.clients.append(made)
        return made

    def start_login(self, client: httpx.Client) -> httpx.Response:
        """GET /connexion: Tocsin's redirect to the provider."""
        return client.get("/connexion")

    def callback(self, client: httpx.Client, login: str) -> httpx.Response:
        """Through the provider's form; the provider's redirect to Tocsin's callback (not yet followed)."""
        return provider_login(client, self.start_login(client), login)

    def login(self, client: httpx.Client, login: str) -> httpx.Response:
        """A whole login: Tocsin's answer to the callback."""
        back = self.callback(client, login)
        return client.get(back.headers["location"])


@pytest.fixture
def oidc_stack(settings: Settings) -> Iterator[OidcStack]:
    from adapters.services import open_services
    from tests.support.api import wait_for_views

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    provider = start_provider(base)
    services = open_services(oidc_settings(settings, provider.issuer))
    directory = StandInDirectory()
    server = LiveServer(services, AuthConfig.from_env(services.settings), port=port)
    server.app.state.habilitations = directory
    stack = OidcStack(server, provider, directory, services)
    try:
        with server:
            wait_for_views(server.app.state.read_model, services)
            yield stack
    finally:
        for client in stack.clients:
            client.close()
        provider.stop()
        services.close()
