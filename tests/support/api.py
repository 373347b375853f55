"""Helpers shared by the API tests: messages placed in a chosen commune, an app with its tokens.

(Named test_api_* to stay in the API's test files; it holds no test itself.)
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth import AuthConfig
from tests.support.wire import as_json, example, wire

# Four communes in three départements and two zones.
RENNES, GUICHEN, BREST, LYON = "35238", "35126", "29019", "69123"


def report_in(geography, insee: str, case_id: str, *, nature: str | None = None, seed: int = 1,
              victims: str | None = None, status: str | None = None) -> bytes:
    """An RC-EDA (from the official fire example) placed at a point inside the given commune."""
    kind, use_case = example("RC-EDA/RC-EDA_Incendie_RaymondeLECCIA.01")
    use_case["caseId"] = case_id
    lat, lon = geography.random_point_in(insee, random.Random(seed))
    use_case["location"]["city"] = {"name": geography.name("commune", insee), "inseeCode": insee}
    use_case["location"]["geometry"]["point"]["coord"].update({"lat": round(lat, 7), "lon": round(lon, 7)})
    if nature:
        use_case["qualification"]["whatsHappen"]["code"] = nature
    if victims:
        use_case["qualification"]["victims"]["count"] = victims
    return as_json(wire(kind, use_case, status=status))


def auth_config() -> AuthConfig:
    return AuthConfig(secret=b"test-secret-key-with-enough-entropy-for-hs256", demo_login=True)


@contextmanager
def client_for(services, config: AuthConfig | None = None, **app_options) -> Iterator[tuple[TestClient, AuthConfig]]:
    config = config or auth_config()
    app = create_app(services, config, **app_options)
    with TestClient(app) as client:
        wait_for_views(app.state.read_model, services)
        yield client, config


def app_of(client: TestClient) -> FastAPI:
    """The Tocsin app a test client drives (the client only knows it as some ASGI app)."""
    assert isinstance(client.app, FastAPI)
    return client.app


def wait_for_views(read_model, services, timeout: float = 20) -> None:
    """Until the in-app projection worker has folded every event of a message recorded so far (the
    platform's own events, such as the directory's seed, are no work for the views: a stopped worker
    has nothing to fold while only they follow its position)."""
    import time

    from psycopg.sql import SQL

    with services.store.connect() as conn:
        target = conn.execute(SQL("SELECT coalesce(max(notification_id), 0) AS n FROM {}"
                                  " WHERE message_hash IS NOT NULL").format(services.store.table("tocsin_chain"))
                              ).fetchone()["n"]
    deadline = time.monotonic() + timeout
    while read_model.position() < target:
        assert time.monotonic() < deadline, "projections did not catch up"
        time.sleep(0.05)


def fold_views_then_stop(services) -> None:
    """Build the views up to now with a worker, then stop it: later events wait for them."""
    from projections.read.model import ReadModel
    from projections.store.worker import run_in_thread

    thread, stop = run_in_thread(services.store)
    wait_for_views(ReadModel(services.store, services.geography), services)
    stop.set()
    thread.join(10)


def bearer(config: AuthConfig, role: str, territory: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {config.mint(role, territory)}"}


class LiveServer:
    """The real app under uvicorn, in a thread, on a free port (for the stream and the browser)."""

    def __init__(self, services, config: AuthConfig | None = None, *, port: int | None = None,
                 **app_options) -> None:
        import socket
        import threading

        import uvicorn

        from api.cli.http_limits import server_options  # the bounds `tocsin serve` applies

        self.config = config or auth_config()
        if port is None:  # else chosen beforehand (an identity provider registered this server's address)
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
        self.port = port
        self.url = f"http://127.0.0.1:{self.port}"
        self.app = create_app(services, self.config, **app_options)
        self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning",
                                                    lifespan="on", timeout_graceful_shutdown=1, **server_options()))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        import time

        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(10)
