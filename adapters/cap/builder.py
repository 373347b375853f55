"""CAP 1.2 messages for an alert to the population, built with lxml (which escapes what the text holds)
and checked against the OASIS schema before anyone records or sends them.

The area is the commune's: its boundary from the project's geography as CAP polygons (one per part of
the commune, WGS 84 `lat,lon` pairs, simplified to a few tens of metres so that a broadcast system can
carry it) and its INSEE code as a geocode, so a receiver that has its own map of communes needs no
polygon at all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import shapely
from lxml import etree

from adapters.cap import schema
from domain.population_alert import clean_text

LANGUAGE = "fr-FR"
GEOCODE_INSEE = "INSEE"
# About 30 m at French latitudes: keeps a commune's outline recognisable in a few hundred points.
SIMPLIFY_DEGREES = 0.0003


@dataclass(frozen=True)
class Area:
    desc: str
    polygons: tuple[str, ...] = ()
    geocodes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Message:
    identifier: str
    sender: str
    sent: datetime  # aware; written in the territory's zone with its offset, whole seconds
    zone: ZoneInfo
    msg_type: str  # Alert, Update, Cancel
    exercise: bool = False
    references: Sequence[str] = ()
    note: str | None = None
    content: Mapping[str, Any] | None = None  # domain.population_alert.checked_content(); None: no <info>
    sender_name: str = ""
    area: Area | None = None

    @property
    def sent_text(self) -> str:
        return cap_time(self.sent, self.zone)


def cap_time(moment: datetime, zone: ZoneInfo) -> str:
    """CAP's dateTime: local time with its offset, no fraction, never « Z » (the schema's pattern)."""
    if moment.tzinfo is None:
        raise ValueError("CAP needs an aware time")
    return moment.astimezone(zone).replace(microsecond=0).isoformat()


def polygons_of(geometry: Mapping[str, Any] | None) -> tuple[str, ...]:
    """CAP polygons of a GeoJSON (Multi)Polygon: each part's outer ring, `lat,lon` pairs, closed, ≥ 4 points."""
    if not geometry:
        return ()
    geom = shapely.from_geojson(_json(geometry))
    simple = shapely.simplify(geom, SIMPLIFY_DEGREES, preserve_topology=True)
    out = []
    for part in shapely.get_parts(simple):
        if part.is_empty or part.geom_type != "Polygon":
            continue
        ring = list(part.exterior.coords)
        if len(ring) < 4:
            continue
        if ring[0] != ring[-1]:
            ring.append(ring[0])
        out.append(" ".join(f"{lat:.5f},{lon:.5f}" for lon, lat, *_ in ring))
    return tuple(out)


def _json(value: Mapping[str, Any]) -> str:
    import orjson

    return orjson.dumps(value).decode()


def _text(parent: etree._Element, name: str, value: str | None) -> None:
    if value is None:
        return
    element = etree.SubElement(parent, f"{{{schema.CAP_NS}}}{name}")
    element.text = clean_text(value) if name not in ("identifier", "sender", "sent", "references") else value


def build(message: Message) -> bytes:
    """The CAP XML of the message (UTF-8, with its declaration), valid against the schema or InvalidCap."""
    root = etree.Element(f"{{{schema.CAP_NS}}}alert", nsmap={None: schema.CAP_NS})
    _text(root, "identifier", message.identifier)
    _text(root, "sender", message.sender)
    _text(root, "sent", message.sent_text)
    _text(root, "status", "Exercise" if message.exercise else "Actual")
    _text(root, "msgType", message.msg_type)
    _text(root, "scope", "Public")
    if message.note:
        _text(root, "note", message.note)
    if message.references:
        _text(root, "references", " ".join(message.references))
    if message.content is not None:
        _info(root, message)
    xml = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return schema.check(xml)


def _info(root: etree._Element, message: Message) -> None:
    content = message.content or {}
    info = etree.SubElement(root, f"{{{schema.CAP_NS}}}info")
    _text(info, "language", LANGUAGE)
    _text(info, "category", content["category"])
    _text(info, "event", content["event"])
    if content.get("response_type"):
        _text(info, "responseType", content["response_type"])
    _text(info, "urgency", content["urgency"])
    _text(info, "severity", content["severity"])
    _text(info, "certainty", content["certainty"])
    if content.get("expires"):
        _text(info, "expires", cap_time(datetime.fromisoformat(content["expires"]), message.zone))
    if message.sender_name:
        _text(info, "senderName", message.sender_name)
    _text(info, "headline", content["headline"])
    _text(info, "description", content["description"])
    _text(info, "instruction", content["instruction"])
    if message.area is not None:
        area = etree.SubElement(info, f"{{{schema.CAP_NS}}}area")
        _text(area, "areaDesc", message.area.desc)
        for polygon in message.area.polygons:
            _text(area, "polygon", polygon)
        for name, value in message.area.geocodes.items():
            geocode = etree.SubElement(area, f"{{{schema.CAP_NS}}}geocode")
            _text(geocode, "valueName", name)
            _text(geocode, "value", value)
