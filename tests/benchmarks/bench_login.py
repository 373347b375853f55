"""The OpenID Connect login's round trip, against a local provider (tests/support/oidc_provider, the npm
package oidc-provider configured like ProConnect: PKCE, signed userinfo).

Tocsin runs under uvicorn in its own process (as `tocsin serve` does), registered at the provider; each
login is a new browser (httpx client): GET /connexion → the provider's authorisation endpoint → its
login form, filled → its redirect back to /connexion/retour (code exchange, ID token and signed userinfo
verified, session opened) → the dashboard's page. Reports, over LOGINS logins and as the median of 3
runs: the whole round trip (median, p99), Tocsin's own part of it (its two answers, /connexion and
/connexion/retour, as the client waited for them), and the Tocsin server's CPU per login. Baseline from
the same run: the server's CPU per authenticated read with the session cookie (GET /api/v1/me), which
every request of a logged-in dashboard pays for the session and habilitation check, beside the same
read with a bearer token (the services' and scripts' way).

Run: `python -m tests.benchmarks` (all benches) or `python -m tests.benchmarks.bench_login [LOGINS]`.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import psycopg
from psycopg.sql import SQL, Identifier

from tests.benchmarks import cpu_pace, database_url
from tests.benchmarks.bench_api import _free_port, _server_cpu

ROOT = Path(__file__).resolve().parents[2]
LOGINS = 50
RUNS = 3
READS = 500
EMAIL = "marie.dupont@rennes.fr"


def bench_app() -> Any:
    """The app `tocsin serve` builds, with the tests' directory stand-in (one mayor) until the real
    directory is in the services, and without the login rate limit (one address logs in 150 times)."""
    from api.app import create_app
    from api.auth import LoginLimit
    from domain.geography import Level
    from tests.support.directory_stand_in import StandInDirectory

    app = create_app()
    directory = StandInDirectory()
    directory.grant("hab-bench", EMAIL, "mayor", Level.COMMUNE, "35238", organisation="Mairie de Rennes")
    app.state.habilitations = directory
    started = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application: Any) -> Any:
        async with started(application):
            application.state.login_limit = LoginLimit(per_client=1_000_000, overall=1_000_000)
            yield

    app.router.lifespan_context = lifespan
    return app


def _one_login(base: str) -> tuple[float, float, str]:
    """A whole login in a new browser: (seconds in all, seconds waiting for Tocsin, the session cookie)."""
    from tests.support.oidc_harness import provider_login

    with httpx.Client(base_url=base, timeout=30) as client:
        began = time.perf_counter()
        start = client.get("/connexion")
        tocsin = start.elapsed.total_seconds()
        back = provider_login(client, start, "marie")
        answer = client.get(back.headers["location"])
        tocsin += answer.elapsed.total_seconds()
        assert answer.status_code == 303 and answer.headers["location"] == "/", answer.text
        page = client.get("/")
        assert page.status_code == 200, page.text
        return time.perf_counter() - began, tocsin, client.cookies["tocsin_session"]


def _reads(base: str, n: int, cookie: str | None = None, token: str | None = None) -> None:
    cookies = {"tocsin_session": cookie} if cookie else {}
    headers = {"authorization": f"Bearer {token}"} if token else {}
    with httpx.Client(base_url=base, cookies=cookies, headers=headers) as client:
        for _ in range(n):
            assert client.get("/api/v1/me").status_code == 200


def _run(pid: int, base: str, logins: int, token: str) -> dict[str, float]:
    before = _server_cpu(pid)
    measured = [_one_login(base) for _ in range(logins)]
    cpu_login = (_server_cpu(pid) - before) / logins
    totals = sorted(m[0] for m in measured)
    own = sorted(m[1] for m in measured)
    _reads(base, 20, cookie=measured[-1][2])  # warm
    before = _server_cpu(pid)
    _reads(base, READS, cookie=measured[-1][2])
    cpu_read = (_server_cpu(pid) - before) / READS
    _reads(base, 20, token=token)
    before = _server_cpu(pid)
    _reads(base, READS, token=token)
    cpu_bearer = (_server_cpu(pid) - before) / READS
    return {"median_ms": statistics.median(totals) * 1e3,
            "p99_ms": totals[min(len(totals) - 1, int(len(totals) * 0.99))] * 1e3,
            "tocsin_median_ms": statistics.median(own) * 1e3,
            "tocsin_p99_ms": own[min(len(own) - 1, int(len(own) * 0.99))] * 1e3,
            "server_cpu_ms_per_login": cpu_login * 1e3,
            "server_cpu_us_per_session_read": cpu_read * 1e6,
            "server_cpu_us_per_bearer_read": cpu_bearer * 1e6}


def main(logins: int = LOGINS) -> dict:
    from tests.support.oidc_harness import CLIENT_ID, CLIENT_SECRET, MARIE, start_provider

    pace = cpu_pace()
    with tempfile.TemporaryDirectory(prefix="tocsin-bench-login-") as tmp:
        url = database_url()
        schema = "bench_login_" + uuid.uuid4().hex[:8]
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        provider = start_provider(base, {"marie": {**MARIE, "email": EMAIL}})
        env = {**os.environ, "TOCSIN_DATABASE_URL": url, "TOCSIN_DB_SCHEMA": schema, "TOCSIN_DATA_DIR": tmp,
               "TOCSIN_PROJECTIONS_IN_APP": "0", "PYTHONPATH": str(ROOT), "TOCSIN_OIDC_ISSUER": provider.issuer,
               "TOCSIN_OIDC_CLIENT_ID": CLIENT_ID, "TOCSIN_OIDC_CLIENT_SECRET": CLIENT_SECRET}
        from api.cli.http_limits import cli_options

        server = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "tests.benchmarks.bench_login:bench_app", "--factory",
             "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log",
             *cli_options()], cwd=ROOT, env=env)
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("le serveur ne démarre pas")
                time.sleep(0.2)
            for _ in range(3):  # warm: the discovery document, the keys, the first connections
                _one_login(base)
            from adapters.settings import Settings
            from api.auth import AuthConfig

            token = AuthConfig.from_env(Settings(data_dir=Path(tmp)), {}).mint("mayor", "commune:35238")
            runs = [_run(server.pid, base, logins, token) for _ in range(RUNS)]
            result = {key: round(statistics.median(r[key] for r in runs), 1) for key in runs[0]}
            print(f"   Connexion OpenID Connect complète ({logins} connexions, médiane de {RUNS} séries) : "
                  f"médiane {result['median_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms, dont Tocsin "
                  f"(/connexion et /connexion/retour) médiane {result['tocsin_median_ms']:.1f} ms, "
                  f"p99 {result['tocsin_p99_ms']:.1f} ms", flush=True)
            print(f"   CPU du serveur Tocsin : {result['server_cpu_ms_per_login']:.1f} ms par connexion ; "
                  f"référence, lecture authentifiée par la session (GET /api/v1/me) : "
                  f"{result['server_cpu_us_per_session_read']:.0f} µs par requête (avec un jeton porteur : "
                  f"{result['server_cpu_us_per_bearer_read']:.0f} µs)", flush=True)
            print(f"   (allure du processeur : {pace:.2f} s avant, {cpu_pace():.2f} s après)", flush=True)
            print("   " + json.dumps(result), flush=True)
            return result
        finally:
            server.terminate()
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                server.kill()
            provider.stop()
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(Identifier(schema)))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else LOGINS)
