"""Alerts: from a NexSIS message committed to the email accepted by an SMTP server, at a steady rate.

Simulated storm traffic (adapters.simulator; its new cases, a few percent of the messages, raise
alerts) is ingested at a steady rate in batches by a process of its own (as `tocsin ingest` runs), while
the alert policy and the dispatcher follow the store in their own threads, as `tocsin serve` runs them,
and mail to a real SMTP server (aiosmtpd) on 127.0.0.1. The delay of each email is the SMTP server's
acceptance minus the recording time of the event that decided the alert (both from this machine's clock).
The ingesting process is plain `Ingestor.ingest_batch` (no preparing workers): on a loaded 2-core machine
it may not reach the rate asked, and the rate achieved is printed beside it. In the same run, the CPU each thread spends
(its own thread_time): ingestion per message (the baseline), the policy per message it reads (the cost
of the policies on ingestion), the dispatcher per email. Median of 3 runs for each figure.

Run: `python -m tests.benchmarks.bench_alerts [messages] [--rate R]`.
Database: as the other benches (tests.benchmarks.database_url).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from email import message_from_bytes
from pathlib import Path
from typing import Any

import psycopg
from aiosmtpd.controller import Controller
from psycopg.sql import SQL, Identifier

from tests.benchmarks import cpu_pace, database_url, fmt

GOAL_P99_SECONDS = 2.0


@dataclass
class _Mailbox:
    accepted: dict[str, float] = field(default_factory=dict)  # Message-ID -> epoch seconds

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        message = message_from_bytes(envelope.content)
        self.accepted[str(message["Message-ID"])] = time.time()
        return "250 OK"


class _Everyone:
    """One person to reach per organisation (a bench stand-in for the directory)."""

    def people_to_reach(self, organisation_id: str, at: datetime) -> list:
        from domain.recipients import Contact

        return [Contact(f"astreinte.{organisation_id}", "Astreinte", organisation_id,
                        email=f"astreinte@{organisation_id}.bench.test")]

    def everyone(self, organisation_id: str, at: datetime) -> list:
        return self.people_to_reach(organisation_id, at)

    def contact(self, person_id: str) -> Any:
        organisation_id = person_id.removeprefix("astreinte.")
        return self.people_to_reach(organisation_id, datetime.now())[0]


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_once(messages: list, rate: int, batch: int = 200) -> dict[str, Any]:
    from adapters.notify import alert_store
    from adapters.notify.dispatch import Dispatcher, channels_from
    from adapters.notify.email_body import message_id
    from adapters.notify.policy import AlertPolicy
    from adapters.services import open_services
    from adapters.settings import Settings

    mailbox = _Mailbox()
    port = _free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    schema = "bench_alerts_" + uuid.uuid4().hex[:8]
    url = database_url()
    with tempfile.TemporaryDirectory() as data_dir:
        settings = Settings(database_url=url, data_dir=Path(data_dir), schema=schema,
                            smtp_url=f"smtp://127.0.0.1:{port}", public_url="https://tocsin.bench.test")
        services = open_services(settings)
        recipients = _Everyone()
        stop = threading.Event()
        cpu: dict[str, float] = {"policy": 0.0, "dispatch": 0.0}
        read = {"policy": 0}
        try:
            policy = AlertPolicy(services.store, services.geography, recipients)
            dispatcher = Dispatcher(services.store, recipients, channels_from(settings))

            def follow_policy() -> None:
                began = time.thread_time()
                while not stop.is_set():
                    n = policy.step()
                    read["policy"] += n
                    if not n:
                        time.sleep(0.01)
                cpu["policy"] = time.thread_time() - began

            def follow_dispatch() -> None:
                began = time.thread_time()
                while not stop.is_set():
                    if not dispatcher.step():
                        time.sleep(0.01)
                cpu["dispatch"] = time.thread_time() - began

            threads = [threading.Thread(target=follow_policy), threading.Thread(target=follow_dispatch)]
            for t in threads:
                t.start()
            # Ingestion in a process of its own, as `tocsin ingest` runs beside `tocsin serve`.
            context = multiprocessing.get_context("spawn")
            results = context.Queue()
            ingester = context.Process(target=_ingest, args=(settings, messages, rate, batch, results))
            ingester.start()
            ingest_cpu, ingest_wall = results.get(timeout=600)
            ingester.join(30)
            # Let the threads finish what was decided (or give up after a while: said in the figures).
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                alerts = alert_store.recent_alerts(services.store, 100_000)
                if len(mailbox.accepted) >= len(alerts) and policy.stored_position() >= _head(services):
                    break
                time.sleep(0.2)
            stop.set()
            for t in threads:
                t.join(30)
            alerts = alert_store.recent_alerts(services.store, 100_000)
            delays = []
            for alert in alerts:
                recorded = datetime.fromisoformat(alert.trigger["recorded_at"]).timestamp()
                for person in alert.recipients:
                    from domain.recipients import Contact

                    ref = message_id(alert, Contact(person["person_id"], person["name"], person["organisation_id"]))
                    if ref in mailbox.accepted:
                        delays.append(mailbox.accepted[ref] - recorded)
            policy.close()
            dispatcher.close()
        finally:
            services.close()
            controller.stop()
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(Identifier(schema)))
    delays.sort()
    return {
        "messages": len(messages), "rate_achieved": len(messages) / ingest_wall, "alerts": len(alerts),
        "emails": len(delays),
        "delay_p50_s": statistics.median(delays) if delays else None,
        "delay_p99_s": delays[min(len(delays) - 1, int(len(delays) * 0.99))] if delays else None,
        "ingest_cpu_us_per_message": ingest_cpu / len(messages) * 1e6,
        "policy_cpu_us_per_message": cpu["policy"] / max(read["policy"], 1) * 1e6,
        "dispatch_cpu_ms_per_email": cpu["dispatch"] / max(len(delays), 1) * 1e3,
        "alerts_per_second": len(alerts) / ingest_wall,
    }


def _ingest(settings: Any, messages: list, rate: int, batch: int, results: Any) -> None:
    """Ingest the messages at a steady rate, in batches; put (CPU seconds of this thread, wall seconds)."""
    from adapters.ingest.ingestion import Incoming
    from adapters.services import open_services

    services = open_services(settings)
    cpu = 0.0
    began = time.perf_counter()
    for i in range(0, len(messages), batch):
        pause = began + i / rate - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
        chunk = [Incoming(m.raw, m.content_type, "bench") for m in messages[i:i + batch]]
        t0 = time.thread_time()
        services.ingestor.ingest_batch(chunk)
        cpu += time.thread_time() - t0
    wall = time.perf_counter() - began
    services.close()
    results.put((cpu, wall))


def _head(services) -> int:
    return services.store.recorder.max_notification_id() or 0


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="bench_alerts")
    parser.add_argument("messages", nargs="?", type=int, default=5000)
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args([] if argv is None else argv)
    from adapters.simulator.timeline import simulate

    pace_before = cpu_pace()
    runs = []
    for seed in range(1, args.runs + 1):
        messages = list(simulate("storm", size=args.messages, seed=seed))
        runs.append(run_once(messages, args.rate))
    med = {k: statistics.median(r[k] for r in runs if r[k] is not None) for k in runs[0]
           if any(r[k] is not None for r in runs)}
    pace_after = cpu_pace()
    print(f"   {fmt(med['messages'])} messages NexSIS à {fmt(med['rate_achieved'])} msg/s (visé : {fmt(args.rate)}) ;"
          f" {fmt(med['alerts'])} alertes décidées, {fmt(med['emails'])} courriels acceptés par le serveur SMTP"
          f" (médianes de {len(runs)} passes)", flush=True)
    if "delay_p50_s" in med:
        print(f"   message enregistré → courriel accepté : médiane {med['delay_p50_s'] * 1000:.0f} ms,"
              f" 99e centile {med['delay_p99_s'] * 1000:.0f} ms (objectif p99 < {GOAL_P99_SECONDS:.0f} s :"
              f" {'atteint' if med['delay_p99_s'] < GOAL_P99_SECONDS else 'NON atteint'})", flush=True)
    with_policies = med["ingest_cpu_us_per_message"] + med["policy_cpu_us_per_message"]
    print(f"   CPU par message : ingestion seule {med['ingest_cpu_us_per_message']:.0f} µs, avec les règles d'alerte"
          f" {with_policies:.0f} µs (règles : {med['policy_cpu_us_per_message']:.0f} µs) ; envoi :"
          f" {med['dispatch_cpu_ms_per_email']:.1f} ms de CPU par courriel ; {med['alerts_per_second']:.1f} alertes/s",
          flush=True)
    print(f"   (charge de la machine : {os.getloadavg()[0]:.1f} ; étalon CPU : {pace_before:.2f} s avant,"
          f" {pace_after:.2f} s après ; voir tests.benchmarks.cpu_pace)", flush=True)
    return {"runs": runs, "median": med, "cpu_pace_seconds": [round(pace_before, 3), round(pace_after, 3)]}


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
