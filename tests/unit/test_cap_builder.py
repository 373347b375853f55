"""CAP 1.2 messages built by Tocsin validate against the OASIS schema shipped in the project, whatever the
text people typed, and say what CAP requires (namespace, sent with its offset, closed polygons)."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from adapters.cap import schema
from adapters.cap.builder import Area, Message, build, cap_time, polygons_of
from domain.local_time import PARIS
from domain.population_alert import (
    CATEGORIES,
    CERTAINTIES,
    LIMITS,
    RESPONSE_TYPES,
    SEVERITIES,
    URGENCIES,
    Refused,
    checked_content,
    clean_text,
)

NS = {"cap": schema.CAP_NS}
REFERENCE = schema.XSD.parent
SENT = datetime(2026, 12, 7, 22, 30, 15, 123456, tzinfo=UTC)
RAW = {"event": "Inondation", "headline": "Crue de la Vilaine", "description": "La Vilaine déborde.",
       "instruction": "Montez à l'étage.", "category": "Met", "urgency": "Immediate", "severity": "Severe",
       "certainty": "Observed", "response_type": "Shelter"}


def message(content: dict | None, **kw) -> Message:
    base = dict(identifier="tocsin.x.1", sender="tocsin@localhost", sent=SENT, zone=PARIS, msg_type="Alert",
                content=content, sender_name="Mairie de Guichen",
                area=Area("Guichen", ("48.0,-1.8 48.1,-1.8 48.1,-1.7 48.0,-1.8",), {"INSEE": "35126"}))
    return Message(**{**base, **kw})


def test_the_shipped_schema_is_the_oasis_one_and_its_provenance_is_written_down():
    xsd = etree.parse(str(schema.XSD)).getroot()
    assert xsd.get("targetNamespace") == "urn:oasis:names:tc:emergency:cap:1.2"
    sources = (REFERENCE / "SOURCES.md").read_text()
    for name in ("CAP-v1.2.xsd", "cap_amber_alert_example.xml"):
        assert hashlib.sha256((REFERENCE / name).read_bytes()).hexdigest() in sources
    assert schema.errors((REFERENCE / "cap_amber_alert_example.xml").read_bytes()) == []


def test_a_built_alert_validates_and_says_what_cap_requires():
    xml = build(message(checked_content(RAW, "Guichen")))
    assert schema.errors(xml) == []
    root = etree.fromstring(xml)
    assert root.tag == f"{{{schema.CAP_NS}}}alert"
    assert root.findtext("cap:sent", namespaces=NS) == "2026-12-07T23:30:15+01:00"  # the zone's offset, no fraction
    assert root.findtext("cap:status", namespaces=NS) == "Actual"
    assert root.findtext("cap:info/cap:language", namespaces=NS) == "fr-FR"
    assert root.findtext("cap:info/cap:area/cap:geocode/cap:value", namespaces=NS) == "35126"


def test_the_schema_refuses_what_cap_forbids():
    xml = build(message(checked_content(RAW, "Guichen")))
    broken = xml.replace(b"<msgType>Alert</msgType>", b"<msgType>Alerte</msgType>")
    assert schema.errors(broken)
    assert schema.errors(xml.replace(b"+01:00</sent>", b"Z</sent>"))  # CAP wants an offset, never Z
    with pytest.raises(schema.InvalidCap):
        schema.check(broken)


def test_cancel_and_update_carry_their_references_and_exercise_its_status():
    refs = ("tocsin@localhost,tocsin.x.1,2026-12-07T23:30:15+01:00",)
    xml = build(message(None, msg_type="Cancel", identifier="tocsin.x.2", references=refs, note="Fin de crue",
                        exercise=True))
    root = etree.fromstring(xml)
    assert root.findtext("cap:references", namespaces=NS) == refs[0]
    assert root.findtext("cap:status", namespaces=NS) == "Exercise"
    assert root.find("cap:info", namespaces=NS) is None


def test_cap_time_in_an_overseas_zone():
    assert cap_time(SENT, ZoneInfo("America/Cayenne")) == "2026-12-07T19:30:15-03:00"
    with pytest.raises(ValueError):
        cap_time(datetime(2026, 1, 1), PARIS)


def test_a_commune_boundary_becomes_closed_cap_polygons():
    square = {"type": "MultiPolygon", "coordinates": [
        [[[-1.8, 48.0], [-1.7, 48.0], [-1.7, 48.1], [-1.8, 48.1], [-1.8, 48.0]]],
        [[[2.0, 43.0], [2.1, 43.0], [2.1, 43.1], [2.0, 43.0]]]]}
    polygons = polygons_of(square)
    assert len(polygons) == 2
    for p in polygons:
        pairs = p.split()
        assert len(pairs) >= 4 and pairs[0] == pairs[-1]
        lat, lon = map(float, pairs[0].split(","))
        assert 40 < lat < 50 and -5 < lon < 5  # lat,lon order (WGS 84), not GeoJSON's lon,lat
    assert polygons_of(None) == ()


def test_content_outside_cap_value_lists_is_refused_in_french():
    with pytest.raises(Refused, match="valeurs CAP"):
        checked_content({**RAW, "severity": "Grave"}, "Guichen")
    with pytest.raises(Refused, match="obligatoire"):
        checked_content({**RAW, "instruction": " \x00\u200b "}, "Guichen")
    with pytest.raises(Refused, match="160"):
        checked_content({**RAW, "headline": "x" * 161}, "Guichen")
    assert checked_content({**RAW, "area_desc": ""}, "Guichen")["area_desc"] == "Guichen"


_ANY_TEXT = st.text(alphabet=st.characters(codec=None, exclude_categories=()), min_size=0, max_size=300)


@settings(max_examples=150, deadline=None)
@given(texts=st.lists(_ANY_TEXT, min_size=6, max_size=6), category=st.sampled_from(list(CATEGORIES)),
       urgency=st.sampled_from(list(URGENCIES)), severity=st.sampled_from(list(SEVERITIES)),
       certainty=st.sampled_from(list(CERTAINTIES)), response=st.none() | st.sampled_from(list(RESPONSE_TYPES)),
       offset=st.integers(-10**8, 10**8))
def test_any_text_gives_a_valid_message_that_says_the_text_back(texts, category, urgency, severity, certainty,
                                                                 response, offset):
    event, headline, description, instruction, area, note = texts
    raw = {"event": event or "é", "headline": headline or "<&>", "description": description or "]]>",
           "instruction": instruction or "\"'", "area_desc": area, "category": category, "urgency": urgency,
           "severity": severity, "certainty": certainty, "response_type": response}
    try:
        content = checked_content(raw, "Commune de Guichen (35126)")
    except Refused:
        return  # empty once cleaned, or too long: refused before any XML
    sent = SENT + timedelta(seconds=offset)
    xml = build(message(content, sent=sent, note=clean_text(note) or None,
                        area=Area(content["area_desc"], (), {"INSEE": "35126"})))
    assert schema.errors(xml) == []
    root = etree.fromstring(xml)
    for key, tag in (("headline", "headline"), ("description", "description"), ("instruction", "instruction"),
                     ("area_desc", "area/cap:areaDesc")):
        assert root.findtext(f"cap:info/cap:{tag}", namespaces=NS) == content[key]
        assert len(content[key]) <= LIMITS[key]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d", root.findtext("cap:sent", namespaces=NS) or "")
