"""The log book exported: CSV, XLSX and a printable HTML page, in French, times in the crisis's zone with
the zone stated. The HTML page also shows the situation reports side by side. The same rows for the three
formats (`rows`), so that what a spreadsheet and the printed page say never differ.

Plain functions of the items a reader may see (the caller filtered them): the API and the CLI call them.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from html import escape as _escape
from typing import Any
from zoneinfo import ZoneInfo

from domain.local_time import format_local, zone_name
from domain.logbook import SOURCES, VISIBILITIES, LogItem

FORMATS = {"csv": "text/csv; charset=utf-8",
           "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
           "html": "text/html; charset=utf-8"}


class UnknownFormat(ValueError):
    """An export format that is not one of FORMATS (French message)."""


def check_format(name: str) -> str:
    name = name.lower().lstrip(".")
    if name not in FORMATS:
        raise UnknownFormat(f"format d'export inconnu : {name[:20]!r} (formats : {', '.join(FORMATS)})")
    return name


def headings(zone: ZoneInfo) -> list[str]:
    return [f"Heure ({zone_name(zone)})", "Origine", "Type", "Auteur", "Organisation", "Visibilité", "Texte",
            "Affaires", "Corrige l'entrée", "Corrigée par", "N°"]


def _author(item: LogItem) -> str:
    if not item.author:
        return ""
    role = item.author.get("role")
    return f"{item.author.get('name')} ({role})" if role else str(item.author.get("name") or "")


def rows(items: Iterable[LogItem], zone: ZoneInfo) -> list[list[str]]:
    return [[format_local(i.at, zone, stated=False), SOURCES[i.source], i.kind_label, _author(i),
             i.organisation_id or "", VISIBILITIES[i.visibility], i.text, ", ".join(i.case_ids), i.amends or "",
             ", ".join(i.amended_by), i.id if i.source == "personne" else ""] for i in items]


def _cell(value: str) -> str:
    """A text beginning like a formula stays text in a spreadsheet (no formula injection)."""
    return "'" + value if value.startswith(("=", "+", "-", "@")) else value


def to_csv(items: Iterable[LogItem], zone: ZoneInfo) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(headings(zone))
    writer.writerows([_cell(v) for v in row] for row in rows(items, zone))
    return out.getvalue()


def to_xlsx(items: Iterable[LogItem], zone: ZoneInfo, title: str) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Main courante"
    sheet.append([f"Main courante — {title}"])
    sheet.append([f"Heures en {zone_name(zone)}"])
    sheet.append(headings(zone))
    for cell in sheet[3]:
        cell.font = Font(bold=True)
    for row in rows(items, zone):
        sheet.append([_cell(v) for v in row])
    for column, width in zip("ABCDEFGHIJK", (18, 14, 14, 24, 20, 16, 70, 24, 10, 12, 6), strict=True):
        sheet.column_dimensions[column].width = width
    for (cell,) in sheet.iter_rows(min_row=4, min_col=7, max_col=7):
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def escape(text: str) -> str:
    return _escape(text, quote=False)


# ---- the printable page ---------------------------------------------------------------------------

_FIGURES = (("Affaires en cours", ("cases_active",)), ("Affaires (total)", ("cases_total",)),
            ("Urgences absolues", ("victims", "triage", "red")),
            ("Urgences relatives", ("victims", "triage", "yellow")),
            ("Décès", ("victims", "triage", "black")), ("Personnes évacuées", ("victims", "evacuated")),
            ("Moyens engagés", ("resources", "engaged")))


def _figure(figures: Mapping[str, Any], path: Sequence[str]) -> str:
    value: Any = figures
    for key in path:
        value = value.get(key) if isinstance(value, Mapping) else None
    return "—" if value is None else str(value)


def reports_table(reports: Sequence[Mapping[str, Any]], zone: ZoneInfo) -> str:
    """The situation reports side by side: one column per report, its figures and its text below."""
    if not reports:
        return "<p>Aucun point de situation.</p>"
    head = "".join(f"<th scope=col>{escape(r['organisation_id'] or '')} n° {r['number']}<br>"
                   f"<small>{escape(format_local(r['at'], zone, stated=False))}</small></th>" for r in reports)
    body = [f"<tr><th scope=row>{escape(label)}</th>"
            + "".join(f"<td class=n>{escape(_figure(r['figures'], path))}</td>" for r in reports) + "</tr>"
            for label, path in _FIGURES]
    body.append("<tr><th scope=row>Texte</th>" + "".join(
        f"<td class=t>{escape(r['text'])}" + (f"<br><small>En réponse à la demande {escape(r['request_id'])}</small>"
                                               if r.get("request_id") else "") + "</td>" for r in reports) + "</tr>")
    return f"<table><thead><tr><th></th>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def to_html(crisis: Mapping[str, Any], items: Sequence[LogItem], reports: Sequence[Mapping[str, Any]],
            zone: ZoneInfo, *, as_of: datetime | None = None) -> str:
    """A page to print (or save): the crisis, its log book and its situation reports. Self-contained:
    the colours and type of the State's design system (DSFR), inline, nothing fetched."""
    now = datetime.now(UTC)
    title = f"Main courante — {crisis['title']}"
    stated = f"Toutes les heures sont en {zone_name(zone)}."
    moment = (f"Telle qu'elle était le {format_local(as_of, zone)}" if as_of
              else f"Éditée le {format_local(now, zone)}")
    table = rows(items, zone)
    head = "".join(f"<th scope=col>{escape(h)}</th>" for h in headings(zone)[:8])
    lines = "".join(
        f"<tr class=\"{escape(i.source)}\">" + "".join(
            f"<td{' class=t' if n == 6 else ''}>{escape(v)}"
            + (f"<br><small>(corrige l'entrée n° {escape(i.amends)})</small>" if n == 6 and i.amends else "")
            + (f"<br><small>(corrigée par n° {escape(', '.join(i.amended_by))})</small>"
               if n == 6 and i.amended_by else "") + "</td>"
            for n, v in enumerate(row[:8])) + "</tr>"
        for i, row in zip(items, table, strict=True))
    status = "ouverte" if crisis.get("status") == "ouverte" else "close"
    return f"""<!doctype html>
<html lang="fr"><head><meta charset="utf-8"><title>{escape(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{{font-family:Marianne,arial,sans-serif;margin:1.5rem auto;max-width:75rem;color:#161616;padding:0 1rem}}
h1{{font-size:1.5rem;color:#000091;margin-bottom:.25rem}} h2{{font-size:1.15rem;margin-top:1.5rem;
border-bottom:2px solid #000091}} .lead{{color:#3a3a3a}}
table{{border-collapse:collapse;width:100%;font-size:.8rem}}
th,td{{border:1px solid #ddd;padding:.25rem .4rem;text-align:left;vertical-align:top}}
th{{background:#eeeef8}} td.n{{text-align:right}} td.t{{white-space:pre-wrap}}
tr.nexsis td,tr.alerte td,tr.demande td{{color:#3a3a3a;background:#f6f6f6}}
@media print{{body{{margin:0;max-width:none}} tr{{break-inside:avoid}} thead{{display:table-header-group}}
a{{color:inherit;text-decoration:none}}}}
</style></head><body>
<header><p>République française — Tocsin</p>
<h1>{escape(title)}</h1>
<p class=lead>{escape(crisis.get('kind_label', ''))} — {escape(crisis['territory'])} — crise {status}.
{escape(moment)}. {escape(stated)}</p></header>
<main>
<h2>Main courante ({len(items)} lignes)</h2>
<table><thead><tr>{head}</tr></thead><tbody>{lines}</tbody></table>
<h2>Points de situation</h2>
{reports_table(reports, zone)}
</main></body></html>
"""
