"""The email of an alert: French, plain text and HTML, saying what, where, when (in the territory's
zone, named), how serious, with a link to the case and the acknowledgement link."""

from __future__ import annotations

import hashlib
from datetime import datetime
from email.message import EmailMessage
from email.utils import formatdate
from html import escape
from urllib.parse import quote
from zoneinfo import ZoneInfo

from domain.alert import Alert
from domain.recipients import Contact

SEVERITY_LABELS = {"information": "Information", "grave": "Grave"}


def local_time(iso: str | None, zone: str) -> str:
    """'07/12/2026 à 15:21 (Europe/Paris)'."""
    if not iso:
        return "heure inconnue"
    at = datetime.fromisoformat(iso).astimezone(ZoneInfo(zone))
    return f"{at:%d/%m/%Y à %H:%M} ({zone})"


def case_link(public_url: str, alert: Alert) -> str | None:
    """The dashboard at the case's commune (the case list there shows it); a request's page for a request."""
    if alert.details.get("request_id"):
        return f"{public_url}/demandes?id={quote(alert.details['request_id'])}"
    insee = alert.details.get("insee")
    if not insee:
        dep = alert.details.get("departement")
        return f"{public_url}/#/departement/{quote(dep)}" if dep else public_url + "/"
    return f"{public_url}/#/commune/{quote(insee)}"


def message_id(alert: Alert, contact: Contact) -> str:
    """The same for every attempt to one person: a receiving system that saw it already can tell."""
    person = hashlib.sha256(contact.person_id.encode()).hexdigest()[:16]
    return f"<{alert.id}.{person}@tocsin>"


def compose(alert: Alert, contact: Contact, *, sender: str, public_url: str, ack_token: str,
            answer_token: str | None = None) -> EmailMessage:
    d = alert.details
    zone = d.get("time_zone") or "Europe/Paris"
    what = d.get("nature") or "nature non précisée"
    where = d.get("place") or (f"commune {d['insee']}" if d.get("insee") else "lieu non déterminé")
    when = local_time(d.get("when"), zone)
    gravity = SEVERITY_LABELS.get(alert.severity, alert.severity)
    figures = [text for n, text in ((d.get("red"), "victime(s) en urgence absolue"), (d.get("dead"), "décès"),
                                    (d.get("evacuated"), "personne(s) évacuée(s) ou déplacée(s)"),
                                    (d.get("resources_engaged"), "moyen(s) engagé(s)")) if n
               for text in [f"{n} {text}"]]
    prefix = "EXERCICE — " if alert.exercise else ""
    ack_url = f"{public_url}/acquittement/{ack_token}"
    link = case_link(public_url, alert)
    lines = [
        f"{prefix}Alerte Tocsin pour {contact.name}",
        "",
        alert.reason,
        "",
        f"Quoi : {what}",
        f"Où : {where}",
        f"Quand : {when}",
        f"Gravité : {gravity}" + (f" — {', '.join(figures)}" if figures else ""),
    ]
    if alert.late:
        lines.append("Attention : message tardif (daté de plus de 30 minutes à sa réception par Tocsin).")
    if alert.case_id:
        lines.append(f"Affaire : {alert.case_id}")
    if d.get("request_id"):  # a request between authorities (adapters.crisis.requests)
        lines.append(f"Demande : {d['request_id']}" + (f" — échéance : {local_time(d['deadline'], zone)}"
                                                         if d.get("deadline") else " — sans échéance"))
    answers = [(c, f"{public_url}/reponse/{answer_token}?choix={quote(c)}") for c in d.get("choices") or []
               ] if answer_token else []
    if answers:
        lines += ["", f"Répondre avant le {local_time(d.get('deadline'), zone)} :"]
        lines += [f"  « {choice} » : {url}" for choice, url in answers]
    lines += ["", f"Voir sur le tableau de bord : {link}", "",
              f"Accuser réception de l'alerte : {ack_url}",
              "(chaque lien ouvre une page de confirmation ; rien n'est enregistré avant de confirmer)"]
    text = "\n".join(lines) + "\n"
    rows = "".join(f"<tr><th scope=\"row\">{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in (
        ("Quoi", what), ("Où", where), ("Quand", when),
        ("Gravité", gravity + (f" — {', '.join(figures)}" if figures else "")),
        *((("Affaire", alert.case_id),) if alert.case_id else ())))
    html = (
        "<!doctype html><html lang=\"fr\"><head><meta charset=\"utf-8\"><title>Alerte Tocsin</title></head><body>"
        f"<h1>{escape(prefix)}Alerte Tocsin</h1><p>{escape(alert.reason)}</p>"
        + ("<p><strong>Message tardif</strong> (daté de plus de 30 minutes à sa réception).</p>" if alert.late else "")
        + f"<table>{rows}</table>"
        + "".join(f"<p><a href=\"{escape(url)}\">Répondre « {escape(choice)} »</a></p>" for choice, url in answers)
        + f"<p><a href=\"{escape(link or '')}\">Voir sur le tableau de bord</a></p>"
        f"<p><a href=\"{escape(ack_url)}\">Accuser réception de l'alerte</a> "
        "(page de confirmation : rien n'est enregistré avant de confirmer)</p></body></html>"
    )
    msg = EmailMessage()
    msg["Subject"] = f"[Tocsin] {prefix}{SEVERITY_LABELS.get(alert.severity, '')} : {what} — {where}"
    msg["From"] = sender
    msg["To"] = contact.email or ""
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = message_id(alert, contact)
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    return msg
