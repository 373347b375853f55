"""Times as people read and type them: in the territory's own zone, the zone stated.

One rule for every door (the dashboard's JSON, the CLI, the after-action report): a time a person
reads is shown in the zone of the territory it concerns — Europe/Paris for metropolitan France, the
overseas département's or collectivité's own zone otherwise — never the machine's, and says which
zone it is; a time a person types without an offset is read in that zone. Pure: no I/O.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from domain.geography import Level

PARIS = ZoneInfo("Europe/Paris")

# Overseas départements and collectivités of the reference geography (adapters/reference/geo).
_OVERSEAS: dict[str, str] = {
    "971": "America/Guadeloupe",
    "972": "America/Martinique",
    "973": "America/Cayenne",
    "974": "Indian/Reunion",
    "975": "America/Miquelon",
    "976": "Indian/Mayotte",
    "977": "America/St_Barthelemy",
    "978": "America/Marigot",
    "984": "Indian/Kerguelen",
    "986": "Pacific/Wallis",
    "987": "Pacific/Tahiti",
    "988": "Pacific/Noumea",
    "989": "Pacific/Pitcairn",  # Clipperton: UTC−8, as its rare visitors keep it
}
# Zones de défense outside metropolitan France, by their seat's département.
_OVERSEAS_ZONES: dict[str, str] = {
    "antilles": "972", "guyane": "973", "ocean-indien": "974", "nouvelle-caledonie": "988", "polynesie": "987",
}
# How the zone is stated to a French reader.
ZONE_NAMES: dict[str, str] = {
    "Europe/Paris": "heure de Paris",
    "America/Guadeloupe": "heure de Guadeloupe",
    "America/Martinique": "heure de Martinique",
    "America/Cayenne": "heure de Guyane",
    "Indian/Reunion": "heure de La Réunion",
    "America/Miquelon": "heure de Saint-Pierre-et-Miquelon",
    "Indian/Mayotte": "heure de Mayotte",
    "America/St_Barthelemy": "heure de Saint-Barthélemy",
    "America/Marigot": "heure de Saint-Martin",
    "Indian/Kerguelen": "heure des Terres australes",
    "Pacific/Wallis": "heure de Wallis-et-Futuna",
    "Pacific/Tahiti": "heure de Tahiti",
    "Pacific/Noumea": "heure de Nouméa",
    "Pacific/Pitcairn": "heure de Clipperton",
    "UTC": "UTC",
}
_ZONES = {key: ZoneInfo(key) for key in {*_OVERSEAS.values(), "Europe/Paris"}}
_CLOCK = re.compile(r"^\s*(\d{1,2})[:h](\d{2})(?::(\d{2}))?\s*(Z|[+-]\d{2}:?\d{2})?\s*$", re.IGNORECASE)


class BadTime(ValueError):
    """A time a person typed that cannot be read (message in French)."""


def zone_of_departement(departement: str | None) -> ZoneInfo:
    return _ZONES.get(_OVERSEAS.get(departement or "", ""), PARIS)


def zone_of(level: Level | str, code: str | None) -> ZoneInfo:
    """The zone of a territory (a commune's is its département's; a zone de défense's, its seat's)."""
    level = Level(level)
    code = code or ""
    if level is Level.COMMUNE:
        return zone_of_departement(code[:3] if code.startswith("97") or code.startswith("98") else code[:2])
    if level is Level.DEPARTEMENT:
        return zone_of_departement(code)
    if level is Level.ZONE:
        return zone_of_departement(_OVERSEAS_ZONES.get(code))
    return PARIS


def zone_name(zone: ZoneInfo) -> str:
    return ZONE_NAMES.get(zone.key, zone.key)


def format_local(moment: datetime | str | None, zone: ZoneInfo, *, seconds: bool = False,
                 stated: bool = True, never: str = "jamais") -> str:
    """`07/12/2026 18:15 (heure de Paris)`: the moment in `zone`, the zone stated (`stated=False` for the
    cells of a table whose heading states it)."""
    if isinstance(moment, str):
        text = moment
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            return text
    if moment is None:
        return never
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # stored times are aware; a naive one can only be UTC
    text = moment.astimezone(zone).strftime("%d/%m/%Y %H:%M:%S" if seconds else "%d/%m/%Y %H:%M")
    return f"{text} ({zone_name(zone)})" if stated else text


def parse_local(text: str, zone: ZoneInfo, *, today: date | None = None) -> datetime:
    """A time a person typed: ISO 8601 (`2026-12-07T10:00`, a space allowed), or a clock time (`10:00`,
    `10h00`: today in `zone`). Read in `zone` unless it carries its own offset. Aware, in UTC."""
    value = text.strip()
    clock = _CLOCK.match(value)
    try:
        if clock:
            hour, minute, second = int(clock[1]), int(clock[2]), int(clock[3] or 0)
            offset = datetime.fromisoformat("2000-01-01T00:00" + clock[4].upper()).tzinfo if clock[4] else None
            day = today or datetime.now(offset or zone).date()
            parsed = datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=offset)
        else:
            parsed = datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        raise BadTime(
            f"heure invalide : {text!r} (attendu : 2026-12-07T10:00, 10:00, ou avec un décalage : 10:00+01:00)"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    return parsed.astimezone(UTC)
