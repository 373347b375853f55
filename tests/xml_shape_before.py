"""Reference for tests/test_xml_shape_equivalence.py: adapters/cisu/xml_shape.py as it was before its
faster rewrite (one lookup per tag, leaves inline), kept as the oracle the new code must agree with.

XML wire message -> the JSON-shaped dict the JSON encoding of the same message would give.

Keys are local names; arrays and scalar types come from the JSON schemas (json_shape), so a single
<riskThreat> still becomes a one-element list and <lat>48.8</lat> a float. The EDXL-DE XML wrapping
(content/contentObject/contentXML/embeddedXMLContent) maps onto content[i].jsonContent.embeddedJsonContent.
"""

from __future__ import annotations

import math
import re

from lxml import etree

from adapters.cisu.json_shape import ARRAY, BOOLEAN, INTEGER, NUMBER, OBJECT, STRING, UNKNOWN, Shape
from adapters.cisu.json_shape import envelope_shape, header_shape, use_case_shape
from adapters.cisu.reasons import json_path
from adapters.cisu.reference import CISU_NS, EDXL_NS, RC_DE_NS, use_cases

_INTEGER = re.compile(r"^[+-]?[0-9]+$")
_DECIMAL = re.compile(r"^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$")
_JSON_NAMES = {"contentXML": "jsonContent", "embeddedXMLContent": "embeddedJsonContent"}


def local_name(element: etree._Element) -> str:
    tag = element.tag
    return tag[tag.rfind("}") + 1 :]  # cheaper than etree.QName on the hot path


def message_elements(root: etree._Element) -> list[etree._Element]:
    """The RC-DE <message> element of each content object (any namespace)."""
    found = []
    for content in root.iterchildren(f"{{{EDXL_NS}}}content"):
        for content_object in content.iterchildren(f"{{{EDXL_NS}}}contentObject"):
            for xml_content in content_object.iterchildren(f"{{{EDXL_NS}}}contentXML"):
                for embedded in xml_content.iterchildren(f"{{{EDXL_NS}}}embeddedXMLContent"):
                    found.extend(child for child in embedded if isinstance(child.tag, str))
    return found


def normalize_namespaces(root: etree._Element) -> str | None:
    """Rewrite the 'urn:emergency:cisu:3.0' variant into the official namespaces, in place.

    Returns the RC-DE namespace the sender used (None when no message element was found).
    """
    used = None
    catalogue = use_cases()
    for message in message_elements(root):
        namespace = etree.QName(message).namespace
        used = used or namespace
        if namespace != CISU_NS:
            continue
        message.tag = f"{{{RC_DE_NS}}}message"
        for child in message:
            tag = child.tag
            if type(tag) is not str or not tag.startswith(_CISU_PREFIX):
                continue
            name = tag[len(_CISU_PREFIX) :]
            target = "{%s}" % (catalogue[name].xml_namespace if name in catalogue else RC_DE_NS)
            child.tag = target + name  # declares the namespace once, on the subtree's top
            for element in child.iterdescendants(_CISU_ANY):
                element.tag = target + element.tag[len(_CISU_PREFIX) :]
    return used


_CISU_PREFIX = f"{{{CISU_NS}}}"
_CISU_ANY = f"{{{CISU_NS}}}*"


def wire_from_xml(root: etree._Element) -> dict:
    """The JSON-shaped wire message (envelope + content[].jsonContent…message) of an XML tree."""
    envelope = envelope_shape()
    return _object(root, envelope.child, {"content": _content})


def _content(contents: list[etree._Element]) -> list:
    return [
        _object(content_object, _unknown, {"contentXML": _content_xml}, _JSON_NAMES)
        for content in contents
        for content_object in _element_children(content)
    ]


def _content_xml(elements: list[etree._Element]) -> dict | list:
    return _single_or_list(
        [_object(e, _unknown, {"embeddedXMLContent": _embedded}, _JSON_NAMES) for e in elements]
    )


def _embedded(elements: list[etree._Element]) -> dict | list:
    return _single_or_list([_object(e, _unknown, {"message": _message}) for e in elements])


def _message(elements: list[etree._Element]) -> dict | list:
    catalogue = use_cases()
    header = header_shape()

    def shape_for(name: str) -> Shape:
        return use_case_shape(name) if name in catalogue else header.child(name)

    return _single_or_list([_object(e, shape_for) for e in elements])


def _single_or_list(values: list):
    return values[0] if len(values) == 1 else values


def _unknown(_name: str) -> Shape:
    return UNKNOWN


def _object(element, shape_for, special=None, renames=None) -> dict:
    """The few EDXL-DE levels whose children need special handling or renaming."""
    groups: dict[str, list] = {}
    for child in element:
        if type(child.tag) is str:
            groups.setdefault(local_name(child), []).append(child)
    result: dict = {}
    for name, elements in groups.items():
        key = renames.get(name, name) if renames else name
        if special and name in special:
            result[key] = special[name](elements)
            continue
        shape = shape_for(name)
        if shape.kind == ARRAY:
            item = shape.items or UNKNOWN
            result[key] = [_convert(e, item) for e in elements]
        elif len(elements) == 1:
            result[key] = _convert(elements[0], shape)
        else:
            result[key] = [_convert(e, shape) for e in elements]
    return result


_NO_PROPERTIES: dict = {}


def _convert(element, shape: Shape):
    """One element and its subtree. The hot loop: every element is visited once, and each lxml
    proxy (costly to create) is made once."""
    if not len(element):
        text = element.text or ""
        kind = shape.kind
        if kind == STRING:
            return text
        if kind == OBJECT:
            return {} if not text.strip() else text
        return scalar(text, kind)
    properties = shape.properties if shape.kind == OBJECT else _NO_PROPERTIES
    result: dict = {}
    repeated = None
    for child in element:
        tag = child.tag
        if type(tag) is not str:  # comments and PIs are removed by the parser; be safe anyway
            continue
        name = tag[tag.rfind("}") + 1 :]
        sub = properties.get(name, UNKNOWN)
        if sub.kind == ARRAY:
            value = _convert(child, sub.items or UNKNOWN)
            existing = result.get(name)
            if existing is None:
                result[name] = [value]
            else:
                existing.append(value)
        elif name not in result:
            result[name] = _convert(child, sub)
        else:
            # Repeated although the JSON schema wants one value: keep them all in a list so that
            # the JSON validation reports a type error instead of silently dropping data.
            if repeated is None:
                repeated = set()
            if name not in repeated:
                repeated.add(name)
                result[name] = [result[name]]
            result[name].append(_convert(child, sub))
    return result


def scalar(text: str, kind: str):
    """Type an XML text as the JSON schema does; leave it a string when it does not fit."""
    if kind == INTEGER or kind == NUMBER:
        stripped = text.strip()
        if _INTEGER.match(stripped):
            return int(stripped)
        if kind == NUMBER and _DECIMAL.match(stripped):
            value = float(stripped)
            return value if math.isfinite(value) else text
        return text
    if kind == BOOLEAN:
        stripped = text.strip()
        if stripped in ("true", "1"):
            return True
        if stripped in ("false", "0"):
            return False
        return text
    return text


def _element_children(element: etree._Element) -> list[etree._Element]:
    return [child for child in element if isinstance(child.tag, str)]


def json_path_of(element: etree._Element) -> str:
    """The JSON path the data of `element` has in the JSON-shaped wire message."""
    chain = []
    node = element
    while node is not None:
        chain.append(node)
        node = node.getparent()
    chain.reverse()
    parts: list[str | int] = []
    shape: Shape = envelope_shape()
    catalogue = use_cases()
    for depth, node in enumerate(chain[1:], start=1):
        name = local_name(node)
        parent_name = local_name(chain[depth - 1])
        if name == "content" and depth == 1:
            parts.append("content")
            shape = UNKNOWN
            continue
        if parent_name == "content" and depth == 2:
            parts.append(_index_among(node, same_name=False))
            continue
        if parent_name == "embeddedXMLContent":
            parts.append(name)  # 'message'
            shape = UNKNOWN
            continue
        if parent_name == "message" and depth == 6:
            shape = use_case_shape(name) if name in catalogue else header_shape().child(name)
            parts.append(name)
        else:
            parts.append(_JSON_NAMES.get(name, name))
            shape = shape.child(name) if shape.kind == OBJECT else UNKNOWN
        if shape.kind == ARRAY:
            parts.append(_index_among(node, same_name=True))
            shape = shape.items or UNKNOWN
    return json_path(parts)


def _index_among(element: etree._Element, *, same_name: bool) -> int:
    index = 0
    for sibling in element.itersiblings(preceding=True):
        if isinstance(sibling.tag, str) and (not same_name or sibling.tag == element.tag):
            index += 1
    return index
