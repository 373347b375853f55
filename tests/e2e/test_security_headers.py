"""The smaller doors of issue #17: security headers on every answer, /docs with nothing from a CDN,
no redirect that follows a forged Host, and provenance that names no server path."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from adapters.ingest.ingestion import Incoming
from adapters.ingest.use_cases import ingest_files
from api.auth import COOKIE_NAME
from tests.support.api import RENNES, bearer, client_for, report_in

CASE = "fr.fire.test.headers-1"
API = Path(__file__).resolve().parents[2] / "api"


@pytest.fixture
def world(services):
    raw = report_in(services.geography, RENNES, CASE)
    assert services.ingestor.ingest(Incoming(raw, "application/json")).status == "accepted"
    with client_for(services) as (client, config):
        yield client, config


def directives(policy: str) -> dict[str, list[str]]:
    return {d.split()[0]: d.split()[1:] for d in (p.strip() for p in policy.split(";")) if d}


def assert_secured(response, *, cacheable: bool = False) -> None:
    csp = directives(response.headers["content-security-policy"])
    assert csp["default-src"] == ["'self'"]
    assert "'unsafe-inline'" not in csp["script-src"] and "'unsafe-eval'" not in csp["script-src"]
    assert "'unsafe-inline'" not in csp["style-src"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] in {"same-origin", "no-referrer"}
    assert "strict-transport-security" not in response.headers  # plain http: no HSTS
    if cacheable:
        assert "no-store" not in response.headers.get("cache-control", "")
    else:
        assert response.headers["cache-control"] == "no-store"


def test_every_answer_carries_the_security_headers(world):
    client, config = world
    national = bearer(config, "national", "national:FR")
    answers = {
        "login page": client.get("/connexion"),
        "redirect to login": client.get("/", follow_redirects=False),
        "case detail": client.get(f"/api/v1/cases/{CASE}", headers=national),
        "access log": client.get("/api/v1/access-log", headers=bearer(config, "auditor", "national:FR")),
        "unknown case": client.get("/api/v1/cases/fr.fire.none", headers=national),
        "no token": client.get("/api/v1/cases"),
        "openapi": client.get("/openapi.json"),
        "unknown route": client.get("/nowhere"),
        "health": client.get("/healthz"),
    }
    assert answers["redirect to login"].status_code == 303
    assert answers["case detail"].status_code == 200
    for name, response in answers.items():
        try:
            assert_secured(response)
        except (AssertionError, KeyError) as error:
            raise AssertionError(f"{name}: {response.status_code} {dict(response.headers)}") from error
    assert_secured(client.get("/static/tocsin.css"), cacheable=True)


def test_the_pages_load_the_design_system_and_the_map_from_this_server(world):
    """The DSFR, Leaflet and markercluster files the pages name are served from node_modules, here,
    cacheable, under the same headers; the icons and fonts their stylesheets name too."""
    client, config = world
    client.cookies.set(COOKIE_NAME, bearer(config, "mayor", "commune:35238")["Authorization"].split()[1])
    pages = {"/connexion": client.get("/connexion"), "/": client.get("/")}
    client.cookies.clear()
    for path, page in pages.items():
        assert page.status_code == 200, path
        sources = re.findall(r'(?:src|href)="(/static/[^"]+)"', page.text)
        assert any(s.startswith("/static/dsfr/") for s in sources), path
        for source in sources:
            assert_secured(client.get(source), cacheable=True)
    assert "/static/leaflet/leaflet.js" in pages["/"].text
    assert "/static/markercluster/leaflet.markercluster.js" in pages["/"].text
    css = client.get("/static/dsfr/dsfr.min.css").text
    urls = {u.strip("\"'") for u in re.findall(r"url\(([^)]+)\)", css)}
    files = sorted(u for u in urls if not u.startswith("data:"))
    assert any(u.startswith("fonts/Marianne") for u in files), files[:5]
    for url in files[:60]:
        assert client.get("/static/dsfr/" + url).status_code == 200, url
    assert client.get("/static/tocsin.css").status_code == 200


def test_hsts_behind_tls(world):
    client, _ = world
    response = client.get("https://testserver/connexion")
    assert response.headers["strict-transport-security"].startswith("max-age=")


def test_docs_are_served_locally_under_the_same_policy(world):
    client, _ = world
    page = client.get("/docs")
    assert page.status_code == 200
    assert_secured(page)
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(s.startswith("/") and not s.startswith("//") for s in sources), sources
    assert "<script>" not in page.text  # no inline script: the CSP would block it
    for source in sources:
        asset = client.get(source)
        assert asset.status_code == 200 and asset.content, source
    assert client.get("/redoc").status_code == 404
    assert client.get("/openapi.json").status_code == 200


def test_the_pages_hold_no_inline_script_or_style():
    """What the policy forbids never appears in the templates nor in the HTML the scripts build."""
    for template in (API / "templates").glob("*.html"):
        text = template.read_text(encoding="utf-8")
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), template.name
        assert not re.search(r"<style\b|\sstyle=|\son[a-z]+=", text), template.name
    for script in (API / "static").glob("*.js"):
        assert not re.search(r"""style=|\son[a-z]+=['"\\]""", script.read_text(encoding="utf-8")), script.name


@pytest.mark.parametrize("path", ["/api/v1/cases/", "/connexion/", "/docs/", "/api/v1/me/", "/static/"])
def test_a_forged_host_never_reaches_a_location(world, path):
    client, config = world
    response = client.get(path, headers={**bearer(config, "national", "national:FR"), "host": "evil.example"},
                          follow_redirects=False)
    assert "evil.example" not in response.headers.get("location", "")
    assert response.status_code == 404


def test_provenance_names_a_file_not_its_server_path(services, tmp_path):
    inbox = tmp_path / "secret-server-folder"
    inbox.mkdir()
    message = inbox / "rapport.json"
    message.write_bytes(report_in(services.geography, RENNES, CASE))
    [(_, outcome)] = list(ingest_files(services.ingestor, [message], 10))
    assert outcome.status == "accepted"
    with client_for(services) as (client, config):
        detail = client.get(f"/api/v1/cases/{CASE}", headers=bearer(config, "national", "national:FR"))
    assert detail.status_code == 200
    assert [e["provenance"]["source"] for e in detail.json()["events"]] == ["file:rapport.json"]
    assert "secret-server-folder" not in detail.text and str(tmp_path) not in detail.text
