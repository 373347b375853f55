"""Issue #17, finding 5, end to end: a name and a phone number put in the wrong fields reach neither
the quarantine's clear columns nor the log; they stay only in the encrypted raw bytes."""

from __future__ import annotations

import logging

import pytest
from psycopg.sql import SQL

from adapters.ingest.ingestion import Incoming
from adapters.ingest.quarantine import get_entry
from tests.support.wire import as_json, as_xml, example, wire

NAME, PHONE = "Raymonde LECCIA", "0612345678"


@pytest.mark.parametrize("encoding", ["json", "xml"])
def test_personal_data_in_wrong_fields_stays_out_of_reasons_rows_and_log(services, caplog, encoding):
    kind, use_case = example("RC-EDA/RC-EDA_Incendie_RaymondeLECCIA.01")
    use_case["qualification"]["whatsHappen"]["code"] = NAME
    use_case["qualification"]["victims"]["count"] = PHONE
    use_case["location"]["city"]["inseeCode"] = PHONE
    w = wire(kind, use_case, distribution_id=f"fr.fire.sis35_privacy_{encoding}")
    raw = as_json(w) if encoding == "json" else as_xml(w)
    with caplog.at_level(logging.DEBUG):
        outcome = services.ingestor.ingest(Incoming(raw, f"application/{encoding}", "test"))
    assert outcome.status == "quarantined" and outcome.reasons
    with services.store.connect() as conn:
        row = conn.execute(SQL("SELECT reasons::text AS reasons, distribution_id, sender_id, source, content_type"
                               " FROM {} WHERE id = %s").format(services.store.table("tocsin_quarantine")),
                           (outcome.quarantine_id,)).fetchone()
    clear = " ".join(str(value) for value in row.values()) + str(outcome.reasons) + caplog.text
    assert "whatsHappen" in clear and "motif" in clear  # the field and the rule are named
    assert NAME not in clear and "LECCIA" not in clear and PHONE not in clear
    kept = get_entry(services.store, outcome.quarantine_id)
    assert kept is not None and kept[1] == raw  # the value is kept, encrypted
