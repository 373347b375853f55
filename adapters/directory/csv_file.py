"""The directory's CSV file (`tocsin directory import` / `export`), documented in the README.

Columns (header line required, any order; `;` or `,` as separator; UTF-8, with or without BOM):
`organisation_kind, territory, organisation_name, person_name, position, email, phone`, and optionally
`until` (YYYY-MM-DD: the habilitation's last day, to its end, Paris time). A row names an organisation
by kind and territory (the seeded one when there is one, else one registered by its name), and gives the
person a habilitation in it, its role following the position. A row with no person columns names an
organisation only. Several telephones are separated by `|`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from domain.directory import (
    KINDS,
    DirectoryError,
    OrganisationKind,
    check_email,
    check_name,
    check_phone,
    kind_named,
    organisation_territory,
    position_role,
)
from domain.geography import Hierarchy, Level

COLUMNS = ("organisation_kind", "territory", "organisation_name", "person_name", "position", "email", "phone")
OPTIONAL = ("until",)
PHONE_SEPARATOR = "|"
PARIS = ZoneInfo("Europe/Paris")
MAX_ROWS = 200_000


@dataclass(frozen=True)
class Row:
    line: int
    kind: OrganisationKind
    level: Level
    code: str
    organisation_name: str
    person_name: str | None = None
    position: str | None = None
    role: str | None = None
    email: str | None = None
    phones: tuple[str, ...] = ()
    until: datetime | None = None


class FileRefused(ValueError):
    """A file with bad rows: nothing of it is imported. `errors`: (line, reason in French)."""

    def __init__(self, errors: Sequence[tuple[int, str]]) -> None:
        self.errors = list(errors)
        super().__init__("\n".join(f"ligne {n} : {reason}" for n, reason in self.errors))


def parse(text: str, known: Hierarchy) -> list[Row]:
    """The file's rows, checked; FileRefused with every bad row when any is bad."""
    text = text.lstrip("\ufeff")
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise FileRefused([(1, "fichier vide : la première ligne doit nommer les colonnes")]) from None
    except csv.Error as e:
        raise FileRefused([(1, f"CSV illisible : {e}")]) from None
    missing = [c for c in COLUMNS if c not in header]
    unknown = [h for h in header if h not in COLUMNS + OPTIONAL]
    if missing or unknown or len(set(header)) != len(header):
        reasons = []
        if missing:
            reasons.append(f"colonnes manquantes : {', '.join(missing)}")
        if unknown:
            reasons.append(f"colonnes inconnues : {', '.join(unknown)}")
        if len(set(header)) != len(header):
            reasons.append("colonne en double")
        raise FileRefused([(1, " ; ".join(reasons) + f" (attendu : {', '.join(COLUMNS)}[, until])")])
    rows: list[Row] = []
    errors: list[tuple[int, str]] = []
    line = 1
    while True:
        start = reader.line_num + 1
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as e:
            errors.append((start, f"CSV illisible : {e}"))
            break
        line = start
        if not any(v.strip() for v in values):
            continue  # blank line
        if len(rows) + len(errors) >= MAX_ROWS:
            errors.append((line, f"fichier trop long ({MAX_ROWS} lignes au plus)"))
            break
        if len(values) != len(header):
            errors.append((line, f"{len(values)} colonnes au lieu de {len(header)}"))
            continue
        try:
            rows.append(_row(line, dict(zip(header, values, strict=True)), known))
        except DirectoryError as e:
            errors.append((line, str(e)))
    errors.extend(_conflicts(rows))
    if errors:
        raise FileRefused(sorted(errors))
    return rows


def _row(line: int, v: dict[str, str], known: Hierarchy) -> Row:
    kind = kind_named(v["organisation_kind"])
    if kind not in KINDS or kind is OrganisationKind.NEXSIS:
        raise DirectoryError(f"type d'organisation non importable : {kind.value}")
    level, code = organisation_territory(kind, v["territory"], known)
    org_name = " ".join(v["organisation_name"].split())
    if not KINDS[kind].seeded:
        org_name = check_name(org_name, "nom de l'organisation")
    person = [v[c].strip() for c in ("person_name", "position", "email", "phone")]
    until_text = v.get("until", "").strip()
    if not any(person) and not until_text:
        if KINDS[kind].seeded:
            raise DirectoryError("ligne sans personne pour une organisation qui existe déjà")
        return Row(line, kind, level, code, org_name)
    if not person[0] or not person[1] or not person[2]:
        raise DirectoryError("personne incomplète : person_name, position et email sont requis")
    name = check_name(person[0], "nom de la personne")
    role, position = position_role(kind, person[1])
    email = check_email(person[2])
    phones = tuple(p for p in (check_phone(p) for p in person[3].split(PHONE_SEPARATOR)) if p)
    return Row(line, kind, level, code, org_name, name, position, role, email, phones, _until(until_text))


def _until(text: str) -> datetime | None:
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise DirectoryError(f"date de fin invalide : {text!r} (AAAA-MM-JJ)") from None
    return datetime.combine(day + timedelta(days=1), time(0, 0), PARIS)  # to the end of that day


def _conflicts(rows: Iterable[Row]) -> list[tuple[int, str]]:
    """The same person twice with different names or telephones."""
    seen: dict[str, Row] = {}
    errors = []
    for row in rows:
        if row.email is None:
            continue
        first = seen.setdefault(row.email, row)
        if (first.person_name, first.phones) != (row.person_name, row.phones):
            errors.append((row.line, f"{row.email} : nom ou téléphones différents de la ligne {first.line}"))
    return errors


def write(rows: Iterable[Sequence[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow((*COLUMNS, *OPTIONAL))
    writer.writerows(rows)
    return out.getvalue()


def until_text(until: datetime | None) -> str:
    return (until.astimezone(PARIS) - timedelta(days=1)).date().isoformat() if until else ""
