"""The security headers' policy: an external tile server is allowed for images only, and HSTS follows the
public address as well as the request's own scheme."""

from __future__ import annotations

from types import SimpleNamespace

from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from adapters.settings import Settings
from api.security_headers import SecurityHeaders, content_security_policy, tile_origin


def directives(policy: str) -> dict[str, list[str]]:
    return {d.split()[0]: d.split()[1:] for d in (p.strip() for p in policy.split(";")) if d}


def test_a_tile_server_is_allowed_for_images_only():
    policy = directives(content_security_policy("https://tiles.example.org:8443/{z}/{x}/{y}.png"))
    assert "https://tiles.example.org:8443" in policy["img-src"]
    others = [v for name, values in policy.items() if name != "img-src" for v in values]
    assert not any("tiles.example.org" in v for v in others)
    assert directives(content_security_policy())["img-src"] == ["'self'", "data:"]


def test_a_tile_setting_cannot_add_a_directive():
    assert tile_origin("https://t.example.org/{z}/{x}/{y}.png; script-src *") == "https://t.example.org"
    assert tile_origin("javascript:alert(1)") is None
    assert tile_origin("/tiles/{z}/{x}/{y}.png") is None  # same origin: 'self' covers it
    assert "script-src 'self';" in content_security_policy("https://t.example.org/x; script-src *")


def app_with(settings: Settings) -> Starlette:
    app = Starlette(routes=[Route("/", lambda request: PlainTextResponse("ok"))])
    app.add_middleware(SecurityHeaders)
    app.state.services = SimpleNamespace(settings=settings)  # what the lifespan puts there
    return app


def test_hsts_when_the_public_address_is_https():
    assert "strict-transport-security" not in TestClient(app_with(Settings())).get("/").headers
    behind_tls = TestClient(app_with(Settings(public_url="https://tocsin.example.gouv.fr"))).get("/")
    assert behind_tls.headers["strict-transport-security"].startswith("max-age=")
    tiles = TestClient(app_with(Settings(map_tiles="https://tiles.example.org/{z}/{x}/{y}.png"))).get("/")
    assert "https://tiles.example.org" in directives(tiles.headers["content-security-policy"])["img-src"]


def test_missing_web_packages_are_named_with_the_command_that_installs_them(tmp_path):
    import pytest

    from api.app import web_packages

    with pytest.raises(RuntimeError, match=r"make install") as raised:
        web_packages(tmp_path / "node_modules")
    assert "@gouvfr/dsfr" in str(raised.value) and "leaflet" in str(raised.value)
    assert set(web_packages()) == {"dsfr", "dsfr-chart", "leaflet", "markercluster"}  # this checkout: installed
