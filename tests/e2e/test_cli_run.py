"""`tocsin run`, the main job: a crisis published to NATS, ingested live, views folded, app served."""

from __future__ import annotations

import json
import signal
import subprocess

import httpx

from adapters.embedded import free_port
from api.auth import AuthConfig
from tests.support.nats_harness import ROOT, environment, run_tocsin, tocsin_command, wait_until


def test_run_serves_a_crisis_that_is_still_arriving(nats_settings, tmp_path):
    port, size = free_port(), 300
    log = open(tmp_path / "run.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(tocsin_command("run", "--size", str(size), "--seed", "8", "--port", str(port)),
                               cwd=ROOT, env=environment(nats_settings), stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        try:
            return httpx.get(base + "/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return process.poll() is not None

    try:
        wait_until(answers, 60, "the app to answer")
        assert process.poll() is None, (tmp_path / "run.log").read_text()
        token = AuthConfig.from_env(nats_settings).mint("national", "national:FR")
        headers = {"Authorization": f"Bearer {token}"}

        def view() -> dict:
            return httpx.get(base + "/api/v1/views/national/FR", headers=headers, timeout=5).json()

        wait_until(lambda: view()["cases_total"] > 0, 60, "the views to show the crisis")
        def stream() -> dict:
            return json.loads(run_tocsin(nats_settings, "status", "--json").stdout)["nats"]

        wait_until(lambda: (s := stream())["last_seq"] >= 0.8 * size and s["lag"] == 0, 60,
                   "the ingester to catch up with what was published", interval=1)
        # The crisis ends 20 minutes from now: its last messages are published at their sent time.
        state = stream()
        assert 0.8 * size <= state["last_seq"] < size and state["position"] == state["last_seq"], state
        assert view()["cases_total"] > 10
    finally:
        process.send_signal(signal.SIGTERM)  # as a service manager stops it: a clean stop, exit 0
        returncode = process.wait(30)
        log.close()
    assert returncode == 0, (tmp_path / "run.log").read_text()
