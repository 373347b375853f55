"""Reference for tests/test_xml_shape_equivalence.py: adapters/cisu/xml_shape.py as it was before its
faster rewrite (one lookup per tag, leaves inline), kept as the oracle the new code must agree with.
The functions the rewrite did not change are imported from the module itself.

XML wire message -> the JSON-shaped dict the JSON encoding of the same message would give.

Keys are local names; arrays and scalar types come from the JSON schemas (json_shape), so a single
<riskThreat> still becomes a one-element list and <lat>48.8</lat> a float. The EDXL-DE XML wrapping
(content/contentObject/contentXML/embeddedXMLContent) maps onto content[i].jsonContent.embeddedJsonContent.
"""

from __future__ import annotations

import re

from lxml import etree

from adapters.cisu.json_shape import ARRAY, OBJECT, STRING, UNKNOWN, Shape, envelope_shape, header_shape, use_case_shape
from adapters.cisu.reference import CISU_NS, EDXL_NS, use_cases

# What the rewrite left as it was is taken from the module itself.
from adapters.cisu.xml_shape import (  # noqa: F401
    _element_children,
    _single_or_list,
    _unknown,
    json_path_of,
    local_name,
    normalize_namespaces,
    scalar,
)

_INTEGER = re.compile(r"^[+-]?[0-9]+$")
_DECIMAL = re.compile(r"^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$")
_JSON_NAMES = {"contentXML": "jsonContent", "embeddedXMLContent": "embeddedJsonContent"}


def message_elements(root: etree._Element) -> list[etree._Element]:
    """The RC-DE <message> element of each content object (any namespace)."""
    found: list[etree._Element] = []
    for content in root.iterchildren(f"{{{EDXL_NS}}}content"):
        for content_object in content.iterchildren(f"{{{EDXL_NS}}}contentObject"):
            for xml_content in content_object.iterchildren(f"{{{EDXL_NS}}}contentXML"):
                for embedded in xml_content.iterchildren(f"{{{EDXL_NS}}}embeddedXMLContent"):
                    found.extend(child for child in embedded if isinstance(child.tag, str))
    return found


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
