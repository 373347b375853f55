"""A crisis's own view: the figures of its attached cases, and those cases placed for the map, as one reader
may see them.

The figures are the territory views' own (projections.territory.figures of each case list row, added up
and described by projections.presentation), over the attached cases the reader's perimeter holds: a mayor
reads its commune's share of a département's crisis, and the view says it is a share (`whole_perimeter`).
Case list rows carry no personal data, so the view carries none, whoever reads it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from adapters.geography import Geography
from domain.access import Principal
from domain.geography import Level
from domain.local_time import format_local, zone_name
from projections.presentation import describe, family_label
from projections.read.rows import case_json, row_placement
from projections.territory import figures, total

HEADER_FIELDS = ("id", "title", "kind", "kind_label", "families", "territory", "time_zone", "start", "opened_at",
                 "opened_by", "organisation_id", "exercise", "status", "closed_at", "closed_by", "closing_summary",
                 "version")


def takes_in_whole(principal: Principal, territory: str) -> bool:
    """Does the reader's perimeter hold the crisis's whole territory (its figures are then the crisis's)?"""
    level, _, code = territory.partition(":")
    try:
        return principal.can_see(Level(level), code)
    except ValueError:
        return False


def as_seen_by(crisis: Mapping[str, Any], rows: Iterable[Mapping[str, Any]], principal: Principal) -> dict[str, Any]:
    """A crisis's `as_dict()` as one reader may read it: a reader whose perimeter holds only part of the
    crisis's territory (a mayor in a département's crisis) reads only the attached and detached cases it may
    see (`rows`: the case list's rows of those cases), not the ids of the others."""
    if takes_in_whole(principal, crisis["territory"]):
        return dict(crisis)
    seen = {r["case_id"] for r in rows if principal.can_see_placement(row_placement(r))}
    return {**crisis, "cases": [c for c in crisis["cases"] if c["case_id"] in seen],
            "detached": [c for c in crisis["detached"] if c["case_id"] in seen]}


def case_ids(crisis: Mapping[str, Any]) -> frozenset[str]:
    """The cases a crisis names, attached or detached."""
    return frozenset(c["case_id"] for c in (*crisis["cases"], *crisis["detached"]))


def crisis_view(crisis: Mapping[str, Any], rows: Iterable[Mapping[str, Any]], principal: Principal,
                geography: Geography, *, territory_name: str | None = None, limit: int = 500,
                now: datetime | None = None) -> dict[str, Any]:
    """`crisis`: the crisis's `as_dict()`; `rows`: the case list's rows of its attached cases (as read).
    The figures count every visible case; the list (and the map) holds the `limit` most serious."""
    zone = ZoneInfo(crisis["time_zone"])
    attached = {c["case_id"]: c for c in crisis["cases"]}
    visible = [r for r in rows if r["case_id"] in attached and principal.can_see_placement(row_placement(r))]
    whole = takes_in_whole(principal, crisis["territory"])
    listed = {r["case_id"] for r in rows}
    header = {k: crisis[k] for k in HEADER_FIELDS}
    header["opened_by"] = {"name": crisis["opened_by"].get("name"), "role": crisis["opened_by"].get("role"),
                           "organisation_id": crisis["opened_by"].get("organisation_id")}
    header["closed_by"] = ({"name": crisis["closed_by"].get("name"), "role": crisis["closed_by"].get("role")}
                           if crisis["closed_by"] else None)
    header.update({
        "territory_name": territory_name or crisis["territory"],
        "family_labels": [family_label(f) for f in crisis["families"]],
        "time_zone_name": zone_name(zone),
        "start_text": format_local(crisis["start"], zone),
        "opened_at_text": format_local(crisis["opened_at"], zone),
        "closed_at_text": format_local(crisis["closed_at"], zone) if crisis["closed_at"] else None,
    })
    cases = []
    for row in sorted(visible, key=lambda r: (-(r["severity"] or 0), r["case_id"]))[:max(0, limit)]:
        link = attached[row["case_id"]]
        cases.append({**case_json(row, geography), **_attachment(link, zone)})
    return {
        "crisis": header,
        "whole_perimeter": whole,
        "figures": describe(total(figures(r) for r in visible)),
        "cases": cases,
        "cases_left_out": len(visible) - len(cases),
        # Attached, not in the views yet (or an id typed by hand that no message carried): only to readers
        # who see the whole crisis, as nothing says where these cases are.
        "pending": [{"case_id": cid, **_attachment(link, zone)} for cid, link in attached.items()
                    if cid not in listed] if whole else [],
        "generated_at": (now or datetime.now(UTC)).isoformat(),
    }


def _attachment(link: Mapping[str, Any], zone: ZoneInfo) -> dict[str, Any]:
    by = link.get("by") or {}
    return {"attached_how": link["how"], "attached_at": link["at"],
            "attached_at_text": format_local(link["at"], zone), "attached_by": by.get("name")}
