"""Tokens: local HS256, a real identity provider's RS256/ES256 keys (JWKS or PEM), claims checked."""

from __future__ import annotations

import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from typer.testing import CliRunner

from adapters.geography import get_geography
from adapters.settings import Settings
from api.auth import AuthConfig, AuthError, DemoRefused, LoginLimit, local_secret
from domain.access import ROLES

GEO = get_geography()


def idp_token(key, alg: str, kid: str = "k1", **claims) -> str:
    now = int(time.time())
    base = {"iss": "https://idp.example.gouv.fr", "aud": "tocsin-prod", "sub": "agent-42", "iat": now, "exp": now + 600,
            "tocsin_role": "prefecture", "tocsin_territory": "departement:35"}
    return jwt.encode(base | claims, key, algorithm=alg, headers={"kid": kid})


def test_local_mode_generates_one_key_and_round_trips(tmp_path):
    settings = Settings(data_dir=tmp_path)
    config = AuthConfig.from_env(settings, {})
    # No demonstration unless asked for: no login with a chosen role, posting needs a token.
    assert config.local and not config.demo_login and not config.ingest_open and not config.interactive_login
    demo = AuthConfig.from_env(settings, {}, demo=True)
    assert demo.local and demo.demo_login and demo.ingest_open  # demonstration: anyone may post
    assert demo.secret == config.secret
    assert (tmp_path / "secrets" / "jwt.key").stat().st_mode & 0o077 == 0
    assert local_secret(settings) == config.secret
    p = config.principal(config.mint("mayor", "commune:35238", name="Maire de Rennes"), GEO)
    assert (p.role.code, p.level.value, p.code, p.name) == ("mayor", "commune", "35238", "Maire de Rennes")
    assert p.can_see("commune", "35238") and not p.can_see("commune", "35126") and not p.can_see("departement", "35")
    assert not p.may_see_personal


def test_demonstration_mode_refuses_to_start_beside_an_identity_provider(tmp_path):
    settings = Settings(data_dir=tmp_path)
    (tmp_path / "idp.key").write_text("shared-secret-of-the-identity-provider")
    for env in ({"TOCSIN_JWKS_URL": "https://idp.example.gouv.fr/jwks"},
                {"TOCSIN_JWT_KEY_FILE": str(tmp_path / "idp.key")},
                {"TOCSIN_JWT_ISSUER": "https://idp.example.gouv.fr"}):
        with pytest.raises(DemoRefused, match="fournisseur d'identité"):
            AuthConfig.from_env(settings, env, demo=True)
        assert not AuthConfig.from_env(settings, env).demo_login
    assert AuthConfig.from_env(settings, {"TOCSIN_JWT_ISSUER": ""}, demo=True).demo_login  # blank: not set


def test_an_identity_provider_s_shared_secret_never_signs_a_token(tmp_path):
    secret = "shared-secret-of-the-identity-provider-0123456789"
    (tmp_path / "idp.key").write_text(secret + "\n")
    env = {"TOCSIN_JWT_KEY_FILE": str(tmp_path / "idp.key"), "TOCSIN_JWT_ISSUER": "https://idp.example.gouv.fr",
           "TOCSIN_JWT_AUDIENCE": "tocsin-prod"}
    config = AuthConfig.from_env(Settings(data_dir=tmp_path), env)
    assert not config.local and not config.demo_login and not config.ingest_open and config.interactive_login
    with pytest.raises(AuthError):
        config.mint("national", "national:FR")
    # It verifies the provider's own tokens.
    assert config.principal(idp_token(secret, "HS256"), GEO).territory == "departement:35"


def test_minted_tokens_carry_an_id_the_revocation_list_is_keyed_by():
    config = AuthConfig(secret=b"k" * 40)
    first, second = config.mint("mayor", "commune:35238"), config.mint("mayor", "commune:35238")
    ids = {config.session(first, GEO)[1], config.session(second, GEO)[1]}
    assert len(ids) == 2 and all(ids)
    foreign = jwt.encode({"iss": "tocsin-local", "aud": "tocsin", "sub": "x", "exp": int(time.time()) + 60,
                          "tocsin_role": "mayor", "tocsin_territory": "commune:35238"}, b"k" * 40, algorithm="HS256")
    assert config.session(foreign, GEO)[1].startswith("sha256:")  # no jti: the token's digest


def test_csrf_tokens_are_bound_to_their_purpose_and_to_what_they_act_on():
    config, other = AuthConfig(secret=b"k" * 40), AuthConfig(secret=b"k" * 40)
    token = config.csrf_token("logout", "session-1")
    assert config.csrf_valid("logout", "session-1", token)
    assert not config.csrf_valid("logout", "session-2", token)
    assert not config.csrf_valid("login", "session-1", token)
    assert not other.csrf_valid("logout", "session-1", token)  # another key
    assert not config.csrf_valid("logout", None, token) and not config.csrf_valid("logout", "session-1", None)


def test_login_attempts_are_limited_per_address_and_overall():
    limit = LoginLimit(per_client=3, overall=5)
    assert [limit.attempt("10.0.0.1", now=0) for _ in range(3)] == [0, 0, 0]
    wait = limit.attempt("10.0.0.1", now=0)
    assert 19 < wait <= 20  # one attempt back every 20 s
    assert limit.attempt("10.0.0.2", now=0) == 0 and limit.attempt("10.0.0.2", now=0) == 0
    assert limit.attempt("10.0.0.3", now=0) > 0  # everyone together: 5 a minute
    assert limit.attempt("10.0.0.1", now=20.5) == 0  # refilled
    assert limit.attempt("10.0.0.1", now=20.6) > 0
    crowded = LoginLimit(per_client=2, overall=1000, max_clients=10)
    for i in range(100):
        assert crowded.attempt(f"10.1.0.{i}", now=i) == 0
    # Addresses whose bucket has refilled (2 a minute: after 30 s) are forgotten once 10 are remembered.
    assert len(crowded._clients) < 40 and "10.1.0.0" not in crowded._clients and "10.1.0.99" in crowded._clients


def test_a_verified_token_is_remembered_only_until_it_expires():
    import time

    config = AuthConfig(secret=b"k" * 40, leeway=0)
    token = config.mint("mayor", "commune:35238", ttl=2)
    first = config.principal(token, GEO)
    assert config.principal(token, GEO) is first  # remembered: not verified again
    assert first.expires_at - time.time() <= 2
    time.sleep(max(0.0, first.expires_at - time.time()) + 0.2)
    with pytest.raises(AuthError, match="expiré"):
        config.principal(token, GEO)
    with pytest.raises(AuthError):  # a forged token is never taken for a remembered one
        config.principal(token[:-2] + ("AA" if not token.endswith("AA") else "BB"), GEO)


def test_roles_and_personal_data():
    assert {r for r, role in ROLES.items() if role.personal} == {"prefecture", "sdis", "national"}
    assert not ROLES["nexsis"].reads and ROLES["nexsis"].ingests
    assert ROLES["auditor"].audits


def test_a_real_identity_provider_with_a_jwks_file(tmp_path):
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    jwks = {"keys": [
        json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key.public_key()))
        | {"kid": "rsa1", "use": "sig", "alg": "RS256"},
        json.loads(jwt.algorithms.ECAlgorithm.to_jwk(ec_key.public_key()))
        | {"kid": "ec1", "use": "sig", "alg": "ES256"},
    ]}
    (tmp_path / "jwks.json").write_text(json.dumps(jwks))
    env = {"TOCSIN_JWKS_URL": (tmp_path / "jwks.json").as_uri(), "TOCSIN_JWT_ISSUER": "https://idp.example.gouv.fr",
           "TOCSIN_JWT_AUDIENCE": "tocsin-prod"}
    config = AuthConfig.from_env(Settings(data_dir=tmp_path), env)
    assert not config.local and not config.demo_login and not config.ingest_open
    with pytest.raises(AuthError):
        config.mint("mayor", "commune:35238")
    assert config.principal(idp_token(rsa_key, "RS256", "rsa1"), GEO).territory == "departement:35"
    zone = idp_token(ec_key, "ES256", "ec1", tocsin_role="zone", tocsin_territory="zone:ouest")
    assert config.principal(zone, GEO).code == "ouest"
    for bad in (
        idp_token(rsa_key, "RS256", "rsa1", iss="https://autre.example"),
        idp_token(rsa_key, "RS256", "rsa1", aud="autre"),
        idp_token(rsa_key, "RS256", "rsa1", exp=int(time.time()) - 3600),
        idp_token(rsa.generate_private_key(public_exponent=65537, key_size=2048), "RS256", "rsa1"),
        idp_token(rsa_key, "RS256", "rsa1", tocsin_role="roi"),
        idp_token(rsa_key, "RS256", "rsa1", tocsin_territory="departement:999"),
        idp_token(rsa_key, "RS256", "rsa1", tocsin_role="mayor"),  # a mayor of a département: no
        idp_token(rsa_key, "RS256", "rsa1", tocsin_territory="35"),
    ):
        with pytest.raises(AuthError):
            config.principal(bad, GEO)
    # A token signed with the HS256 "algorithm" and the public key as secret is refused.
    with pytest.raises(AuthError):
        config.principal(jwt.encode({"iss": "x"}, "secret", algorithm="HS256"), GEO)


def test_a_pem_public_key_file(tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    (tmp_path / "idp.pem").write_bytes(pem)
    env = {"TOCSIN_JWT_KEY_FILE": str(tmp_path / "idp.pem"), "TOCSIN_JWT_ISSUER": "https://idp.example.gouv.fr",
           "TOCSIN_JWT_AUDIENCE": "tocsin-prod", "TOCSIN_INGEST_AUTH": "open"}
    config = AuthConfig.from_env(Settings(data_dir=tmp_path), env)
    assert config.ingest_open and not config.demo_login
    assert config.principal(idp_token(key, "ES256"), GEO).role.code == "prefecture"


def test_the_token_command(tmp_path, monkeypatch):
    import typer

    from api.cli.tokens import register

    monkeypatch.setenv("TOCSIN_DATA_DIR", str(tmp_path))
    for name in ("TOCSIN_JWKS_URL", "TOCSIN_JWT_KEY_FILE", "TOCSIN_JWT_ISSUER", "TOCSIN_JWT_AUDIENCE"):
        monkeypatch.delenv(name, raising=False)
    app = typer.Typer()
    register(app)
    app.command("noop")(lambda: None)  # a Typer with one command would make `token` the root
    runner = CliRunner()
    result = runner.invoke(app, ["token", "--role", "mayor", "--territory", "35238"])
    assert result.exit_code == 0, result.output
    config = AuthConfig.from_env(Settings(data_dir=tmp_path), {})
    assert config.principal(result.output.strip(), GEO).territory == "commune:35238"
    assert runner.invoke(app, ["token", "--role", "mayor", "--territory", "departement:35"]).exit_code != 0
    assert runner.invoke(app, ["token", "--role", "mayor", "--territory", "99999"]).exit_code != 0
    assert runner.invoke(app, ["token", "--role", "pape", "--territory", "FR"]).exit_code != 0
    # An identity provider's shared secret configured: `tocsin token` refuses to sign with it.
    (tmp_path / "idp.key").write_text("shared-secret-of-the-identity-provider-0123456789")
    monkeypatch.setenv("TOCSIN_JWT_KEY_FILE", str(tmp_path / "idp.key"))
    refused = runner.invoke(app, ["token", "--role", "national", "--territory", "FR"])
    assert refused.exit_code != 0 and "fournisseur d'identité" in refused.output
