"""The official CISU reference files (adapters/reference/cisu) and what we derive from them once.

Single source of truth for: which message keys are use cases, which JSON schema validates each one,
whether it travels with an RC-DE header, and its XML namespace.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

REFERENCE_DIR = Path(__file__).resolve().parent.parent / "reference" / "cisu"
JSON_SCHEMA_DIR = REFERENCE_DIR / "json-schema"
XSD_DIR = REFERENCE_DIR / "xsd"

EDXL_NS = "urn:oasis:names:tc:emergency:EDXL:DE:2.0"
RC_DE_NS = "urn:emergency:eda:1.9"  # official namespace of the RC-DE `message`
CISU_NS = "urn:emergency:cisu:3.0"  # variant some peers use for message and use case alike
XLINK_NS = "http://www.w3.org/1999/xlink"
XSD_NS = "http://www.w3.org/2001/XMLSchema"

# JSON path of the RC-DE message inside a JSON wire message (content[0]).
MESSAGE_PATH: tuple[str | int, ...] = ("content", 0, "jsonContent", "embeddedJsonContent", "message")


@dataclass(frozen=True)
class UseCase:
    key: str  # JSON key / XML local name, e.g. 'createCase'
    schema_file: str  # e.g. 'RC-EDA.schema.json'
    needs_header: bool  # validated together with RC-DE (the oneOf alternative has the allOf)
    xml_namespace: str | None  # e.g. 'urn:emergency:eda:1.9:createCase'


@functools.cache
def load_json_schema(file_name: str) -> dict:
    return json.loads((JSON_SCHEMA_DIR / file_name).read_bytes())


@functools.cache
def use_cases() -> dict[str, UseCase]:
    """Use cases listed in EDXL-DE-full.schema.json's EmbeddedJsonContent.oneOf, with XSD namespaces."""
    full = load_json_schema("EDXL-DE-full.schema.json")
    namespaces = _xml_use_case_namespaces()
    found: dict[str, UseCase] = {}
    for alternative in full["definitions"]["EmbeddedJsonContent"]["oneOf"]:
        parts = alternative.get("allOf", [alternative])
        needs_header = any(
            part["properties"]["message"].get("$ref") == "RC-DE.schema.json" for part in parts
        )
        for part in parts:
            message = part["properties"]["message"]
            for key in message.get("required", ()):
                ref = message["properties"][key]["$ref"]
                found[key] = UseCase(key, ref, needs_header, namespaces.get(key))
    return found


def _xml_use_case_namespaces() -> dict[str, str]:
    """Local name -> namespace of every element the XSD allows next to (or instead of) the header."""
    tree = etree.parse(str(XSD_DIR / "RC-XML-ContentType.xsd"), _schema_file_parser())
    result = {}
    for ref_element in tree.iter(f"{{{XSD_NS}}}element"):
        ref = ref_element.get("ref")
        if ref and ":" in ref:
            prefix, local = ref.split(":", 1)
            result[local] = ref_element.nsmap[prefix]
    return result


def _schema_file_parser() -> etree.XMLParser:
    # Our own reference files, but no reason to let them reach the network either.
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
