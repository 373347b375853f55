"""Requests reach people through mobilisation: the email to the addressee's people (real directory, real
SMTP server) with a link to the request, the answer's email to the issuer's, and the overdue watch in the
dispatcher's loop, which records a request overdue once, even across a restart."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from adapters.alerting import recipients_for
from adapters.crisis import requests as use
from adapters.notify import alert_store
from adapters.notify.dispatch import Dispatcher, channels_from
from domain.directory import operator_principal
from domain.geography import Level
from tests.support.clock import Clock
from tests.support.directory_grants import Habilitated
from tests.support.smtp import smtp_server  # noqa: F401  (fixture)

MAIRE, CAB = "maire@rennes.test", "cab@ille-et-vilaine.test"


@pytest.fixture
def mailer(services, smtp_server):  # noqa: F811
    services.settings = replace(services.settings, smtp_url=smtp_server.url, public_url="https://tocsin.test")
    services.ensure_directory()
    people = Habilitated(services)
    people.grant("maire", MAIRE, "mayor", Level.COMMUNE, "35238", person="Nathalie Appéré")
    people.grant("cab", CAB, "prefecture", Level.DEPARTEMENT, "35", person="Cadre de permanence")
    return services


def acting_for(services, organisation_id: str):
    return operator_principal(services.directory.organisation(organisation_id), "test", services.geography)


def stored(services, request_id) -> use.Request:
    found = use.get_request(services.store, request_id)
    assert found is not None
    return found


def body(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def test_the_addressee_gets_an_email_with_a_link_and_the_issuer_the_answer(mailer, smtp_server):  # noqa: F811
    recipients = recipients_for(mailer)
    prefet, maire = acting_for(mailer, "prefecture.35"), acting_for(mailer, "mairie.35238")
    request = use.issue(mailer.store, mailer.directory, recipients, prefet, to="mairie.35238", kind="action",
                        text="Ouvrir le gymnase comme centre d'accueil", deadline="2H")
    with Dispatcher(mailer.store, recipients, channels_from(mailer.settings)) as dispatcher:
        dispatcher.step()
        [mail] = smtp_server.mailbox.to(MAIRE)
        text = body(mail)
        assert "Ouvrir le gymnase" in text and "Préfecture" in text
        assert f"https://tocsin.test/demandes?id={request.ref}" in text
        assert f"Demande : {request.ref} — échéance : " in text and "(Europe/Paris)" in text
        assert smtp_server.mailbox.to(CAB) == []

        use.answer(mailer.store, recipients, request.ref, maire, code="ACCEPTEE", comment="Ouvert à 20 h")
        dispatcher.step()
        [told] = smtp_server.mailbox.to(CAB)
        assert "acceptée" in body(told) and "Ouvert à 20 h" in body(told)


def test_an_overdue_request_is_recorded_once_and_both_parties_alerted_even_across_a_restart(mailer, smtp_server):  # noqa: F811
    recipients = recipients_for(mailer)
    prefet = acting_for(mailer, "prefecture.35")
    request = use.issue(mailer.store, mailer.directory, recipients, prefet, to="mairie.35238", kind="information",
                        text="Point de situation", deadline="30M")
    answered = use.issue(mailer.store, mailer.directory, recipients, prefet, to="mairie.35238",
                         kind="information", text="Autre point", deadline="30M")
    use.answer(mailer.store, recipients, answered.ref, acting_for(mailer, "mairie.35238"), code="ACCEPTEE")
    use.finish(mailer.store, recipients, answered.ref, acting_for(mailer, "mairie.35238"))
    clock = Clock()

    def dispatcher() -> Dispatcher:
        return Dispatcher(mailer.store, recipients, channels_from(mailer.settings), now=clock,
                          timers=[use.OverdueWatch(mailer.store, recipients)])

    with dispatcher() as d:
        while d.step():
            pass
        due = d.next_due()
        assert due is not None and due <= clock.at + timedelta(minutes=30)
        clock.at += timedelta(minutes=29)
        d.step()
        assert stored(mailer, request.id).overdue_for == []
        clock.at += timedelta(minutes=2)
        while d.step():
            pass
    late = stored(mailer, request.id)
    assert late.overdue and [h["act"] for h in late.history][-1] == "overdue"
    assert stored(mailer, answered.id).overdue_for == [], "done in time: never overdue"
    overdue_mails = [m for m in smtp_server.mailbox.received if "en retard" in body(m)]
    assert sorted(m["To"] for m in overdue_mails) == [CAB, MAIRE]

    clock.at += timedelta(hours=3)
    with dispatcher() as restarted:
        while restarted.step():
            pass
    assert len(stored(mailer, request.id).overdue_for) == 1
    assert len([m for m in smtp_server.mailbox.received if "en retard" in body(m)]) == 2
    subjects = [a.subject for a in alert_store.recent_alerts(mailer.store) if ":retard:" in a.subject]
    assert len(subjects) == 2


def test_requests_sent_at_once_by_one_organisation_take_distinct_numbers_in_order(mailer):
    from concurrent.futures import ThreadPoolExecutor

    recipients = recipients_for(mailer)
    prefet = acting_for(mailer, "prefecture.35")

    def send(n: int) -> str:
        return use.issue(mailer.store, mailer.directory, recipients, prefet, to="mairie.35238", kind="information",
                         text=f"Point {n}", deadline="1H").ref

    with ThreadPoolExecutor(6) as pool:
        refs = list(pool.map(send, range(12)))
    assert sorted(refs, key=lambda r: int(r.rsplit(".", 1)[1])) == [f"prefecture.35.request.{n}" for n in range(1, 13)]
    assert use.next_number(mailer.store, "prefecture.35") == 13
