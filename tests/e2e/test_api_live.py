"""The live stream over a real server: a client gets its territory's changes within a second, only those."""

from __future__ import annotations

import json
import threading
import time

import httpx

from tests.support.api import BREST, GUICHEN, RENNES, LiveServer, bearer, report_in


def _collect(url: str, headers: dict, into: list, ready: threading.Event, stop: threading.Event) -> None:
    try:
        _read(url, headers, into, ready, stop)
    except httpx.TransportError:
        if not stop.is_set():
            raise


def _read(url: str, headers: dict, into: list, ready: threading.Event, stop: threading.Event) -> None:
    with httpx.Client(timeout=httpx.Timeout(5, read=30)) as client, client.stream("GET", url, headers=headers) as r:
        assert r.status_code == 200
        event = None
        for line in r.iter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                if event == "hello":
                    ready.set()
                else:
                    into.append((event, json.loads(line[6:]), time.monotonic()))
            if stop.is_set():
                return


def test_changes_reach_the_clients_of_their_territory_within_a_second(services):
    # Case events only: the alerts those new cases raise also go out on the stream (tests/e2e/test_alerts.py).
    with LiveServer(services, alerting=False) as server:
        nexsis = bearer(server.config, "nexsis", "national:FR")
        clients = {
            "mayor-rennes": bearer(server.config, "mayor", "commune:35238"),
            "sdis-35": bearer(server.config, "sdis", "departement:35"),
            "zone-ouest": bearer(server.config, "zone", "zone:ouest"),
            "mayor-brest": bearer(server.config, "mayor", "commune:29019"),
        }
        received: dict[str, list] = {name: [] for name in clients}
        stop = threading.Event()
        threads = []
        for name, headers in clients.items():
            ready = threading.Event()
            t = threading.Thread(target=_collect, daemon=True,
                                 args=(server.url + "/api/v1/stream", headers, received[name], ready, stop))
            t.start()
            assert ready.wait(10), name
            threads.append(t)

        sent = {}
        with httpx.Client(base_url=server.url, headers=nexsis) as client:
            for insee, case_id in ((RENNES, "fr.fire.live.rennes"), (GUICHEN, "fr.fire.live.guichen"),
                                   (BREST, "fr.fire.live.brest")):
                raw = report_in(services.geography, insee, case_id)
                sent[case_id] = time.monotonic()
                response = client.post("/api/v1/messages", content=raw, headers={"content-type": "application/json"})
                assert response.headers["x-tocsin-outcome"] == "accepted"

        expected = {
            "mayor-rennes": {"fr.fire.live.rennes"},
            "sdis-35": {"fr.fire.live.rennes", "fr.fire.live.guichen"},
            "zone-ouest": {"fr.fire.live.rennes", "fr.fire.live.guichen", "fr.fire.live.brest"},
            "mayor-brest": {"fr.fire.live.brest"},
        }
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(
            {d["case_id"] for _, d, _ in received[n]} != expected[n] for n in clients
        ):
            time.sleep(0.05)
        time.sleep(0.5)  # anything that should not come has had time to come
        stop.set()
        for name in clients:
            got = {d["case_id"] for _, d, _ in received[name]}
            assert got == expected[name], name
            for event, data, at in received[name]:
                assert event == "case" and "personal" not in data
                assert at - sent[data["case_id"]] < 1.0, (name, data["case_id"], at - sent[data["case_id"]])
