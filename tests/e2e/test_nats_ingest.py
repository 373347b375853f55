"""Ingestion from NATS JetStream into the real store: exactly once, positioned, poison-proof; and its CLI."""

from __future__ import annotations

import asyncio
import json
import signal
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
import pytest
import typer
from psycopg.sql import SQL, Identifier
from typer.testing import CliRunner

from adapters.nats.ingester import IngestSummary, NatsIngester
from adapters.services import open_services
from tests.support.nats_harness import (
    assert_exactly_once,
    delete_stream,
    distinct_ids,
    environment,
    printed_json,
    publish,
    run_async,
    run_tocsin,
    simulated,
    start_ingester,
    stop,
    stored,
    wait_until,
)
from tests.support.sql import first_row
from tests.support.wire import as_json, example, wire

INVALID = [(b'{"distributionID": "fr.fire.sis35_x", "content": []}', "application/json"), (b"<broken", None)]


def drain(settings, **options):
    services = open_services(settings)
    try:
        return run_async(NatsIngester(services, settings.nats_url, drain=True, **options).run())
    finally:
        services.close()


@pytest.mark.parametrize("workers", [None, 0], ids=["prepared-by-workers", "prepared-in-process"])
def test_drain_stores_every_message_once_and_the_stream_position_with_it(nats_settings, workers):
    messages = simulated(1500, seed=11)
    published = publish(nats_settings, [*messages[:700], *INVALID, *messages[700:]])

    summary = drain(nats_settings, batch_size=200, prepare_workers=workers)

    state = assert_exactly_once(nats_settings, distinct_ids(messages), quarantined=2)
    assert state["position"] == published == 1502
    duplicates = sum(m.is_duplicate for m in messages)
    assert summary.as_dict() | {"restarts": 0, "elapsed_s": 0, "messages_per_s": 0} == {
        "accepted": 1500 - duplicates, "duplicates": duplicates, "quarantined": 2, "poison": 0, "skipped": 0,
        "lost": 0, "position": 1502, "restarts": 0, "rereads": 0, "elapsed_s": 0, "messages_per_s": 0,
    }
    # Restarted, it resumes after the stored position: nothing is read again.
    again = drain(nats_settings)
    assert (again.counts["accepted"], again.counts["duplicate"], again.position) == (0, 0, 1502)


def test_messages_published_twice_are_stored_once(nats_settings):
    messages = simulated(600, seed=12)
    publish(nats_settings, messages)
    publish(nats_settings, messages)

    summary = drain(nats_settings)

    assert_exactly_once(nats_settings, distinct_ids(messages))
    assert summary.counts["duplicate"] == 600 + sum(m.is_duplicate for m in messages)
    assert stored(nats_settings)["position"] == 1200


def test_a_poison_message_is_retried_then_quarantined_and_the_stream_goes_on(nats_settings):
    # A real failure that is not a validation one: the database itself refuses this message.
    open_services(nats_settings).close()  # creates the schema's tables
    with psycopg.connect(nats_settings.database_url, autocommit=True) as conn:
        s = Identifier(nats_settings.schema)
        conn.execute(SQL(
            "CREATE FUNCTION {s}.refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$"
            " BEGIN RAISE EXCEPTION 'refusé par la base'; END $$"
        ).format(s=s))
        conn.execute(SQL(
            "CREATE TRIGGER refuse_poison BEFORE INSERT ON {s}.tocsin_messages FOR EACH ROW"
            " WHEN (NEW.distribution_id LIKE '%%poison%%') EXECUTE FUNCTION {s}.refuse_poison()"
        ).format(s=s))
    messages = simulated(600, seed=13)
    poison = as_json(wire(*example("RC-EDA/RC-EDA_Incendie_RaymondeLECCIA.01"), distribution_id="fr.fire.sis35_poison"))
    publish(nats_settings, [*messages[:250], (poison, "application/json"), *messages[250:]])

    summary = drain(nats_settings, batch_size=100)

    state = assert_exactly_once(nats_settings, distinct_ids(messages), quarantined=1)
    assert (state["poison"], state["position"], summary.counts["poison"]) == (1, 601, 1)
    with psycopg.connect(nats_settings.database_url) as conn:
        [reasons] = first_row(conn.execute(SQL("SELECT reasons FROM {}.tocsin_quarantine").format(s)))
    assert reasons[0]["code"] == "poison"
    # What failed and where, and the database's SQLSTATE (P0001: raised by a function), never the error's
    # own text, which may quote the message's values.
    assert "échec 3 fois" in reasons[0]["message"] and "SQLSTATE P0001" in reasons[0]["message"]
    assert "refusé par la base" not in reasons[0]["message"]


def _drop_from_stream(settings, *, before: int, sequences: list[int]) -> None:
    """What a stream's limits, a purge or an operator do: messages gone before anyone read them."""
    from adapters.nats.server import connect

    async def run() -> None:
        nc = await connect(settings.nats_url)
        try:
            js = nc.jetstream()
            await js.purge_stream(settings.nats_stream, seq=before)  # everything below `before`
            for seq in sequences:
                await js.delete_msg(settings.nats_stream, seq)
        finally:
            await nc.close()

    run_async(run())


def test_messages_gone_from_the_stream_before_ingestion_are_reported_once_and_never_silently(nats_settings, caplog):
    messages = simulated(60, seed=18)
    publish(nats_settings, messages[:20])
    drain(nats_settings)
    publish(nats_settings, messages[20:])
    _drop_from_stream(nats_settings, before=24, sequences=[31, 32, 33, 34, 35, 59, 60])
    kept = [m for seq, m in enumerate(messages, start=1) if seq <= 20 or 24 <= seq <= 58 and not 31 <= seq <= 35]

    with caplog.at_level("ERROR", logger="adapters.nats.ingester"):
        summary = drain(nats_settings, batch_size=8)

    assert_exactly_once(nats_settings, distinct_ids(kept))
    assert summary.counts["lost"] == 3 + 5 + 2
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert [e.split(" were gone")[0] for e in errors] == [
        f"stream {nats_settings.nats_stream}: sequences 21 to 23 (3 messages)",
        f"stream {nats_settings.nats_stream}: sequences 31 to 35 (5 messages)",
        f"stream {nats_settings.nats_stream}: sequences 59 to 60 (2 messages)",
    ]
    # Found again on the next run (the stream's end is still missing): recorded and reported once.
    caplog.clear()
    again = drain(nats_settings)
    assert again.counts["lost"] == 0 and not [r for r in caplog.records if r.levelname == "ERROR"]
    status = json.loads(run_tocsin(nats_settings, "status", "--json").stdout)
    assert status["nats"]["lost"]["messages"] == 10
    assert [(g["first_seq"], g["last_seq"]) for g in status["nats"]["lost"]["gaps"]] == [(59, 60), (31, 35), (21, 23)]
    text = run_tocsin(nats_settings, "status").stdout
    assert "Messages absents du flux avant leur ingestion, perdus pour Tocsin : 10" in text
    assert "n° 31 à 35 (5 messages, constaté le " in text


def test_messages_another_reader_took_are_read_again_not_called_lost(nats_settings):
    """An ingester whose lock ended with a PostgreSQL primary pulls from the same durable consumer until its next
    commit check (bench_cluster found such messages recorded lost after a failover). What it took is still in the
    stream: the leader reads it again from the stored position instead of recording a loss."""
    from adapters.nats.server import connect
    from adapters.nats.stream import consumer_name

    messages = simulated(400, seed=29)
    publish(nats_settings, messages)
    services = open_services(nats_settings)
    ingester = NatsIngester(services, nats_settings.nats_url, drain=True, batch_size=8, prepare_workers=0)
    taken: list[int] = []

    async def other_reader() -> None:
        nc = await connect(nats_settings.nats_url)
        try:
            js = nc.jetstream()
            while True:  # the consumer the ingester creates
                try:
                    await js.consumer_info(nats_settings.nats_stream, consumer_name(nats_settings))
                    break
                except Exception:  # noqa: BLE001 - not created yet
                    await asyncio.sleep(0.01)
            sub = await js.pull_subscribe_bind(consumer_name(nats_settings), nats_settings.nats_stream)
            for msg in await sub.fetch(10, timeout=5):  # taken, never acknowledged, never stored
                taken.append(msg.metadata.sequence.stream)
        finally:
            await nc.close()

    async def both() -> IngestSummary:
        summary, _ = await asyncio.gather(ingester.run(), other_reader())
        return summary

    try:
        summary = run_async(both())
    finally:
        services.close()
    assert taken and max(taken) < len(messages)  # it took some from the middle of the stream
    assert summary.counts["lost"] == 0 and summary.restarts >= 1
    assert_exactly_once(nats_settings, distinct_ids(messages))


def test_a_first_reading_starts_where_the_stream_starts_without_calling_older_messages_lost(nats_settings, caplog):
    messages = simulated(30, seed=23)
    publish(nats_settings, messages)
    _drop_from_stream(nats_settings, before=11, sequences=[])  # gone before this store ever read the stream

    with caplog.at_level("WARNING", logger="adapters.nats.ingester"):
        summary = drain(nats_settings)

    assert_exactly_once(nats_settings, distinct_ids(messages[10:]))
    assert summary.counts["lost"] == 0 and summary.position == 30
    assert "first reading of stream" in caplog.text and "from sequence 11" in caplog.text
    assert json.loads(run_tocsin(nats_settings, "status", "--json").stdout)["nats"]["lost"]["messages"] == 0


def test_a_stream_recreated_shorter_is_read_again_from_its_start(nats_settings, caplog):
    before, after = simulated(30, seed=19), simulated(20, seed=20)
    publish(nats_settings, before)
    drain(nats_settings)
    delete_stream(nats_settings)  # NATS' data lost, the stream recreated: it numbers from 1 again
    publish(nats_settings, after)
    status = run_tocsin(nats_settings, "status").stdout
    assert "retard 20 messages" in status and "l'ingestion le relira depuis son début" in status

    with caplog.at_level("ERROR", logger="adapters.nats.ingester"):
        summary = drain(nats_settings)

    assert_exactly_once(nats_settings, distinct_ids(before) | distinct_ids(after))
    assert summary.rereads == 1 and summary.position == 20
    assert "ne va plus que jusqu'au n° 20, l'ingestion en était au n° 30" in caplog.text


def test_a_stream_that_numbered_new_messages_again_is_read_again_without_duplicates(nats_settings):
    # Its last messages lost in a crash, then new ones published under their sequences: at the stored
    # position the stream now holds another message. Its first ones have expired since they were read.
    old, new = simulated(30, seed=21), simulated(10, seed=22)
    publish(nats_settings, old)
    drain(nats_settings)
    delete_stream(nats_settings)
    publish(nats_settings, [*old[:25], *new])
    _drop_from_stream(nats_settings, before=6, sequences=[])

    summary = drain(nats_settings)

    assert_exactly_once(nats_settings, distinct_ids(old) | distinct_ids(new))
    assert summary.rereads == 1 and summary.position == 35
    assert summary.counts["accepted"] == len(distinct_ids(new)) and summary.counts["lost"] == 0
    # Read as it is now, the stream is not read again on the next start.
    assert drain(nats_settings).rereads == 0


def test_simulate_ingest_and_status_from_the_command_line(nats_settings):
    published = run_tocsin(nats_settings, "simulate", "--nats", "--size", "400", "--seed", "14")
    assert "400 messages publiés" in published.stdout

    summary = json.loads(run_tocsin(nats_settings, "ingest", "--nats", "--drain", "--json").stdout)
    duplicates = sum(m.is_duplicate for m in simulated(400, seed=14))
    assert (summary["accepted"], summary["duplicates"], summary["quarantined"], summary["position"]) == (
        400 - duplicates, duplicates, 0, 400,
    )
    run_tocsin(nats_settings, "simulate", "--nats", "--size", "50", "--seed", "15")
    status = json.loads(run_tocsin(nats_settings, "status", "--json").stdout)
    assert status["events"] == 400 - duplicates
    last_batch = max(datetime.fromisoformat(p["updated_at"]) for p in status["positions"])  # its transaction's start
    assert last_batch <= datetime.fromisoformat(status["last_received"]) < last_batch + timedelta(seconds=5)
    assert status["nats"] | {"consumer": None} == {
        "stream": nats_settings.nats_stream, "subject": nats_settings.nats_subject, "exists": True,
        "position": 400, "last_seq": 450, "messages": 450, "lag": 50, "consumer": None,
        "unlike_what_was_read": None, "lost": {"messages": 0, "gaps": []},
    }
    text = run_tocsin(nats_settings, "status").stdout
    assert "position d'ingestion 400, retard 50 messages" in text
    # In Paris time, stated, whatever the machine's zone (issue #22).
    paris = datetime.fromisoformat(status["last_received"]).astimezone(ZoneInfo("Europe/Paris"))
    assert f"Dernier message NexSIS reçu : {paris:%d/%m/%Y %H:%M:%S} (heure de Paris)" in text


def test_sigterm_lets_a_running_ingester_finish_its_batch_and_stop(nats_settings, tmp_path):
    ingester = start_ingester(nats_settings, "--json", log=tmp_path / "ingester.log")
    messages = simulated(800, seed=16)
    publish(nats_settings, messages)
    wait_until(lambda: stored(nats_settings)["position"] == 800, 60, "the ingester to catch up")

    assert stop(ingester, signal.SIGTERM, timeout=15) == 0
    assert printed_json((tmp_path / "ingester.log").read_text())["position"] == 800
    assert_exactly_once(nats_settings, distinct_ids(messages))


def test_registered_commands_keep_the_file_ingestion_and_its_json_counts(nats_settings, tmp_path):
    from api.cli import ingest as cli_nats

    app = typer.Typer()
    app.command("status")(lambda: None)  # an older command of the same name is replaced
    cli_nats.register(app)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for i in range(3):
        w = wire(*example("RC-EDA/RC-EDA_Incendie_RaymondeLECCIA.01"), distribution_id=f"fr.fire.sis35_{i:04d}")
        (inbox / f"{i}.json").write_bytes(as_json(w))
    (inbox / "copy.json").write_bytes((inbox / "0.json").read_bytes())
    (inbox / "broken.json").write_bytes(INVALID[0][0])

    result = CliRunner().invoke(app, ["ingest", str(inbox), "--json"], env=environment(nats_settings))

    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"accepted": 3, "duplicates": 1, "quarantined": 1}
    assert [c.name for c in app.registered_commands].count("status") == 1
    assert CliRunner().invoke(app, ["ingest"], env=environment(nats_settings)).exit_code != 0
