"""Operability, end to end: real `tocsin serve` and `tocsin ingest --nats` processes ingest a simulated crisis
(NATS and HTTP, duplicates and refused messages included), then their /metrics, read with Prometheus's own
text-format parser, must agree with `tocsin status`; their probes answer; their JSON logs carry every line
(the HTTP server's too) and none of the callers' names or phone numbers the simulator put in the messages."""

from __future__ import annotations

import json
import signal
import subprocess
from collections import defaultdict
from pathlib import Path
from urllib.parse import unquote_plus

import httpx
import orjson
from prometheus_client.parser import text_string_to_metric_families

from adapters.cisu import parse_wire_message
from adapters.embedded import free_port
from api.auth import AuthConfig
from projections.registry import VIEWS
from tests.support.nats_harness import (
    ROOT,
    environment,
    publish,
    run_tocsin,
    simulated,
    stop,
    tocsin_command,
    wait_until,
)

METRICS_TOKEN = "scrape-token-for-the-test"


def samples(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    """Each sample's name -> [(labels, value)], by the reference parser."""
    found: dict[str, list[tuple[dict[str, str], float]]] = defaultdict(list)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[sample.name].append((sample.labels, sample.value))
    return found


def total(found: dict, metric: str, /, **labels: str) -> float:
    return sum(value for have, value in found.get(metric, []) if all(have.get(k) == v for k, v in labels.items()))


def people_in(messages) -> set[str]:
    """The callers' and victims' full names and phone numbers the simulator wrote in these messages."""
    people: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            name = node.get("detailedName")
            if isinstance(name, dict) and name.get("complete"):
                people.add(name["complete"])
            contact = node.get("callerContact")
            if isinstance(contact, dict) and contact.get("detail"):
                people.add(contact["detail"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for m in messages:
        walk(parse_wire_message(m.raw, m.content_type).use_case)
    return people


def refused_with_a_name(message) -> bytes:
    """A JSON message made invalid by putting its caller's name where a code is expected: refused, and kept
    in quarantine with the name in it; what is logged of it must be its codes and paths, not its content."""
    document = orjson.loads(message.raw)

    def spoil(node: object) -> bool:
        if isinstance(node, dict):
            if isinstance(node.get("callerContact"), dict) and isinstance(node.get("detailedName"), dict):
                node["callerContact"]["channel"] = node["detailedName"]["complete"]
                return True
            return any(spoil(v) for v in node.values())
        if isinstance(node, list):
            return any(spoil(v) for v in node)
        return False

    assert spoil(document)
    return orjson.dumps(document)


def json_lines(path: Path) -> list[dict]:
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [json.loads(line) for line in lines]  # fails on any line that is not one JSON object


def test_metrics_agree_with_status_and_logs_hold_no_personal_data(nats_settings, tmp_path):
    settings = nats_settings
    by_nats, by_http = simulated(150, seed=31), simulated(40, seed=32)
    json_messages = [m for m in (*by_nats, *by_http)
                     if m.content_type == "application/json" and b"callerContact" in m.raw]
    refused = [refused_with_a_name(m) for m in json_messages[:3]]
    people = people_in((*by_nats, *by_http))
    # Names and phone numbers: what must not leak (a case's first message names its caller).
    assert sum(p[0].isdigit() or p[0] == "+" for p in people) > 10 and sum(p[0].isalpha() for p in people) > 10

    api_port, ingester_port = free_port(), free_port()
    env = {**environment(settings), "TOCSIN_LOG_FORMAT": "json", "TOCSIN_LOG_LEVEL": "INFO",
           "TOCSIN_METRICS_TOKEN": METRICS_TOKEN}
    api_log, ingester_log = tmp_path / "api.log", tmp_path / "ingester.log"  # their logs: all of stderr
    with open(api_log, "wb") as api_out, open(ingester_log, "wb") as ingester_out:
        api = subprocess.Popen(tocsin_command("serve", "--port", str(api_port)), cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=api_out)
        ingester = subprocess.Popen(tocsin_command("ingest", "--nats"), cwd=ROOT,
                                    env={**env, "TOCSIN_METRICS_PORT": str(ingester_port)},
                                    stdout=subprocess.DEVNULL, stderr=ingester_out)
        base, exporter = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{ingester_port}"
        scrape = {"Authorization": f"Bearer {METRICS_TOKEN}"}
        try:
            def up(url: str) -> bool:
                try:
                    return httpx.get(url, timeout=1).status_code == 200
                except httpx.HTTPError:
                    alive = api.poll() is None and ingester.poll() is None
                    assert alive, api_log.read_text() + ingester_log.read_text()
                    return False

            wait_until(lambda: up(base + "/healthz") and up(exporter + "/healthz"), 60, "both processes to answer")

            publish(settings, [*by_nats, *((raw, "application/json") for raw in refused[:2])])
            nexsis = AuthConfig.from_env(settings).mint("nexsis", "national:FR")
            with httpx.Client(base_url=base, timeout=30) as client:
                post = {"Authorization": f"Bearer {nexsis}"}
                for m in (*by_http, by_http[0], by_http[1]):  # the last two again: duplicates
                    client.post("/api/v1/messages", content=m.raw, headers={"content-type": m.content_type, **post})
                client.post("/api/v1/messages", content=refused[2],
                            headers={"content-type": "application/json", **post})
                # A query string that names someone: the access log keeps the path only.
                client.get("/healthz", params={"caller": sorted(people)[0]})

                def status() -> dict:
                    return json.loads(run_tocsin(settings, "status", "--json").stdout)

                wait_until(lambda: (s := status())["nats"]["lag"] == 0 and s["nats"]["position"] > 0, 120,
                           "the ingester to catch up", interval=1)
                state = status()
                head = state["messages"]  # NexSIS messages; "events" also counts the directory seed and alerts

                def api_metrics() -> dict:
                    response = client.get("/metrics", headers=scrape)
                    assert response.status_code == 200, response.text
                    return samples(response.text)

                wait_until(lambda: all(total(api_metrics(), "tocsin_view_position", view=v.name) >= head
                                       and total(api_metrics(), "tocsin_view_lag_events", view=v.name) == 0
                                       for v in VIEWS), 120, "the views to catch up", interval=0.5)
                from_api = api_metrics()
                from_ingester = samples(httpx.get(exporter + "/metrics", headers=scrape, timeout=5).text)

                # The counters, added over the two processes that ingested, are what the store holds.
                def both(metric: str, /, **labels: str) -> float:
                    return total(from_api, metric, **labels) + total(from_ingester, metric, **labels)

                assert both("tocsin_messages_total", outcome="accepted") == head == both("tocsin_events_stored_total")
                assert both("tocsin_messages_total", outcome="quarantined") == state["quarantined"] >= 3
                assert total(from_api, "tocsin_messages_total", outcome="duplicate") == 2
                assert total(from_ingester, "tocsin_messages_total") == len(by_nats) + 2
                assert total(from_api, "tocsin_messages_total") == len(by_http) + 3
                assert both("tocsin_quarantine_reasons_total") >= state["quarantined"]
                assert all(labels["kind"] for labels, _ in from_api["tocsin_messages_total"])
                assert both("tocsin_ingest_commit_seconds_count") > 0

                stream = settings.nats_stream
                assert total(from_ingester, "tocsin_ingest_lag_messages", stream=stream) == 0
                assert total(from_ingester, "tocsin_leader", kind="stream", name=stream) == 1
                for view in VIEWS:
                    assert total(from_api, "tocsin_leader", kind="view", name=view.name) == 1
                assert total(from_api, "tocsin_db_pool_connections", pool="store", state="open") >= 1
                assert from_api["tocsin_messages_last_received_timestamp_seconds"][0][1] > 0

                # Requests by route template and status; never a path with its ids.
                national = {"Authorization": f"Bearer {AuthConfig.from_env(settings).mint('national', 'national:FR')}"}
                case_id = client.get("/api/v1/cases", headers=national).json()["items"][0]["case_id"]
                assert client.get(f"/api/v1/cases/{case_id}", headers=national).status_code == 200
                client.get("/no/such/page")
                after = api_metrics()
                posted = total(after, "tocsin_http_requests_total", method="POST", route="/api/v1/messages")
                assert posted == len(by_http) + 3
                timed = total(after, "tocsin_http_request_seconds_count", method="POST", route="/api/v1/messages")
                assert timed == posted
                assert total(after, "tocsin_http_requests_total", route="unmatched", status="404") == 1
                routes = {labels["route"] for labels, _ in after["tocsin_http_requests_total"]}
                assert "/api/v1/cases/{case_id}" in routes
                assert not any(case_id in r for r in routes)

                # /metrics asks for its token; the probes answer.
                assert client.get("/metrics").status_code == 401
                assert httpx.get(exporter + "/metrics", timeout=5).status_code == 401
                assert client.get("/readyz").json()["status"] == "ready"
                assert httpx.get(exporter + "/readyz", timeout=5).json() == {"status": "ready"}
        finally:
            returncodes = stop(api), stop(ingester)
    assert returncodes == (0, 0), api_log.read_text() + ingester_log.read_text()

    # Every line is one JSON object with the fields an operator filters on, the HTTP server's lines too.
    api_lines, ingester_lines = json_lines(api_log), json_lines(ingester_log)
    for line in (*api_lines, *ingester_lines):
        assert {"timestamp", "level", "process", "logger", "event"} <= line.keys(), line
    assert {line["process"] for line in api_lines} == {"api"}
    assert {line["process"] for line in ingester_lines} == {"ingester"}
    access = [line for line in api_lines if line["logger"] == "uvicorn.access"]
    assert any(line.get("http_path") == "/api/v1/messages" for line in access)
    assert any(line["logger"] == "uvicorn.error" for line in api_lines)
    quarantined = [line for line in (*api_lines, *ingester_lines) if line["event"].startswith("message quarantined")]
    assert len(quarantined) == 3 and all(line.get("distribution_id") for line in quarantined)

    # And no name, no phone number of anyone the crisis involved.
    written = api_log.read_text(encoding="utf-8") + ingester_log.read_text(encoding="utf-8")
    decoded = json.dumps([*api_lines, *ingester_lines], ensure_ascii=False)
    decoded += unquote_plus(decoded)  # as it would be in a URL
    leaked = sorted(p for p in people if p in written or p in decoded)
    assert not leaked, f"personal data in the logs: {leaked[:5]}"


def test_a_stopped_ingester_exits_its_metrics_port(nats_settings):
    """The exporter goes with the process: nothing keeps answering for a dead ingester."""
    port = free_port()
    env = {**environment(nats_settings), "TOCSIN_METRICS_PORT": str(port)}
    process = subprocess.Popen(tocsin_command("ingest", "--nats"), cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/metrics"

    def answers() -> bool:
        try:
            return httpx.get(url, timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(answers, 60, "the ingester's metrics port")
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
    assert not answers()


def test_several_server_processes_answer_one_sum(nats_settings):
    """`tocsin serve --workers 2`: whichever server process answers /metrics, it counts what both did; the
    projection worker, in the parent process, has its own port."""
    settings = nats_settings
    port, worker_port = free_port(), free_port()
    env = {**environment(settings), "TOCSIN_METRICS_PORT": str(worker_port)}
    process = subprocess.Popen(tocsin_command("serve", "--workers", "2", "--port", str(port)), cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    messages = simulated(30, seed=33)
    try:
        def answers() -> bool:
            try:
                return httpx.get(base + "/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                assert process.poll() is None
                return False

        wait_until(answers, 60, "the servers to answer")
        nexsis = AuthConfig.from_env(settings).mint("nexsis", "national:FR")
        for m in messages:  # new connections: the kernel spreads them over both servers
            httpx.post(base + "/api/v1/messages", content=m.raw, timeout=30,
                       headers={"content-type": m.content_type, "Authorization": f"Bearer {nexsis}"})
        for _ in range(8):
            found = samples(httpx.get(base + "/metrics", timeout=5).text)
            assert total(found, "tocsin_messages_total") == len(messages)
            assert total(found, "tocsin_http_requests_total", method="POST", route="/api/v1/messages") == len(messages)
        head = json.loads(run_tocsin(settings, "status", "--json").stdout)["events"]

        def folded() -> bool:
            views = samples(httpx.get(f"http://127.0.0.1:{worker_port}/metrics", timeout=5).text)
            return all(total(views, "tocsin_view_position", view=v.name) >= head for v in VIEWS)

        wait_until(folded, 60, "the parent's worker to report the views")
    finally:
        process.send_signal(signal.SIGTERM)
        returncode = process.wait(30)
    assert returncode == 0
    assert not any((settings.data_dir / "run").iterdir())  # the servers' metrics folder goes with them


def test_live_streams_are_counted_while_open(services):
    """tocsin_live_streams_open: one more while a client listens, one less once it has gone."""
    from tests.support.api import LiveServer, bearer

    def open_streams(server: LiveServer) -> float:
        return total(samples(httpx.get(server.url + "/metrics", timeout=5).text), "tocsin_live_streams_open")

    with LiveServer(services) as server:
        before = open_streams(server)
        headers = bearer(server.config, "mayor", "commune:35238")
        with httpx.Client(timeout=httpx.Timeout(5, read=30)) as client:
            with client.stream("GET", server.url + "/api/v1/stream", headers=headers) as stream:
                assert stream.status_code == 200
                lines = stream.iter_lines()  # kept: a line iterator let go closes the response
                while next(lines) != "event: hello":
                    pass
                assert open_streams(server) == before + 1
        wait_until(lambda: open_streams(server) == before, 10, "the stream to be counted as closed")
