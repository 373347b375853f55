"""Building wire messages: wrap a use case in EDXL-DE + RC-DE, serialise as JSON or XML.

XML children are written in the order of the XSD sequences. That order is read once from the
official XSDs with xmlschema (a slow load, done lazily on the first to_xml_bytes call).

A few use cases (`error`, `technicalNoreq`, `customContent`…) travel without the RC-DE header: the
JSON schema's alternative for them has no RC-DE part, and the XSD puts them in a message of their own
type (xsd/EDXL-DE-full-no-header.xsd), where the header's elements are not allowed.
"""

from __future__ import annotations

import copy
import functools
import json
import math
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, cast

import orjson
from lxml import etree

from .reference import CISU_NS, EDXL_NS, RC_DE_NS, XLINK_NS, use_cases
from .xsd import FULL_XSD, NO_HEADER_XSD

if TYPE_CHECKING:  # xmlschema itself is imported lazily, by _xsd()
    import xmlschema
    from xmlschema.validators import XsdComplexType, XsdElement, XsdGroup, XsdType

EXPIRY_YEARS = 50  # what the official hub samples use: a relayed message must never expire in transit


def wrap_use_case(
    kind: str,
    use_case: dict,
    *,
    distribution_id: str,
    sender_id: str,
    sent_at: str,
    recipient_id: str,
    message_id: str | None = None,
    status: str = "Actual",
    kind_of_distribution: str = "Report",
    expires_at: str | None = None,
) -> dict:
    """A complete JSON-shaped wire message (envelope + RC-DE header + the use case, deep-copied).

    Use cases that travel without the header (e.g. `error`) get none, so both encodings can carry them.
    """
    catalogue = use_cases()
    if kind not in catalogue:
        raise ValueError(f"unknown CISU use case {kind!r}")
    message: dict = {kind: copy.deepcopy(use_case)}
    if catalogue[kind].needs_header:
        message = {
            "messageId": message_id or distribution_id,
            "sender": {"name": _system_name(sender_id), "URI": f"hubex:{sender_id}"},
            "sentAt": sent_at,
            "kind": kind_of_distribution,
            "status": status,
            "recipient": [{"name": _system_name(recipient_id), "URI": f"hubex:{recipient_id}"}],
            **message,
        }
    return {
        "distributionID": distribution_id,
        "senderID": sender_id,
        "dateTimeSent": sent_at,
        "dateTimeExpires": expires_at or _far_expiry(sent_at),
        "distributionStatus": status,
        "distributionKind": kind_of_distribution,
        "descriptor": {
            "language": "fr-FR",
            "explicitAddress": {"explicitAddressScheme": "hubex", "explicitAddressValue": recipient_id},
        },
        "content": [{"jsonContent": {"embeddedJsonContent": {"message": message}}}],
    }


def _system_name(hub_id: str) -> str:
    return hub_id.rsplit(".", 1)[-1]  # 'fr.health.samuA' -> 'samuA', as in the hub samples


def _far_expiry(sent_at: str) -> str:
    sent = datetime.fromisoformat(sent_at)
    try:
        expires = sent.replace(year=sent.year + EXPIRY_YEARS)
    except ValueError:  # 29 February, and no leap year 50 years later
        expires = sent.replace(year=sent.year + EXPIRY_YEARS, day=28)
    offset = sent_at[-6:] if sent_at[-6:-5] in ("+", "-") else expires.strftime("%z")
    return expires.strftime("%Y-%m-%dT%H:%M:%S") + offset


def to_json_bytes(wire: dict) -> bytes:
    try:
        return orjson.dumps(wire)
    except orjson.JSONEncodeError:  # e.g. integers beyond 64 bits, which the stdlib handles
        return json.dumps(wire, ensure_ascii=False, allow_nan=False).encode("utf-8")


def to_xml_bytes(wire: dict, *, namespace: str = RC_DE_NS) -> bytes:
    """The XML encoding of a JSON-shaped wire message.

    namespace=RC_DE_NS gives the official form (valid against xsd/EDXL-DE-full.xsd, or
    xsd/EDXL-DE-full-no-header.xsd for the use cases without header, such as `error`);
    namespace=CISU_NS gives the variant of envelopes/RC-EDA.xml (message and use case in cisu:3.0).
    Raises ValueError for data XML cannot carry (unknown fields, null, control characters).
    """
    if namespace not in (RC_DE_NS, CISU_NS):
        raise ValueError(f"unsupported RC-DE namespace {namespace!r}")
    root_decl = _xsd(_without_header(wire)).elements["edxlDistribution"]
    root = etree.Element(root_decl.name, nsmap={None: EDXL_NS, "xlink": XLINK_NS})
    root.set(f"{{{XLINK_NS}}}type", "extended")
    _write_children(root, root_decl, wire, "$", namespace)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _without_header(wire: dict) -> bool:
    """Whether the message carries a use case that the XSD wants without the RC-DE header."""
    catalogue = use_cases()
    content = wire.get("content")
    for item in content if isinstance(content, list) else ():
        message: object = item
        for key in ("jsonContent", "embeddedJsonContent", "message"):
            message = message.get(key) if isinstance(message, dict) else None
        if isinstance(message, dict) and any(key in catalogue and not catalogue[key].needs_header for key in message):
            return True
    return False


# JSON-only levels of the envelope and their XML element names.
_XML_NAMES = {"jsonContent": "contentXML", "embeddedJsonContent": "embeddedXMLContent"}
_RESOURCE_ELEMENTS = ("descriptor", "contentObject")  # carry xlink:type="resource" like the samples


def _write_children(element: etree._Element, decl: XsdElement, data: object, path: str, namespace: str) -> None:
    if not isinstance(data, dict):
        raise ValueError(f"{path}: an object is expected, got {type(data).__name__}")
    order = _child_order(decl)
    local = decl.local_name
    for key in sorted(data, key=lambda k: _position(order, k)):
        xml_name = _XML_NAMES.get(key, key)
        if xml_name not in order:
            raise ValueError(f"{path}.{key}: not part of the XML schema of {local}")
        child_decl = order[xml_name][1]
        value = data[key]
        if local == "edxlDistribution" and key == "content":
            if not isinstance(value, list):
                raise ValueError(f"{path}.content: a list is expected, got {type(value).__name__}")
            content = _sub(element, child_decl, namespace)
            object_decl = _child_order(child_decl)["contentObject"][1]
            for index, item in enumerate(value):
                content_object = _sub(content, object_decl, namespace)
                _write_children(content_object, object_decl, item, f"{path}.content[{index}]", namespace)
            continue
        for index, item in enumerate(value if isinstance(value, list) else [value]):
            item_path = f"{path}.{key}[{index}]" if isinstance(value, list) else f"{path}.{key}"
            child = _sub(element, child_decl, namespace)
            if _is_complex(child_decl):
                _write_children(child, child_decl, item, item_path, namespace)
            else:
                child.text = _text(item, item_path, _is_integer_type(child_decl.type))


def _position(order: dict[str, tuple[int, XsdElement]], key: str) -> int:
    """Where the XSD sequence puts ``key`` (unknown keys last: writing them raises anyway)."""
    entry = order.get(_XML_NAMES.get(key, key))
    return len(order) if entry is None else entry[0]


def _sub(parent: etree._Element, decl: XsdElement, namespace: str) -> etree._Element:
    """A child element; the RC-DE message and the use case declare their namespace as default."""
    tag = decl.name
    uri = tag[1 : tag.index("}")]
    local = decl.local_name
    if uri != EDXL_NS and namespace == CISU_NS:
        tag, uri = f"{{{CISU_NS}}}{local}", CISU_NS
    nsmap = {None: uri} if parent.nsmap.get(None) != uri else None
    child = etree.SubElement(parent, tag, nsmap=nsmap)
    if local in _RESOURCE_ELEMENTS:
        child.set(f"{{{XLINK_NS}}}type", "resource")
    return child


def _text(value: object, path: str, integer_type: bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{path}: {value} cannot be written")
        if integer_type and value.is_integer():
            return str(int(value))  # JSON Schema counts 5.0 as an integer; xs:int does not
        text = repr(value)
        if "e" in text or "E" in text:  # xs:decimal has no exponent
            text = format(Decimal(text), "f")
        # Keep a decimal point so that reading it back gives a float again, as JSON would.
        return text if "." in text else text + ".0"
    if isinstance(value, str):
        return value
    raise ValueError(f"{path}: a scalar is expected, got {type(value).__name__}")


_XS = "{http://www.w3.org/2001/XMLSchema}"
_INTEGER_TYPES = {
    f"{_XS}{name}"
    for name in (
        "integer", "int", "long", "short", "byte", "nonNegativeInteger", "positiveInteger",
        "nonPositiveInteger", "negativeInteger", "unsignedLong", "unsignedInt", "unsignedShort", "unsignedByte",
    )
}


def _is_integer_type(xsd_type: XsdType | None) -> bool:
    while xsd_type is not None:
        if xsd_type.name in _INTEGER_TYPES:
            return True
        xsd_type = getattr(xsd_type, "base_type", None)
    return False


def _is_complex(decl: XsdElement) -> bool:
    return not (decl.type.is_simple() or decl.type.has_simple_content())


@functools.cache
def _xsd(without_header: bool = False) -> xmlschema.XMLSchema:
    import xmlschema  # only the writer needs it; keep it off the parsing hot path

    return xmlschema.XMLSchema(str(NO_HEADER_XSD if without_header else FULL_XSD), allow="sandbox")


_orders: dict[int, dict[str, tuple[int, XsdElement]]] = {}


def _child_order(decl: XsdElement) -> dict[str, tuple[int, XsdElement]]:
    """local name -> (position in the XSD content model, element declaration); cached per type."""
    xsd_type = decl.type
    cached = _orders.get(id(xsd_type))
    if cached is None:
        cached = {}
        if _is_complex(decl):  # so a complex type whose content is a model group, not a simple type
            complex_type = cast("XsdComplexType", xsd_type)
            group = cast("XsdGroup", complex_type.content)
            for position, child in enumerate(group.iter_elements()):
                name = child.local_name
                if name:  # wildcards (xs:any) have no name; every named particle is an element declaration
                    cached.setdefault(name, (position, cast("XsdElement", child)))
        _orders[id(xsd_type)] = cached
    return cached
