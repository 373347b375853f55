"""Property tests: any input gives a WireMessage or an InvalidMessage; JSON and XML round-trip.

(a) random bytes, random JSON, byte-level and structural mutations of valid messages never raise
    anything but InvalidMessage (and never the catch-all 'internal' reason);
(b) for the examples and schema-respecting variants of them, parse(to_json_bytes(w)) and
    parse(to_xml_bytes(w)) give back w's use case, type for type.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import jsonschema_rs
import orjson
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from lxml import etree

from adapters.cisu import (
    SUPPORTED_KINDS,
    InvalidMessage,
    WireMessage,
    parse_wire_message,
    to_json_bytes,
    to_xml_bytes,
    wrap_use_case,
)
from tests.support.paths import NEXSIS_FIXTURES, REFERENCE

EXAMPLES = sorted(REFERENCE.glob("examples/*/*.json")) + sorted(NEXSIS_FIXTURES.glob("*.json"))
SCHEMA_FILES = {
    "createCase": "RC-EDA.schema.json", "emsi": "EMSI.schema.json",
    "resourcesInfoCisu": "RC-RI.schema.json", "reference": "RC-REF.schema.json",
    "resourcesRequest": "RS-DR.schema.json", "resourcesResponse": "RS-RR.schema.json",
    "resourcesStatus": "RS-SR.schema.json",
}
CISU_NS = "urn:emergency:cisu:3.0"
# CISU_FUZZ_EXAMPLES=5000 for a longer campaign; the default keeps the file well under 30 s.
EXAMPLES_PER_TEST = int(os.environ.get("CISU_FUZZ_EXAMPLES", "120"))
FAST = settings(max_examples=EXAMPLES_PER_TEST, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def wrap(kind: str, use_case: dict) -> dict:
    return wrap_use_case(
        kind, use_case, distribution_id="fr.fire.sdis69.cgo_0001", sender_id="fr.fire.sdis69.cgo",
        sent_at="2024-05-02T14:03:00+02:00", recipient_id="fr.health.samu690",
    )


def example(path: Path) -> tuple[str, dict]:
    (kind, use_case), = json.loads(path.read_bytes()).items()
    return kind, use_case


WIRES = [wrap(*example(path)) for path in EXAMPLES]
SEEDS = (
    [(REFERENCE / "envelopes/RC-EDA.json").read_bytes(), (REFERENCE / "envelopes/RC-EDA.xml").read_bytes()]
    + [to_json_bytes(wire) for wire in WIRES[::3]]
    + [to_xml_bytes(wire) for wire in WIRES[1::3]]
    + [to_xml_bytes(wire, namespace=CISU_NS) for wire in WIRES[2::3]]
)
CONTENT_TYPES = st.sampled_from([None, "application/json", "application/xml", "text/xml; charset=utf-8", "text/plain"])


def obeys_contract(raw: bytes, content_type: str | None = None) -> WireMessage | None:
    try:
        message = parse_wire_message(raw, content_type)
    except InvalidMessage as error:
        assert error.reasons
        assert all(reason.code and isinstance(reason.message, str) and reason.message for reason in error.reasons)
        assert "internal" not in {reason.code for reason in error.reasons}, error.reasons
        assert error.encoding in (None, "json", "xml")
        return None
    assert isinstance(message, WireMessage) and message.kind in SUPPORTED_KINDS
    return message


def canonical(value) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


# --- (a) robustness ---------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=20), children, max_size=5),
    max_leaves=30,
)


@FAST
@given(st.binary(max_size=3000), CONTENT_TYPES)
def test_random_bytes(raw, content_type):
    obeys_contract(raw, content_type)


@FAST
@given(json_values)
def test_random_json(value):
    obeys_contract(json.dumps(value).encode())


@FAST
@given(st.sampled_from(SEEDS), st.data())
def test_byte_mutations_of_valid_messages(seed, data):
    assert obeys_contract(seed) is not None
    raw = bytearray(seed)
    for _ in range(data.draw(st.integers(1, 3))):
        position = data.draw(st.integers(0, len(raw)))
        operation = data.draw(st.sampled_from(["truncate", "insert", "delete", "replace"]))
        if operation == "truncate":
            del raw[position:]
        elif operation == "insert":
            raw[position:position] = data.draw(
                st.binary(max_size=12) | st.sampled_from([b"<", b"&", b"]]>", b'"', b"{", b"<!DOCTYPE a>", b"\xc3"])
            )
        elif operation == "delete":
            del raw[position:position + data.draw(st.integers(1, 40))]
        elif raw and position < len(raw):
            raw[position] = data.draw(st.integers(0, 255))
    obeys_contract(bytes(raw), data.draw(CONTENT_TYPES))


def random_path(data, value) -> list:
    path: list = []
    while isinstance(value, (dict, list)) and value and data.draw(st.booleans()):
        key = data.draw(st.sampled_from(list(value) if isinstance(value, dict) else list(range(len(value)))))
        path.append(key)
        value = value[key]
    return path


@FAST
@given(st.sampled_from(WIRES), st.data())
def test_structural_mutations_of_valid_messages(wire, data):
    wire = json.loads(json.dumps(wire))
    for _ in range(data.draw(st.integers(1, 3))):
        path = random_path(data, wire)
        if not path:
            continue
        parent = wire
        for key in path[:-1]:
            parent = parent[key]
        operation = data.draw(st.sampled_from(["drop", "replace", "wrap", "stringify"]))
        if operation == "drop":
            del parent[path[-1]]
        elif operation == "replace":
            parent[path[-1]] = data.draw(json_values)
        elif operation == "wrap":
            parent[path[-1]] = [parent[path[-1]]]
        else:
            parent[path[-1]] = str(parent[path[-1]])
    obeys_contract(to_json_bytes(wire))
    try:
        raw = to_xml_bytes(wire, namespace=data.draw(st.sampled_from(["urn:emergency:eda:1.9", CISU_NS])))
    except ValueError:  # the writer refuses what XML cannot carry
        return
    obeys_contract(raw)


@FAST
@given(st.sampled_from([seed for seed in SEEDS if seed.lstrip()[:1] == b"<"]), st.data())
def test_element_mutations_of_valid_xml(seed, data):
    root = etree.fromstring(seed)
    elements = list(root.iter())
    for _ in range(data.draw(st.integers(1, 3))):
        element = data.draw(st.sampled_from(elements))
        parent = element.getparent()
        operation = data.draw(st.sampled_from(["remove", "duplicate", "text", "rename", "child"]))
        if operation == "remove" and parent is not None:
            parent.remove(element)
            elements = list(root.iter())
        elif operation == "duplicate" and parent is not None:
            parent.insert(parent.index(element), etree.fromstring(etree.tostring(element)))
            elements = list(root.iter())
        elif operation == "text":
            element.text = data.draw(st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=10))
        elif operation == "rename":
            name = data.draw(st.sampled_from(["caseId", "lat", "message", "resource", "x", "emsi", "content"]))
            namespace = etree.QName(element).namespace
            element.tag = f"{{{namespace or ''}}}{name}" if namespace else name
        else:
            etree.SubElement(element, element.tag).text = "1"
            elements = list(root.iter())
    obeys_contract(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def full_schema_validator() -> jsonschema_rs.Validator:
    """The reference's one-shot schema (the 23-way oneOf), as a cross-check of our split validation.

    Every CISU file has the same $id; dropping it from the referenced files lets their internal
    '#/definitions/…' resolve within themselves.
    """
    def retrieve(uri: str) -> dict:
        document = json.loads((REFERENCE / "json-schema" / uri.rsplit("/", 1)[-1]).read_bytes())
        document.pop("$id", None)
        return document

    full = json.loads((REFERENCE / "json-schema/EDXL-DE-full.schema.json").read_bytes())
    return jsonschema_rs.validator_for(full, retriever=retrieve, validate_formats=True)


FULL_SCHEMA = full_schema_validator()


@FAST
@given(st.sampled_from(WIRES + [json.loads(SEEDS[0])]), st.data())
def test_split_validation_agrees_with_the_full_oneof_schema(wire, data):
    from adapters.cisu.validation import validate_wire

    wire = json.loads(json.dumps(wire))
    for _ in range(data.draw(st.integers(0, 2))):
        path = random_path(data, wire)
        if path:
            parent = wire
            for key in path[:-1]:
                parent = parent[key]
            if data.draw(st.booleans()):
                del parent[path[-1]]
            else:
                parent[path[-1]] = data.draw(json_values)
    reasons = validate_wire(wire).reasons
    if not reasons:
        assert FULL_SCHEMA.is_valid(wire)
    elif FULL_SCHEMA.is_valid(wire):
        # Only where we are knowingly stricter: a single content object, no extra keys in it.
        assert all(r.code == "envelope" and r.path.startswith("$.content[") for r in reasons), reasons


# --- (b) round trips ----------------------------------------------------------------------------


def resolve(root: dict, node: dict) -> dict:
    while "$ref" in node:
        target = root
        for part in node["$ref"][2:].split("/"):
            target = target[part]
        node = target
    return node


def mutation_sites(root: dict, node: dict, value, path: tuple) -> list[tuple[str, tuple]]:
    """Places where a change keeps the use case valid: optional keys, free text, numbers, booleans."""
    node = resolve(root, node)
    sites: list[tuple[str, tuple]] = []
    if isinstance(value, dict):
        required = set(node.get("required", ()))
        for key, sub in value.items():
            if key not in required:
                sites.append(("drop", path + (key,)))
            sites += mutation_sites(root, node.get("properties", {}).get(key, {}), sub, path + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            sites += mutation_sites(root, node.get("items", {}), item, path + (index,))
    elif node.get("type") == "string" and not {"enum", "pattern", "format"} & set(node):
        sites.append(("text", path))
    elif node.get("type") in ("number", "integer", "boolean"):
        sites.append((node["type"], path))
    return sites


SCHEMAS = {kind: json.loads((REFERENCE / "json-schema" / name).read_bytes()) for kind, name in SCHEMA_FILES.items()}
XML_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufffe\uffff")
    | st.sampled_from("\t\n\r <>&'\""),
    max_size=30,
)
NEW_VALUES = {
    "text": XML_TEXT,
    "number": st.floats(allow_nan=False, allow_infinity=False, width=64) | st.integers(-(10**12), 10**12),
    "integer": st.integers(-(2**31), 2**31 - 1),  # xs:int
    "boolean": st.booleans(),
}


@st.composite
def use_case_variants(draw) -> tuple[str, dict]:
    kind, use_case = example(draw(st.sampled_from(EXAMPLES)))
    use_case = json.loads(json.dumps(use_case))
    sites = mutation_sites(SCHEMAS[kind], SCHEMAS[kind], use_case, ())
    chosen = draw(st.lists(st.sampled_from(sites), max_size=8, unique=True)) if sites else []
    for operation, path in sorted(chosen, key=lambda site: -len(site[1])):  # deepest first
        parent = use_case
        try:
            for key in path[:-1]:
                parent = parent[key]
            if operation == "drop":
                del parent[path[-1]]
            else:
                parent[path[-1]] = draw(NEW_VALUES[operation])
        except (KeyError, IndexError, TypeError):  # an ancestor was dropped already
            continue
    return kind, use_case


def assert_round_trip(kind: str, use_case: dict) -> None:
    wire = wrap(kind, use_case)
    from_json = parse_wire_message(to_json_bytes(wire))
    assert canonical(from_json.use_case) == canonical(use_case)
    for namespace in ("urn:emergency:eda:1.9", CISU_NS):
        from_xml = parse_wire_message(to_xml_bytes(wire, namespace=namespace))
        assert canonical(from_xml.use_case) == canonical(use_case)
        assert canonical(from_xml.header) == canonical(from_json.header)
        assert canonical(from_xml.envelope) == canonical(from_json.envelope)


def test_examples_round_trip():
    for path in EXAMPLES:
        assert_round_trip(*example(path))


@settings(max_examples=EXAMPLES_PER_TEST + 30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(use_case_variants())
def test_generated_variants_round_trip(variant):
    kind, use_case = variant
    try:
        parse_wire_message(to_json_bytes(wrap(kind, use_case)))
    except InvalidMessage as error:  # the site analysis is conservative; should not happen
        assume(False)
        raise AssertionError(error.reasons) from error
    assert_round_trip(kind, use_case)


@FAST
@given(
    st.integers(0, 80), st.integers(0, 80), st.sampled_from(["{", "[", "mixed"]), st.text(alphabet="{[]} a", max_size=8)
)
def test_json_depth_refusal_is_the_full_walk_s(depth, siblings, kind, text):
    """The bracket count that lets most messages skip the depth walk never changes its verdict."""
    from adapters.cisu.limits import MAX_DEPTH
    from adapters.cisu.strict_json import _deeper_than, load_json

    value: object = text
    for level in range(depth):
        if kind == "{" or kind == "mixed" and level % 2:
            value = {"k": value, "s": [[]] * (siblings if level == 0 else 0)}
        else:
            value = [value]
    raw = json.dumps(value).encode()
    try:
        load_json(raw)
        refused = False
    except InvalidMessage as error:
        refused = [r.code for r in error.reasons] == ["too-deep"]
    assert refused == _deeper_than(json.loads(raw), MAX_DEPTH)
