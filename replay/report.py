"""The after-action report of a timeline (replay/timeline.py): a self-contained HTML page in French
(inline CSS and SVG charts, nothing fetched), plus the same figures as CSV and JSON for other tools."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape as _escape
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from adapters.crisis import log_export
from adapters.secret_file import open_private
from domain.local_time import PARIS, format_local, zone_name
from domain.logbook import LogItem
from replay import report_svg
from replay.requests import DELAY_COLUMNS as REQUEST_COLUMNS
from replay.requests import delay_stats
from replay.timeline import Timeline

INTERVAL_COLUMNS = ("start", "end", "opened", "closed", "active", "victims", "red", "yellow", "green", "black",
                    "evacuated", "displaced", "resources_engaged", "resources_total")
DELAY_COLUMNS = ("case_id", "nature_code", "commune", "opened_at", "first_engaged_at", "first_on_scene_at",
                 "to_engaged_min", "to_on_scene_min")
HEADINGS = {
    "start": "Début", "end": "Fin", "opened": "Ouvertes", "closed": "Closes", "active": "En cours",
    "victims": "Victimes", "red": "Urgences absolues", "yellow": "Urgences relatives", "green": "Impliqués",
    "black": "Décédés", "evacuated": "Évacués", "displaced": "Déplacés", "resources_engaged": "Moyens engagés",
    "resources_total": "Moyens (total)", "case_id": "Affaire", "nature_code": "Nature", "commune": "Commune",
    "opened_at": "Création", "first_engaged_at": "Premier moyen engagé",
    "first_on_scene_at": "Premier moyen sur les lieux",
    "to_engaged_min": "Délai d'engagement (min)", "to_on_scene_min": "Délai d'arrivée (min)",
}
PEAKS = {"opened": "Affaires ouvertes en un intervalle", "closed": "Affaires closes en un intervalle",
         "active": "Affaires en cours", "victims": "Victimes", "evacuated": "Personnes évacuées",
         "resources_engaged": "Moyens engagés"}


def escape(text: str) -> str:
    return _escape(text, quote=False)  # text nodes only: apostrophes stay readable


@dataclass(frozen=True)
class CrisisLog:
    """A crisis's log book and situation reports, as the report's reader may see them (the caller read
    them: projections.read.crisis_log, adapters.crisis.logbook)."""

    title: str
    items: Sequence[LogItem]
    reports: Sequence[Mapping[str, Any]]


def write_report(timeline: Timeline, out: Path, *, territory_name: str | None = None,
                 log: CrisisLog | None = None, requests: Sequence[dict] = ()) -> list[Path]:
    """Write rapport.html, chronologie.csv, delais.csv and chiffres.json into `out` (owner-only, like every
    export), main_courante.csv with a crisis's log book, and demandes.csv when requests between authorities
    were issued in the window (`requests`: replay.requests.delays rows); their paths."""
    out.mkdir(parents=True, exist_ok=True)
    figures = timeline.as_dict()
    files = [out / "rapport.html", out / "chronologie.csv", out / "delais.csv", out / "chiffres.json"]
    _text(files[0], html_page(timeline, territory_name or timeline.code, log=log, requests=requests))
    _csv(files[1], INTERVAL_COLUMNS, figures["intervals"])
    _csv(files[2], DELAY_COLUMNS, figures["delays"])
    _text(files[3], json.dumps(figures, ensure_ascii=False, indent=2))
    if log is not None:
        files.append(out / "main_courante.csv")
        _text(files[-1], log_export.to_csv(log.items, timeline.zone))
    if requests:
        files.append(out / "demandes.csv")
        _csv(files[-1], REQUEST_COLUMNS, list(requests))
    return files


def log_section(log: CrisisLog, zone: ZoneInfo) -> list[str]:
    """The crisis's log book and its situation reports, after the figures: what people knew, decided and
    did, beside what the messages say happened."""
    head = "".join(f"<th>{escape(h)}</th>" for h in log_export.headings(zone)[:7])
    lines = "".join("<tr>" + "".join(f"<td>{escape(v)}</td>" for v in row[:7]) + "</tr>"
                    for row in log_export.rows(log.items, zone))
    return [f"<h2>Main courante — {escape(log.title)}</h2>",
            f"<table><thead><tr>{head}</tr></thead><tbody>{lines}</tbody></table>",
            "<h2>Points de situation</h2>", log_export.reports_table(log.reports, zone)]


def _text(path: Path, text: str) -> None:
    with open_private(path) as f:
        f.write(text.encode("utf-8"))


def _csv(path: Path, columns: tuple[str, ...], rows: list[dict]) -> None:
    with open_private(path) as raw, io.TextIOWrapper(raw, newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def _when(value: datetime | None, zone: ZoneInfo = PARIS) -> str:
    """A time in the territory's zone; the page and the text state the zone once, at the top."""
    return format_local(value, zone, stated=False, never="—")


def _label(value: datetime, timeline: Timeline) -> str:
    local = value.astimezone(timeline.zone)
    return local.strftime("%H:%M") if (timeline.end - timeline.start).days < 1 else local.strftime("%d/%m %Hh")


def _window(timeline: Timeline) -> str:
    zone = timeline.zone
    text = f"du {_when(timeline.start, zone)} au {_when(timeline.end, zone)} ({zone_name(zone)})"
    if timeline.requested_end and timeline.requested_end > timeline.end:
        text += ", arrêtée à l'heure de la lecture (la suite n'a pas encore eu lieu)"
    return text


def timeline_text(timeline: Timeline) -> str:
    """The timeline as text for the terminal."""
    s = timeline.summary
    zone = timeline.zone
    lines = [f"Chronologie {timeline.level}:{timeline.code} {_window(timeline)} "
             f"(pas de {timeline.interval.total_seconds() / 60:g} min, {timeline.events} événements)",
             f"Affaires ouvertes : {s['cases_opened']}, closes : {s['cases_closed']}, en cours à la fin : "
             f"{s['active_at_end']} ; victimes à la fin : {s['victims_at_end']}",
             f"Délai création → premier moyen engagé : {_stat(s['delay_to_engaged_min'])}",
             f"Délai création → premier moyen sur les lieux : {_stat(s['delay_to_on_scene_min'])}",
             "Pics : " + "; ".join(f"{PEAKS[k].lower()} {v['value']} ({_when(v['end'], zone)})"
                                   for k, v in timeline.peaks.items()),
             "", "début             ouvertes  closes  en cours  victimes  moyens engagés"]
    for i in timeline.intervals:
        lines.append(f"{_when(i.start, zone):<17} {i.opened:>8} {i.closed:>7} {i.active:>9} {i.victims:>9} "
                     f"{i.resources_engaged:>15}")
    return "\n".join(lines)


def _stat(stats: dict) -> str:
    if not stats["cases"]:
        return "aucune affaire"
    return (f"médiane {stats['median']} min, 90 % sous {stats['p90']} min, moyenne {stats['mean']} min, "
            f"max {stats['max']} min ({stats['cases']} affaires)")


def html_page(timeline: Timeline, territory_name: str, *, log: CrisisLog | None = None,
              requests: Sequence[dict] = ()) -> str:
    figures = timeline.as_dict()
    intervals = timeline.intervals
    labels = [_label(i.start, timeline) for i in intervals]
    s = timeline.summary
    zone = timeline.zone

    def series(*keys: str) -> dict[str, list[float]]:
        return {HEADINGS[k]: [getattr(i, k) for i in intervals] for k in keys}

    charts = [
        ("Affaires ouvertes et closes par intervalle", report_svg.bars(
            "Affaires ouvertes et closes", labels, series("opened", "closed"))),
        ("Affaires en cours", report_svg.lines("Affaires en cours", labels, series("active"))),
        ("Victimes par catégorie", report_svg.lines("Victimes", labels, series("victims", "red", "yellow", "green",
                                                                                "black"))),
        ("Moyens engagés", report_svg.lines("Moyens", labels, series("resources_engaged", "resources_total"))),
    ]
    delays = [d for d in timeline.delays if d.to_on_scene_min is not None or d.to_engaged_min is not None]
    if delays:
        charts.append(("Délais par affaire (création → engagement, → arrivée sur les lieux)", report_svg.bars(
            "Délais (minutes)", [_when(d.opened_at, zone)[-5:] for d in delays],
            {"Engagement (min)": [d.to_engaged_min or 0 for d in delays],
             "Arrivée (min)": [d.to_on_scene_min or 0 for d in delays]})))
    title = f"Retour d'expérience — {territory_name}"
    body = [
        f"<h1>{escape(title)}</h1>",
        f"<p class=lead>{escape(_window(timeline)).capitalize()}, par pas de "
        f"{timeline.interval.total_seconds() / 60:g} minutes. Toutes les heures sont en {escape(zone_name(zone))}. "
        f"Heures des messages (ce qui s'était passé), "
        f"reconstituées à partir du journal des événements ({timeline.events} événements dans la fenêtre).</p>",
        "<h2>Synthèse</h2><table><tbody>",
        _row("Affaires ouvertes", s["cases_opened"]), _row("Affaires closes", s["cases_closed"]),
        _row("Affaires en cours à la fin", s["active_at_end"]), _row("Victimes à la fin", s["victims_at_end"]),
        _row("Personnes évacuées à la fin", s["evacuated_at_end"]),
        _row("Délai création → premier moyen engagé", _stat(s["delay_to_engaged_min"])),
        _row("Délai création → premier moyen sur les lieux", _stat(s["delay_to_on_scene_min"])),
        "</tbody></table>",
        "<h2>Pics</h2><table><thead><tr><th>Série</th><th>Valeur</th><th>Intervalle</th></tr></thead><tbody>",
        *(f"<tr><td>{escape(PEAKS[k])}</td><td class=n>{v['value']}</td>"
          f"<td>{_when(v['start'], zone)} – {_when(v['end'], zone)}</td></tr>" for k, v in timeline.peaks.items()),
        "</tbody></table>",
        *(f"<h2>{escape(name)}</h2><figure>{svg}</figure>" for name, svg in charts),
        "<h2>Chronologie</h2>", _table(INTERVAL_COLUMNS, figures["intervals"], zone),
        "<h2>Délais par affaire ouverte dans la fenêtre</h2>", _table(DELAY_COLUMNS, figures["delays"], zone),
        *(log_section(log, zone) if log is not None else []),
        *requests_section(requests, zone),
        "<p class=note>Fichiers joints : chronologie.csv, delais.csv, chiffres.json (mêmes chiffres"
        + (" ; main_courante.csv" if log is not None else "") + "). "
        "Arrivée sur les lieux : premier statut de phase « sur les lieux » ou « transport » d'un moyen.</p>",
    ]
    return f"""<!doctype html>
<html lang="fr"><head><meta charset="utf-8"><title>{escape(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;max-width:60rem;
color:#1b1b1b;padding:0 1rem}}
h1{{font-size:1.6rem;color:#000091}} h2{{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd}}
table{{border-collapse:collapse;width:100%;font-size:.85rem}}
th,td{{border:1px solid #ddd;padding:.25rem .4rem;text-align:left}}
th{{background:#f3f3f8}} td.n{{text-align:right}} .chart{{width:100%;height:auto}} .lead,.note{{color:#444}}
</style></head><body>
{chr(10).join(body)}
</body></html>
"""


# ---- requests between authorities (replay/requests.py) ------------------------------------------------

REQUEST_HEADINGS = {
    "id": "Demande", "kind": "Type", "from": "De", "to": "À", "status": "État", "issued_at": "Émise",
    "seen_at": "Vue", "answered_at": "Répondue", "done_at": "Réalisée", "to_seen_min": "→ vue (min)",
    "to_answer_min": "→ réponse (min)", "to_done_min": "→ réalisée (min)",
}


def requests_section(rows: Sequence[dict], zone: ZoneInfo) -> list[str]:
    """The requests' delays (issued → seen → answered → done): a summary and one row per request."""
    if not rows:
        return []

    def stat(key: str) -> str:
        s = delay_stats(rows, key)
        return (f"médiane {s['median']} min, max {s['max']} min ({s['requests']} demandes)" if s["requests"]
                else "aucune")

    head = "".join(f"<th>{escape(REQUEST_HEADINGS[c])}</th>" for c in REQUEST_COLUMNS)
    body = []
    for row in rows:
        cells = []
        for c in REQUEST_COLUMNS:
            value = row.get(c)
            if isinstance(value, str) and c.endswith("_at"):
                value = _when(datetime.fromisoformat(value), zone)
            cls = " class=n" if isinstance(value, int | float) else ""
            cells.append(f"<td{cls}>{escape('—' if value is None else str(value))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return [
        "<h2>Demandes entre autorités : délais</h2><table><tbody>",
        _row("Demandes émises dans la fenêtre", len(rows)),
        _row("Émission → vue", stat("to_seen_min")), _row("Émission → réponse", stat("to_answer_min")),
        _row("Émission → réalisation", stat("to_done_min")),
        "</tbody></table>",
        f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>",
        "<p class=note>Fichier joint : demandes.csv. Heures d'enregistrement des actes dans Tocsin.</p>",
    ]


def _row(name: str, value: object) -> str:
    return f"<tr><th>{escape(name)}</th><td>{escape(str(value))}</td></tr>"


def _table(columns: tuple[str, ...], rows: list[dict], zone: ZoneInfo) -> str:
    head = "".join(f"<th>{escape(HEADINGS[c])}</th>" for c in columns)
    body = []
    for row in rows:
        cells = []
        for c in columns:
            value = row.get(c)
            if isinstance(value, str) and c.endswith(("_at", "start", "end")) and "T" in value:
                value = _when(datetime.fromisoformat(value), zone)
            cls = " class=n" if isinstance(value, int | float) else ""
            cells.append(f"<td{cls}>{escape('—' if value is None else str(value))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
