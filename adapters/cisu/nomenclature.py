"""Official CISU / HubSante code lists (nomenclatures), read from the CSV files shipped in
``adapters/reference/cisu/nomenclatures``.

Every list has the same shape: an unnamed index column, ``code``, one label column per hierarchy
level (``label_n1``, ``label_n2``, ``label_n3``, or ``Libellé niveau 2/3``), ``description`` and
``commentaire``.  An entry's level is the deepest label column it fills, and that column holds its
label: HubSante lists fill only that column, EMSI lists also repeat the labels of the ancestors.

Quirks of the official files handled here: codes with trailing blanks (``"POINT "``), entries with no
label at all (the description is used), and duplicated codes (``EMSI-CONTEXT.SECLASS``,
``EMSI-RESOURCE.RTYPE.CAPABILITY``): the first occurrence wins and the others are logged.
"""

from __future__ import annotations

import csv
import logging
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from domain.nature import FAMILY_LABELS, NatureFamily, family_of

__all__ = [
    "Entry",
    "NOMENCLATURE_DIR",
    "Nomenclature",
    "available_nomenclatures",
    "location_kind_label",
    "nature_label",
    "nomenclature",
    "resource_status_label",
    "resource_type_label",
    "risk_label",
    "vehicle_type_label",
]

log = logging.getLogger(__name__)

NOMENCLATURE_DIR = Path(__file__).resolve().parent.parent / "reference" / "cisu" / "nomenclatures"

# "label_n2" or "Libellé niveau 2" -> 2
_LABEL_COLUMN = re.compile(r"^(?:label_n|libellé niveau\s*)(\d+)$", re.IGNORECASE)
PATH_SEPARATOR = " › "


@dataclass(frozen=True, slots=True)
class Entry:
    code: str
    label: str
    level: int
    parent: str | None
    description: str


def _structural_parent(code: str) -> str | None:
    """The parent a code's own shape suggests, if any.

    ``FAC/BUILDN/HOUSE`` -> ``FAC/BUILDN``; ``C04.02.01`` -> ``C04.02.00`` -> ``C04.00.00``;
    ``M01.01`` -> ``M01.00``; ``SMUR.AR-BAR`` -> ``SMUR``.
    """
    if "/" in code:
        return code.rsplit("/", 1)[0]
    segments = code.split(".")
    if len(segments) < 2:
        return None
    last = segments[-1]
    if not last.isdigit():
        return ".".join(segments[:-1])
    # Numbered levels: zero the deepest non-zero segment (never the first one).
    for index in range(len(segments) - 1, 0, -1):
        if segments[index].strip("0"):
            return ".".join(segments[:index] + ["0" * len(s) for s in segments[index:]])
    return None


class Nomenclature:
    """One code list: lookups by code, hierarchy and labels."""

    __slots__ = ("name", "_entries")

    def __init__(self, name: str, entries: list[Entry]) -> None:
        self.name = name
        self._entries: dict[str, Entry] = {entry.code: entry for entry in entries}

    @classmethod
    def from_csv(cls, path: Path, name: str | None = None) -> Nomenclature:
        name = name or path.stem
        with path.open(encoding="utf-8-sig", newline="") as handle:
            rows = list(csv.reader(handle))
        if not rows:
            return cls(name, [])
        header = [column.strip() for column in rows[0]]
        code_col = header.index("code")
        description_col = header.index("description") if "description" in header else None
        label_cols: list[tuple[int, int]] = []  # (column index, level)
        for index, column in enumerate(header):
            match = _LABEL_COLUMN.match(column)
            if match:
                label_cols.append((index, int(match.group(1))))
        label_cols.sort(key=lambda item: item[1])

        def cell(row: list[str], index: int | None) -> str:
            return row[index].strip() if index is not None and index < len(row) else ""

        # First pass: code, level, label, description; first occurrence of a code wins.
        raw: list[tuple[str, int, str, str, list[tuple[int, str]]]] = []
        seen: set[str] = set()
        duplicates: list[str] = []
        for row in rows[1:]:
            code = cell(row, code_col)
            if not code:
                continue
            if code in seen:
                duplicates.append(code)
                continue
            seen.add(code)
            description = cell(row, description_col)
            labels = [(column_level, cell(row, index)) for index, column_level in label_cols]
            filled = [(column_level, value) for column_level, value in labels if value]
            level, label = filled[-1] if filled else (1, "")
            raw.append((code, level, label or description or code, description, filled))
        if raw and min(item[1] for item in raw) > 1:
            # No entry at level 1 (EMSI-MISSION.TYPE): the label columns are a short and a long
            # wording of one flat list, not a hierarchy; the level-1 wording is the label.
            raw = [(code, 1, filled[0][1], description, filled) for code, _, _, description, filled in raw]
        if duplicates:
            log.warning(
                "nomenclature %s: %d duplicated code(s) ignored, first occurrence kept: %s",
                name, len(duplicates), ", ".join(sorted(set(duplicates))),
            )

        # Second pass: parents.  Prefer the parent the code's shape names, if it is in the list at a
        # shallower level; otherwise the nearest shallower entry above it in the file (the HubSante
        # lists are written depth-first).
        levels = {item[0]: item[1] for item in raw}
        entries: list[Entry] = []
        for position, (code, level, label, description, _) in enumerate(raw):
            parent: str | None = None
            if level > 1:
                candidate = _structural_parent(code)
                if candidate in levels and levels[candidate] < level:
                    parent = candidate
                else:
                    for previous_code, previous_level, *_ in reversed(raw[:position]):
                        if previous_level < level:
                            parent = previous_code
                            break
            entries.append(Entry(code, label, level, parent, description))
        return cls(name, entries)

    # -- lookups ---------------------------------------------------------------------------------
    def entry(self, code: str | None) -> Entry | None:
        if not isinstance(code, str):
            return None
        return self._entries.get(code.strip())

    def label(self, code: str | None) -> str | None:
        entry = self.entry(code)
        return None if entry is None else entry.label

    def __contains__(self, code: object) -> bool:
        return isinstance(code, str) and code.strip() in self._entries

    def __iter__(self) -> Iterator[Entry]:
        return iter(self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)

    def codes(self) -> list[str]:
        return list(self._entries)

    def children(self, code: str) -> list[Entry]:
        code = code.strip()
        return [entry for entry in self._entries.values() if entry.parent == code]

    def ancestors(self, code: str | None) -> list[Entry]:
        """The entry's ancestors, root first, without the entry itself ([] if unknown or a root)."""
        chain: list[Entry] = []
        entry = self.entry(code)
        while entry is not None and entry.parent is not None:
            entry = self._entries.get(entry.parent)
            if entry is None or entry in chain:  # guard against a malformed, cyclic list
                break
            chain.append(entry)
        chain.reverse()
        return chain

    def full_label(self, code: str | None) -> str:
        """Labels from the root down, e.g. 'Incendie › Incendie d'un bâtiment / local › Bâtiment
        d’habitation'; an unknown code is returned as given (stripped), '' for None."""
        entry = self.entry(code)
        if entry is None:
            return code.strip() if isinstance(code, str) else ""
        return PATH_SEPARATOR.join([a.label for a in self.ancestors(entry.code)] + [entry.label])

    def __repr__(self) -> str:
        return f"Nomenclature({self.name!r}, {len(self._entries)} codes)"


_cache: dict[str, Nomenclature] = {}
_lock = threading.Lock()


def available_nomenclatures() -> list[str]:
    return sorted(path.stem for path in NOMENCLATURE_DIR.glob("*.csv"))


def nomenclature(name: str) -> Nomenclature:
    """The code list named like its file (``'HubSante.fait'``, ``'EMSI-EVENT.STATUS'``…), cached."""
    cached = _cache.get(name)
    if cached is not None:
        return cached
    path = NOMENCLATURE_DIR / f"{name}.csv"
    if "/" in name or "\\" in name or not path.is_file():
        raise KeyError(f"unknown nomenclature {name!r}; available: {', '.join(available_nomenclatures())}")
    with _lock:
        if name not in _cache:
            _cache[name] = Nomenclature.from_csv(path, name)
        return _cache[name]


# -- convenience labels for the codes a use case carries -------------------------------------------
def nature_label(code: str | None) -> str | None:
    """``qualification.whatsHappen.code`` (C-code)."""
    return nomenclature("HubSante.fait").label(code)


def location_kind_label(code: str | None) -> str | None:
    """``qualification.locationKind.code`` (L-code)."""
    return nomenclature("HubSante.lieu").label(code)


def risk_label(code: str | None) -> str | None:
    """``qualification.riskThreat[].code`` (R-code)."""
    return nomenclature("HubSante.risque").label(code)


def resource_type_label(code: str | None) -> str | None:
    """Resource type (``SMUR.ADULT``, ``SIS.SP``…)."""
    return nomenclature("HubSante.typeRessource").label(code)


def vehicle_type_label(code: str | None) -> str | None:
    """Vehicle type (``SIS.VSAV``, ``SMUR.VLM``…; RC-RI's ``vehicleType`` carries the first level)."""
    return nomenclature("HubSante.typeVecteur").label(code)


def resource_status_label(code: str | None) -> str | None:
    """RC-RI ``state.status`` (``DECLENCHE``, ``ARRIVEE``…)."""
    return nomenclature("HubSante.statutVecteur").label(code)


_TRAILING_PARENTHESIS = re.compile(r"\s*\([^)]*\)\s*$")  # « Personne exposée (à) »
_LEADING_PARENTHESIS = re.compile(r"^\((\w+)\)\s*")  # « (par) Arme à feu »
_CONTINUATION = re.compile(r"^(?:à|au|aux|par|de|du|des|d’|d')\s", re.IGNORECASE)  # « Par arme à feu »


def _lower_first(text: str) -> str:
    """« Véhicule léger » → « véhicule léger », but acronyms keep their capitals (« NRBC », « VL »)."""
    first = text.split(" ", 1)[0]
    if len(first) > 1 and first[:2].isupper():
        return text
    return text[:1].lower() + text[1:]


@lru_cache(maxsize=1024)
def nature_display_label(code: str | None, sender_label: str | None = None) -> str:
    """A nature as a person reads it: « Famille — nature » (« Accident de la circulation — véhicule léger,
    fourgon »). The official list's last level alone does not say what kind of incident it is, and some
    of its labels continue their parent's (« Personne exposée (à) » › « à produits chimiques… »)."""
    family = family_of(code)
    family_text = FAMILY_LABELS[family]
    facts = nomenclature("HubSante.fait")
    entry = facts.entry(code) if family is not NatureFamily.UNKNOWN else None
    if entry is None and sender_label and sender_label.strip() and sender_label.strip() != (code or "").strip():
        # A code the list does not know: the sender's own label, under the family when there is one.
        label = sender_label.strip()
        return label if family is NatureFamily.UNKNOWN else f"{family_text} — {_lower_first(label)}"
    if entry is None or entry.parent is None:
        return family_text
    label = entry.label.strip()
    bracketed = _LEADING_PARENTHESIS.match(label)
    if bracketed:
        rest = label[bracketed.end():]
        label = f"{bracketed.group(1)} {rest[:1].lower()}{rest[1:]}"
    if _CONTINUATION.match(label):
        parent = facts.entry(entry.parent)
        if parent is not None and parent.parent is not None:
            label = _TRAILING_PARENTHESIS.sub("", parent.label.strip()) + " " + label[:1].lower() + label[1:]
    if not label:
        return family_text
    return f"{family_text} — {' / '.join(_lower_first(part) for part in label.split(' / '))}"
