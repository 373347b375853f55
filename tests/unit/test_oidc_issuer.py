"""Which OpenID issuers Tocsin accepts: https anywhere, http only on the loopback (property tests)."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.identity.oidc import OidcConfigError, check_issuer, loopback

labels = st.from_regex(r"[a-z][a-z0-9-]{0,20}", fullmatch=True)
hosts = st.lists(labels, min_size=2, max_size=4).map(".".join)
paths = st.from_regex(r"(/[a-z0-9]{1,8}){0,3}/?", fullmatch=True)
ports = st.none() | st.integers(1, 65535)


def url(scheme: str, host: str, port: int | None, path: str) -> str:
    return f"{scheme}://{host}" + (f":{port}" if port else "") + path


@given(hosts, ports, paths)
def test_https_is_accepted_anywhere_and_loses_its_trailing_slash(host, port, path):
    issuer = url("https", host, port, path)
    assert check_issuer(issuer) == issuer.rstrip("/")


@given(hosts.filter(lambda h: h != "localhost"), ports, paths)
def test_http_off_the_loopback_is_refused(host, port, path):
    with pytest.raises(OidcConfigError, match="http"):
        check_issuer(url("http", host, port, path))


@given(st.ip_addresses(v=4), ports, paths)
def test_http_on_an_ipv4_address_only_on_the_loopback(address, port, path):
    issuer = url("http", str(address), port, path)
    if address in ipaddress.ip_network("127.0.0.0/8"):
        assert check_issuer(issuer) == issuer.rstrip("/")
    else:
        with pytest.raises(OidcConfigError):
            check_issuer(issuer)


def test_loopback_names():
    assert loopback("localhost") and loopback("127.0.0.1") and loopback("127.8.9.10") and loopback("[::1]")
    assert not loopback("10.0.0.1") and not loopback("localhost.example.fr") and not loopback("::2")


@pytest.mark.parametrize("bad", ["ftp://idp.example.fr", "idp.example.fr", "https://", "https://idp.fr/?a=b",
                                 "https://idp.fr/#x"])
def test_what_is_no_issuer_url_is_refused(bad):
    with pytest.raises(OidcConfigError):
        check_issuer(bad)


def test_forms_may_lead_to_the_provider_s_origin_and_nowhere_else():
    """The logout form's answer goes on to the provider's end-session endpoint (form-action governs it)."""
    from api.security_headers import content_security_policy

    policy = dict(d.split(" ", 1) for d in content_security_policy(
        None, "https://auth.agentconnect.gouv.fr/api/v2").split("; "))
    assert policy["form-action"] == "'self' https://auth.agentconnect.gouv.fr"
    assert dict(d.split(" ", 1) for d in content_security_policy().split("; "))["form-action"] == "'self'"
    # Only the origin reaches the policy: a ';' in the setting cannot add a directive.
    assert "script-src 'self';" in content_security_policy(None, "https://idp.fr/x; script-src *")
