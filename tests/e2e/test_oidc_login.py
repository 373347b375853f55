"""The dashboard's OpenID Connect login against a real provider (npm oidc-provider, configured like
ProConnect: PKCE required, signed userinfo, its claims), end to end over HTTP: the request sent to the
provider, a whole login, the forged and replayed answers refused, sessions that end everywhere (live
streams included) when they expire, are ended or lose their habilitation, the choice between several
habilitations, the page for someone with none, and the logout at the provider."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import html
import json
import threading
import time
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import httpx
import pytest

from adapters.identity.oidc import LoginRefused, OidcClient, OidcConfigError, check_issuer, config_error
from adapters.identity.sessions import digest
from adapters.store import sessions as session_table
from api.web_session import SESSION_COOKIE
from domain.directory import OrganisationKind
from domain.geography import Level
from tests.support.api import RENNES
from tests.support.oidc_harness import CLIENT_ID, CLIENT_SECRET, MARIE, OidcStack, forms

CSRF_FIELD = "csrf"


def grant_marie(stack: OidcStack, grant_id: str = "hab-marie-maire", **extra) -> None:
    stack.directory.grant(grant_id, MARIE["email"], "mayor", Level.COMMUNE, RENNES, organisation="Mairie de Rennes",
                          person="Marie Dupont", **extra)


def shown(response: httpx.Response) -> str:
    """The page's text as a person reads it (entities such as &#x27; decoded)."""
    return html.unescape(response.text)


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    params = {**query(url), **changes}
    return urlunsplit(parts._replace(query=urlencode(params)))


# ---- the request ----------------------------------------------------------------------------------------

def test_connexion_sends_the_browser_to_the_provider_with_every_parameter(oidc_stack):
    client = oidc_stack.client()
    response = oidc_stack.start_login(client)
    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith(oidc_stack.provider.issuer + "/auth?")
    params = query(location)
    assert params["client_id"] == CLIENT_ID
    assert params["response_type"] == "code"
    assert params["redirect_uri"] == oidc_stack.url + "/connexion/retour"
    assert params["code_challenge_method"] == "S256"
    assert len(params["state"]) >= 32 and len(params["nonce"]) >= 32 and params["state"] != params["nonce"]
    assert len(base64.urlsafe_b64decode(params["code_challenge"] + "=")) == 32  # a SHA-256, never the verifier
    assert set(params["scope"].split()) >= {"openid", "email", "given_name", "usual_name", "uid", "siret", "idp_id"}
    # The browser keeps only a random binding (HttpOnly, Lax: it must survive the provider's redirect back).
    cookie = response.headers["set-cookie"]
    assert "tocsin_oidc_login=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert params["state"] not in cookie and params["nonce"] not in cookie
    # Two logins, two different requests.
    again = query(oidc_stack.start_login(oidc_stack.client()).headers["location"])
    assert again["state"] != params["state"] and again["code_challenge"] != params["code_challenge"]


def test_the_redirect_uri_never_comes_from_the_host_header(oidc_stack):
    client = oidc_stack.client()
    forged = client.get("/connexion", headers={"host": "evil.example"})
    assert query(forged.headers["location"])["redirect_uri"] == oidc_stack.url + "/connexion/retour"


# ---- a whole login --------------------------------------------------------------------------------------

def test_a_person_logs_in_through_the_provider_and_acts_under_their_habilitation(oidc_stack):
    grant_marie(oidc_stack)
    client = oidc_stack.client()
    answer = oidc_stack.login(client, "marie")
    assert answer.status_code == 303 and answer.headers["location"] == "/"
    cookie = answer.headers["set-cookie"]
    assert f"{SESSION_COOKIE}=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Secure" not in cookie  # plain http on loopback; see the public-URL test for https
    secret = client.cookies[SESSION_COOKIE]
    # Only the hash is stored; the row names the person by email, the habilitation, the logout hint.
    row = session_table.find_session(oidc_stack.services.store, digest(secret))
    assert row is not None and row.email == MARIE["email"].lower() and row.grant_id == "hab-marie-maire"
    assert row.id_token and row.id_token.count(".") == 2
    assert session_table.find_session(oidc_stack.services.store, secret) is None

    me = client.get("/api/v1/me").json()
    assert me["role"] == "mayor" and me["territory"] == f"commune:{RENNES}" and me["name"] == "Marie Dupont"
    assert me["grant_id"] == "hab-marie-maire" and me["organisation_id"] == f"org:mairie:{RENNES}"
    assert client.get("/api/v1/views/commune/35238").status_code == 200
    assert client.get("/api/v1/views/commune/29019").status_code == 403  # Brest: outside her commune
    page = client.get("/")
    assert page.status_code == 200 and "Marie Dupont" in shown(page) and "Rennes" in shown(page)
    assert 'id="switch-grant"' not in page.text  # one habilitation: nothing to switch to
    # The cookie authenticates reads only: a write needs more than the cookie.
    assert client.post("/api/v1/messages", content=b"{}", headers={"content-type": "application/json"}
                       ).status_code == 401


def test_a_new_login_in_the_same_browser_ends_the_session_it_had(oidc_stack):
    grant_marie(oidc_stack)
    client = oidc_stack.client()
    oidc_stack.login(client, "marie")
    first = client.cookies[SESSION_COOKIE]
    oidc_stack.login(client, "marie")
    second = client.cookies[SESSION_COOKIE]
    assert second != first
    assert session_table.find_session(oidc_stack.services.store, digest(first)) is None
    assert httpx.get(oidc_stack.url + "/api/v1/me", cookies={SESSION_COOKIE: first}).status_code == 401
    assert client.get("/api/v1/me").status_code == 200


def test_the_session_cookie_is_secure_behind_an_https_public_url(oidc_stack):
    """TOCSIN_PUBLIC_URL in https (a TLS proxy in front): the redirect URI is built on it, cookies are Secure."""
    import dataclasses

    services = oidc_stack.services
    services.settings = dataclasses.replace(services.settings, public_url="https://tocsin.example.gouv.fr/")
    response = oidc_stack.start_login(oidc_stack.client())
    assert query(response.headers["location"])["redirect_uri"] == "https://tocsin.example.gouv.fr/connexion/retour"
    assert "Secure" in response.headers["set-cookie"]


# ---- forged and replayed answers ---------------------------------------------------------------------

def test_a_callback_with_another_state_is_refused(oidc_stack):
    grant_marie(oidc_stack)
    client = oidc_stack.client()
    back = oidc_stack.callback(client, "marie")
    forged = client.get(with_query(back.headers["location"], state="etat-forge"))
    assert forged.status_code == 400 and "ne correspond pas à votre demande" in shown(forged)
    assert SESSION_COOKIE not in client.cookies
    # The login under way was spent by that attempt: the genuine answer, now, is refused too.
    late = client.get(back.headers["location"])
    assert late.status_code == 400 and "déjà utilisée" in shown(late)


def test_a_callback_reaching_another_browser_is_refused(oidc_stack):
    """Login CSRF: an attacker's own code and state, sent to a victim's browser, open no session there."""
    grant_marie(oidc_stack)
    attacker = oidc_stack.client()
    back = oidc_stack.callback(attacker, "marie")
    victim = oidc_stack.client()
    answer = victim.get(back.headers["location"])
    assert answer.status_code == 400 and "inconnue, expirée ou déjà utilisée" in shown(answer)
    assert SESSION_COOKIE not in victim.cookies


def test_a_replayed_callback_is_refused(oidc_stack):
    grant_marie(oidc_stack)
    client = oidc_stack.client()
    back = oidc_stack.callback(client, "marie")
    binding = client.cookies["tocsin_oidc_login"]
    assert client.get(back.headers["location"]).status_code == 303
    client.cookies.set("tocsin_oidc_login", binding, path="/connexion")  # the same answer, sent again as it was
    again = client.get(back.headers["location"])
    assert again.status_code == 400 and "déjà utilisée" in shown(again)


def test_a_code_used_twice_is_refused_by_the_provider_and_then_by_tocsin(oidc_stack):
    """A fresh login under way (good state, good binding) with a code already exchanged: the provider
    refuses it (invalid_grant), and so does Tocsin."""
    grant_marie(oidc_stack)
    client = oidc_stack.client()
    first = oidc_stack.callback(client, "marie")
    old_code = query(first.headers["location"])["code"]
    assert client.get(first.headers["location"]).status_code == 303
    fresh = oidc_stack.client()
    state = query(oidc_stack.start_login(fresh).headers["location"])["state"]
    replay = fresh.get("/connexion/retour", params={"code": old_code, "state": state})
    assert replay.status_code == 400 and "n'a pas pu être vérifiée" in shown(replay)
    assert SESSION_COOKIE not in fresh.cookies


def test_an_id_token_with_another_nonce_is_refused(oidc_stack):
    """The authorisation request altered on its way to the provider (another nonce): the ID token then
    carries that nonce, not the one Tocsin stored, and the login is refused."""
    grant_marie(oidc_stack)
    client = oidc_stack.client()
    start = oidc_stack.start_login(client)
    altered = httpx.Response(303, headers={"location": with_query(start.headers["location"], nonce="nonce-change")},
                             request=start.request)
    from tests.support.oidc_harness import provider_login

    back = provider_login(client, altered, "marie")
    answer = client.get(back.headers["location"])
    assert answer.status_code == 400 and "n'a pas pu être vérifiée" in shown(answer)
    assert SESSION_COOKIE not in client.cookies


def test_an_answer_naming_another_issuer_is_refused(oidc_stack):
    grant_marie(oidc_stack)
    client = oidc_stack.client()
    back = oidc_stack.callback(client, "marie")
    answer = client.get(with_query(back.headers["location"], iss="https://autre-fournisseur.example"))
    assert answer.status_code == 400 and "autre service d'identité" in shown(answer)


def _real_tokens(stack: OidcStack) -> tuple[OidcClient, dict, dict, str]:
    """Tokens the provider really issued for Tocsin, the discovery document, and the login's nonce (a login
    driven by the test up to the code's exchange, with Tocsin's own client)."""
    client = stack.client()
    back = stack.callback(client, "marie")
    pending = stack.server.app.state.sessions.take_login(client.cookies["tocsin_oidc_login"])
    oidc = OidcClient(stack.provider.issuer, CLIENT_ID, CLIENT_SECRET)

    async def exchange() -> tuple[dict, dict]:
        metadata = await oidc.metadata()
        return metadata, await oidc._token(metadata, query(back.headers["location"])["code"], pending)

    metadata, tokens = asyncio.run(exchange())
    return oidc, metadata, tokens, pending.nonce


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _part(token: str, index: int) -> dict:
    part = token.split(".")[index]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def refused(coroutine) -> LoginRefused:
    with pytest.raises(LoginRefused) as e:
        asyncio.run(coroutine)
    return e.value


def test_a_tampered_or_foreign_id_token_is_refused(oidc_stack):
    oidc, _, tokens, nonce = _real_tokens(oidc_stack)
    id_token = tokens["id_token"]
    claims = asyncio.run(oidc.verify_id_token(id_token, nonce))
    assert claims["aud"] == CLIENT_ID and claims["nonce"] == nonce
    header, _, signature = id_token.split(".")
    # Another subject, the provider's signature kept: the signature no longer matches.
    tampered = ".".join([header, _b64({**_part(id_token, 1), "sub": "quelqu-un-d-autre"}), signature])
    refused(oidc.verify_id_token(tampered, nonce))
    # Unsigned ("alg": "none"), or signed by a key the provider does not publish under its key's id.
    unsigned = ".".join([_b64({"alg": "none", "typ": "JWT"}), _b64(_part(id_token, 1)), ""])
    refused(oidc.verify_id_token(unsigned, nonce))
    from joserfc import jwt
    from joserfc.jwk import RSAKey

    foreign = jwt.encode({"alg": "RS256", "kid": "test-rs256"}, _part(id_token, 1), RSAKey.generate_key(2048))
    refused(oidc.verify_id_token(foreign, nonce))
    # Another audience, another nonce, an expired token: refused by the claims' checks.
    other = OidcClient(oidc_stack.provider.issuer, "un-autre-service", CLIENT_SECRET)
    refused(other.verify_id_token(id_token, nonce))
    refused(oidc.verify_id_token(id_token, "un-autre-nonce"))
    oidc.leeway = -2 * 3600  # as if two hours had gone by (the provider's tokens live ten minutes)
    refused(oidc.verify_id_token(id_token, nonce))


def test_the_userinfo_is_a_signed_jwt_verified_against_the_provider_keys(oidc_stack):
    """ProConnect's userinfo is `application/jwt`: read only once its signature is checked."""
    oidc, metadata, tokens, _ = _real_tokens(oidc_stack)
    raw = httpx.get(metadata["userinfo_endpoint"], headers={"authorization": f"Bearer {tokens['access_token']}"})
    assert raw.headers["content-type"].startswith("application/jwt")
    sub = _part(tokens["id_token"], 1)["sub"]
    info = asyncio.run(oidc.userinfo(metadata, tokens["access_token"], sub))
    assert {k: info[k] for k in MARIE} == MARIE and info["sub"] != MARIE["email"]
    # An answer about someone else than the ID token's subject.
    refused(oidc.userinfo(metadata, tokens["access_token"], "un-autre-sujet"))


# ---- sessions that end -------------------------------------------------------------------------------

def _stream_until_end(client: httpx.Client, seen: list[str], done: threading.Event) -> None:
    """Read the live stream, noting its events, until `session-end` and its data."""
    try:
        with client.stream("GET", "/api/v1/stream", timeout=30) as response:
            seen.append(f"status {response.status_code}")
            ending = False
            for line in response.iter_lines():
                if line.startswith("event: "):
                    seen.append(line.removeprefix("event: "))
                    ending = line == "event: session-end"
                elif ending and line.startswith("data: "):
                    seen.append(line.removeprefix("data: "))
                    break
    finally:
        done.set()


@pytest.mark.parametrize("how", ["logout", "expiry", "habilitation"])
def test_a_session_that_ends_is_refused_everywhere_and_its_live_stream_ends(oidc_stack, how):
    grant_marie(oidc_stack)
    client = oidc_stack.client()
    assert oidc_stack.login(client, "marie").status_code == 303
    seen: list[str] = []
    done = threading.Event()
    thread = threading.Thread(target=_stream_until_end, args=(client, seen, done), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while "hello" not in seen:
        assert time.monotonic() < deadline, seen
        time.sleep(0.05)
    secret = client.cookies[SESSION_COOKIE]
    store = oidc_stack.services.store
    started = time.monotonic()
    if how == "logout":  # from another tab of the same browser
        other = httpx.Client(base_url=oidc_stack.url, cookies={SESSION_COOKIE: secret})
        page = other.get("/")
        csrf = forms(page.text)
        [(_, fields)] = [f for f in csrf if f[0] == "/deconnexion"]
        assert other.post("/deconnexion", data=fields).status_code == 303
        other.close()
    elif how == "expiry":
        session_table.expire_session(store, digest(secret), datetime.now(UTC))
    else:
        oidc_stack.directory.revoke("hab-marie-maire")
    assert done.wait(10), seen
    assert time.monotonic() - started < 5
    assert seen[-2] == "session-end", seen
    assert json.loads(seen[-1])["reason"] == ("expired" if how == "expiry" else "revoked")
    time.sleep(2.1)  # the other processes' copy of the session is read again within this
    refused = client.get("/api/v1/me")
    assert refused.status_code == 401 and "reconnectez-vous" in refused.json()["detail"]
    home = client.get("/")
    assert home.status_code == 303
    # A withdrawn habilitation sends the person to the page that says whom to ask; otherwise, to login.
    assert home.headers["location"] == ("/connexion/habilitation" if how == "habilitation" else "/connexion")
    if how == "habilitation":
        page = client.get("/connexion/habilitation")
        assert page.status_code == 403 and "Aucune habilitation" in shown(page)


# ---- several habilitations, or none ------------------------------------------------------------------

def test_a_person_with_two_habilitations_chooses_one_and_may_switch(oidc_stack):
    grant_marie(oidc_stack)
    oidc_stack.directory.grant("hab-marie-pref", MARIE["email"], "prefecture", Level.DEPARTEMENT, "35",
                               kind=OrganisationKind.PREFECTURE, organisation="Préfecture d'Ille-et-Vilaine",
                               person="Marie Dupont")
    client = oidc_stack.client()
    answer = oidc_stack.login(client, "marie")
    assert answer.status_code == 303 and answer.headers["location"] == "/connexion/habilitation"
    assert client.get("/api/v1/me").status_code == 401  # nothing before a choice
    assert client.get("/").headers["location"] == "/connexion/habilitation"
    page = client.get("/connexion/habilitation")
    assert page.status_code == 200 and "Choisissez" in shown(page)
    assert "Maire — Mairie de Rennes" in shown(page) and "Préfecture — Préfecture d'Ille-et-Vilaine" in shown(page)
    choices = {fields["grant"]: fields for _, fields in forms(page.text) if "grant" in fields}
    assert set(choices) == {"hab-marie-maire", "hab-marie-pref"}

    # A habilitation that is not hers, or a form without its token: refused.
    stranger = {**choices["hab-marie-pref"], "grant": "hab-de-quelqu-un-d-autre"}
    assert client.post("/connexion/habilitation", data=stranger).status_code == 403
    assert client.post("/connexion/habilitation", data={"grant": "hab-marie-pref"}).status_code == 403

    assert client.post("/connexion/habilitation", data=choices["hab-marie-pref"]).headers["location"] == "/"
    me = client.get("/api/v1/me").json()
    assert me["role"] == "prefecture" and me["territory"] == "departement:35" and me["grant_id"] == "hab-marie-pref"
    dashboard = client.get("/")
    assert 'id="switch-grant"' in dashboard.text

    page = client.get("/connexion/habilitation")
    choices = {fields["grant"]: fields for _, fields in forms(page.text) if "grant" in fields}
    client.post("/connexion/habilitation", data=choices["hab-marie-maire"])
    me = client.get("/api/v1/me").json()
    assert me["role"] == "mayor" and me["grant_id"] == "hab-marie-maire"


def test_a_person_without_habilitation_is_told_whom_to_ask_and_sees_nothing(oidc_stack):
    client = oidc_stack.client()
    answer = oidc_stack.login(client, "nobody")
    assert answer.headers["location"] == "/connexion/habilitation"
    page = client.get("/connexion/habilitation")
    assert page.status_code == 403
    assert "aucune habilitation" in shown(page) and "préfecture de votre département" in shown(page)
    assert "administrateur Tocsin de votre organisation" in shown(page) and "inconnu@exemple.fr" in shown(page)
    for path in ("/api/v1/me", "/api/v1/cases", "/api/v1/views/national/FR", "/api/v1/stream"):
        assert client.get(path).status_code == 401, path
    assert client.get("/").headers["location"] == "/connexion/habilitation"
    # They may still log out (at the provider too).
    [(_, fields)] = [f for f in forms(page.text) if f[0] == "/deconnexion"]
    assert client.post("/deconnexion", data=fields).status_code == 303


# ---- logout -----------------------------------------------------------------------------------------

def test_logout_ends_the_session_here_and_at_the_provider(oidc_stack):
    grant_marie(oidc_stack)
    client = oidc_stack.client()
    oidc_stack.login(client, "marie")
    page = client.get("/")
    [(_, fields)] = [f for f in forms(page.text) if f[0] == "/deconnexion"]
    # Without the form's token, or from another site: refused, the session goes on.
    assert client.post("/deconnexion", data={}).status_code == 403
    assert client.post("/deconnexion", data=fields, headers={"origin": "https://evil.example"}).status_code == 403
    assert client.get("/api/v1/me").status_code == 200
    secret = client.cookies[SESSION_COOKIE]

    out = client.post("/deconnexion", data=fields)
    assert out.status_code == 303
    target = out.headers["location"]
    params = query(target)
    assert target.startswith(oidc_stack.provider.issuer + "/session/end?")
    assert params["post_logout_redirect_uri"] == oidc_stack.url + "/deconnexion/fin"
    row_token = params["id_token_hint"]
    assert _part(row_token, 1)["aud"] == CLIENT_ID
    assert session_table.find_session(oidc_stack.services.store, digest(secret)) is None
    assert client.get("/api/v1/me").status_code == 401
    again = httpx.get(oidc_stack.url + "/api/v1/me", cookies={SESSION_COOKIE: secret})
    assert again.status_code == 401  # the cookie, kept elsewhere, is worth nothing now

    # At the provider: its confirmation, then back to Tocsin's page.
    confirm = client.get(target, follow_redirects=True)
    [(action, logout_fields)] = [f for f in forms(confirm.text) if "xsrf" in f[1]]
    done = client.post(action if action.startswith("http") else oidc_stack.provider.issuer + action,
                       data={**logout_fields, "logout": "yes"}, follow_redirects=True)
    assert str(done.url).startswith(oidc_stack.url + "/deconnexion/fin") and "Vous êtes déconnecté(e)" in shown(done)
    # The provider's session is over: a new login asks for the account again.
    restart = oidc_stack.start_login(client)
    login_page = client.get(restart.headers["location"], follow_redirects=True)
    assert any("login" in fields for _, fields in forms(login_page.text))


# ---- the provider away, settings that cannot work ---------------------------------------------------

def test_the_server_starts_while_the_provider_is_down_and_says_so_at_login(oidc_stack):
    oidc_stack.provider.stop()
    oidc_stack.server.app.state.oidc._metadata = None  # as if never fetched: the provider went down before
    client = oidc_stack.client()
    page = client.get("/connexion")
    assert page.status_code == 503 and "ne répond pas pour le moment" in shown(page)
    assert client.get("/healthz").status_code == 200


def test_http_issuers_are_refused_unless_on_loopback(settings):
    import dataclasses

    assert check_issuer("https://auth.agentconnect.gouv.fr/api/v2/") == "https://auth.agentconnect.gouv.fr/api/v2"
    assert check_issuer("http://127.0.0.1:9000") == "http://127.0.0.1:9000"
    assert check_issuer("http://localhost:9000/") == "http://localhost:9000"
    assert check_issuer("http://[::1]:9000") == "http://[::1]:9000"
    for bad in ("http://idp.example.fr", "http://10.0.0.5", "ftp://idp.example.fr", "idp.example.fr"):
        with pytest.raises(OidcConfigError):
            check_issuer(bad)
    remote = dataclasses.replace(settings, oidc_issuer="http://idp.example.fr", oidc_client_id="a",
                                 oidc_client_secret="b")
    assert "http sur une machine distante" in (config_error(remote) or "")
    partial = dataclasses.replace(settings, oidc_issuer="https://idp.example.fr")
    assert "incomplète" in (config_error(partial) or "")
    assert config_error(settings) is None


def test_a_pkce_verifier_is_never_sent_to_the_browser(oidc_stack):
    client = oidc_stack.client()
    response = oidc_stack.start_login(client)
    challenge = query(response.headers["location"])["code_challenge"]
    pending = oidc_stack.server.app.state.sessions.take_login(client.cookies["tocsin_oidc_login"])
    expected = base64.urlsafe_b64encode(hashlib.sha256(pending.code_verifier.encode()).digest()).rstrip(b"=")
    assert challenge == expected.decode()
    assert pending.code_verifier not in response.headers["location"]


@pytest.mark.parametrize("issuer", ["http://idp.example.fr", "pas-une-adresse"])
def test_tocsin_serve_refuses_to_start_with_an_issuer_it_cannot_trust(settings, issuer):
    """Refused before anything starts, with a French message naming the setting."""
    import subprocess

    from adapters.embedded import free_port
    from tests.support.nats_harness import ROOT, environment, tocsin_command

    env = {**environment(settings), "TOCSIN_OIDC_ISSUER": issuer, "TOCSIN_OIDC_CLIENT_ID": "tocsin",
           "TOCSIN_OIDC_CLIENT_SECRET": "secret"}
    done = subprocess.run(tocsin_command("serve", "--port", str(free_port())), cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "TOCSIN_OIDC_ISSUER" in done.stderr and "Erreur" in done.stderr


def test_no_demonstration_beside_an_openid_provider(settings):
    from api.auth import AuthConfig, DemoRefused

    with pytest.raises(DemoRefused, match="TOCSIN_OIDC_ISSUER"):
        AuthConfig.from_env(settings, {"TOCSIN_OIDC_ISSUER": "https://auth.example.gouv.fr"}, demo=True)
