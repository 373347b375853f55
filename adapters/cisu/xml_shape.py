"""XML wire message -> the JSON-shaped dict the JSON encoding of the same message would give.

Keys are local names; arrays and scalar types come from the JSON schemas (json_shape), so a single
<riskThreat> still becomes a one-element list and <lat>48.8</lat> a float. The EDXL-DE XML wrapping
(content/contentObject/contentXML/embeddedXMLContent) maps onto content[i].jsonContent.embeddedJsonContent.
"""

from __future__ import annotations

import functools
import math
import re

from lxml import etree

from .json_shape import (
    ARRAY,
    BOOLEAN,
    INTEGER,
    NUMBER,
    OBJECT,
    STRING,
    UNKNOWN,
    Shape,
    envelope_shape,
    header_shape,
    use_case_shape,
)
from .reasons import json_path
from .reference import CISU_NS, EDXL_NS, RC_DE_NS, use_cases

_INTEGER = re.compile(r"^[+-]?[0-9]+$")
_DECIMAL = re.compile(r"^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$")
_JSON_NAMES = {"contentXML": "jsonContent", "embeddedXMLContent": "embeddedJsonContent"}


def local_name(element: etree._Element) -> str:
    tag = element.tag
    assert isinstance(tag, str), "an element, not a comment or processing instruction"
    return tag[tag.rfind("}") + 1 :]  # cheaper than etree.QName on the hot path


def message_elements(root: etree._Element) -> list[etree._Element]:
    """The RC-DE <message> element of each content object (any namespace), in document order."""
    return _MESSAGE_ELEMENTS(root)


# One compiled XPath: a quarter of the cost of walking the four wrapper levels in Python.
_MESSAGE_ELEMENTS = etree.XPath(
    "e:content/e:contentObject/e:contentXML/e:embeddedXMLContent/*", namespaces={"e": EDXL_NS}
)


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
                descendant_tag = element.tag
                assert isinstance(descendant_tag, str)  # the _CISU_ANY filter matches elements only
                element.tag = target + descendant_tag[len(_CISU_PREFIX) :]
    return used


_CISU_PREFIX = f"{{{CISU_NS}}}"
_CISU_ANY = f"{{{CISU_NS}}}*"


def wire_from_xml(root: etree._Element) -> dict:
    """The JSON-shaped wire message (envelope + content[].jsonContent…message) of an XML tree."""
    if not len(root):
        return {}
    contents: list = []
    wire = _convert(root, envelope_shape(), {"content": contents})
    if contents:
        wire["content"] = _content(contents)  # in the place of the first <content>
    return wire


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
    shape = _message_shape()
    return _single_or_list([_convert(e, shape) if len(e) else {} for e in elements])


@functools.cache
def _message_shape() -> Shape:
    """The RC-DE message: the header's fields, and each use case under its own key."""
    catalogue = use_cases()
    return Shape(OBJECT, {**header_shape().properties, **{name: use_case_shape(name) for name in catalogue}})


def _single_or_list(values: list):
    return values[0] if len(values) == 1 else values


def _unknown(_name: str) -> Shape:
    return UNKNOWN


def _object(element, shape_for, special=None, renames=None) -> dict:
    """The few EDXL-DE levels whose children need special handling or renaming."""
    groups: dict[str, list] = {}
    for child in element:
        tag = child.tag
        if type(tag) is str:
            groups.setdefault(tag[tag.rfind("}") + 1 :], []).append(child)
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


_NOTHING_GATHERED: dict[str, list] = {}


def _convert(element, shape: Shape, gather: dict[str, list] = _NOTHING_GATHERED):
    """One element and its subtree. The hot loop: every element is visited once, each lxml proxy
    (costly to create) is made once, and what a child's tag means under `shape` (its name, its
    shape, whether it is an array) is looked up once per tag, not worked out for every element.

    Children named in `gather` are appended to its lists instead, their key left in the result (None)
    where the first of them stood, for the caller to fill."""
    if not len(element):
        return _leaf(element.text, shape.kind)
    children = shape.children_by_tag
    result: dict = {}
    repeated = None
    for child in element:
        tag = child.tag
        try:  # a subscript, not .get(): no method call for the common case, a known tag
            entry = children[tag]
        except KeyError:
            if type(tag) is not str:  # comments and PIs are removed by the parser; be safe anyway
                continue
            entry = _child_entry(shape, children, tag)
        name, sub, kind, array = entry
        if gather and name in gather:  # only the envelope's call gathers
            result.setdefault(name, None)
            gather[name].append(child)
            continue
        # Leaves inline: most elements are, and a call per element is a large share of the cost.
        if not len(child):
            text = child.text
            if kind is STRING:
                value = text or ""
            else:
                value = _leaf(text, kind)
        else:
            value = _convert(child, sub)
        if array:
            existing = result.get(name)
            if existing is None:
                result[name] = [value]
            else:
                existing.append(value)
        elif name not in result:
            result[name] = value
        else:
            # Repeated although the JSON schema wants one value: keep them all in a list so that
            # the JSON validation reports a type error instead of silently dropping data.
            if repeated is None:
                repeated = set()
            if name not in repeated:
                repeated.add(name)
                result[name] = [result[name]]
            result[name].append(value)
    return result


def _leaf(text: str | None, kind: str):
    text = text or ""
    if kind == STRING:
        return text
    if kind == OBJECT:
        return {} if not text.strip() else text
    return scalar(text, kind)


_MAX_CACHED_TAGS = 256  # per shape: namespaces x names a valid message uses; hostile input gets no more


def _child_entry(shape: Shape, children: dict, tag: str) -> tuple:
    """(name, shape, kind of its leaves, is an array) of a child tagged `tag` of an element of `shape`."""
    name = tag[tag.rfind("}") + 1 :]
    sub = shape.properties.get(name, UNKNOWN) if shape.kind == OBJECT else UNKNOWN
    array = sub.kind == ARRAY
    if array:
        sub = sub.items or UNKNOWN
    entry = (name, sub, _KINDS.get(sub.kind, sub.kind), array)
    if len(children) < _MAX_CACHED_TAGS:
        children[tag] = entry
    return entry


# Kinds by identity: `kind is STRING` is the cheapest test in the hot loop.
_KINDS = {kind: kind for kind in (OBJECT, ARRAY, STRING, INTEGER, NUMBER, BOOLEAN)}


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
    chain: list[etree._Element] = []
    node: etree._Element | None = element
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
