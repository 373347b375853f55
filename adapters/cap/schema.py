"""Validation against the OASIS CAP 1.2 XML Schema shipped in adapters/reference/cap (SOURCES.md).

The compiled schema is kept per thread: an lxml XMLSchema keeps its error log on the object.
"""

from __future__ import annotations

import threading
from pathlib import Path

from lxml import etree

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
XSD = Path(__file__).resolve().parent.parent / "reference" / "cap" / "CAP-v1.2.xsd"
_local = threading.local()
_compiling = threading.Lock()  # libxml2's schema compiler is not safe to run in two threads at once


class InvalidCap(ValueError):
    """A message the CAP 1.2 schema refuses: a bug in Tocsin's builder, never sent."""


def _schema() -> etree.XMLSchema:
    compiled = getattr(_local, "schema", None)
    if compiled is None:
        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
        with _compiling:
            compiled = etree.XMLSchema(etree.parse(str(XSD), parser))
        _local.schema = compiled
    return compiled


def errors(xml: bytes) -> list[str]:
    """The schema's complaints about a message (empty: valid)."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        doc = etree.fromstring(xml, parser)
    except etree.XMLSyntaxError as e:
        return [f"XML mal formé : {e}"]
    schema = _schema()
    if schema.validate(doc):
        return []
    return [f"ligne {e.line} : {e.message}" for e in schema.error_log]


def check(xml: bytes) -> bytes:
    """The message, if the schema accepts it; InvalidCap otherwise."""
    found = errors(xml)
    if found:
        raise InvalidCap("; ".join(found))
    return xml
