"""The faster XML shaping (adapters/cisu/xml_shape.py) gives exactly what the previous one gave
(tests/xml_shape_before.py), on generated trees that follow the JSON schemas' shapes loosely (known
and unknown names, arrays of one and many, repeated single values, typed and untyped texts, comments,
two namespaces) and on element-level mutations of real messages."""

from __future__ import annotations

import copy

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from adapters.cisu import xml_shape
from adapters.cisu.json_shape import ARRAY, OBJECT, UNKNOWN, Shape, envelope_shape, header_shape, use_case_shape
from adapters.cisu.reference import use_cases
from tests.support import xml_shape_before as before
from tests.unit.test_cisu_properties import EXAMPLES_PER_TEST, SEEDS

FAST = settings(max_examples=max(200, EXAMPLES_PER_TEST), deadline=None, suppress_health_check=[HealthCheck.too_slow])
NAMESPACES = ["urn:emergency:eda:1.9", "urn:emergency:cisu:3.0", None]
SHAPES = [use_case_shape(name) for name in sorted(use_cases())] + [header_shape(), envelope_shape(), UNKNOWN]
TEXTS = st.sampled_from(
    ["", " ", "12", "-3", "+4", " 7 ", "1.5", "1e3", ".5", "5.", "1e999", "nan", "inf", "abc", "true", "false",
     "1", "0", " true ", "01"]
) | st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=6)
OTHER_NAMES = ["x", "lat", "caseId", "resource", "message", "status"]


@st.composite
def elements(draw, name: str, shape: Shape, namespace: str | None, depth: int = 0):
    element = etree.Element(f"{{{namespace}}}{name}" if namespace else name)
    if draw(st.booleans()) or depth > 0 and draw(st.integers(0, 3)) == 0:
        element.text = draw(st.none() | TEXTS)
    if depth >= 4 or not draw(st.integers(0, 2)):
        return element
    known = list(shape.properties) if shape.kind == OBJECT else []
    for _ in range(draw(st.integers(0, 5))):
        child_name = draw(st.sampled_from(known + OTHER_NAMES) if known else st.sampled_from(OTHER_NAMES))
        sub = shape.child(child_name) if shape.kind == OBJECT else UNKNOWN
        if sub.kind == ARRAY:
            sub = sub.items or UNKNOWN
        child_namespace = namespace if draw(st.integers(0, 4)) else draw(st.sampled_from(NAMESPACES))
        for _ in range(draw(st.integers(1, 2))):
            element.append(draw(elements(child_name, sub, child_namespace, depth + 1)))
        if not draw(st.integers(0, 6)):
            element.append(etree.Comment("c"))
    return element


@st.composite
def shaped_trees(draw):
    shape = draw(st.sampled_from(SHAPES))
    return draw(elements("root", shape, draw(st.sampled_from(NAMESPACES)))), shape


@FAST
@given(shaped_trees())
def test_converting_any_tree_gives_what_it_gave_before(tree_and_shape):
    element, shape = tree_and_shape
    assert xml_shape._convert(element, shape) == before._convert(element, shape)
    assert repr(xml_shape._convert(element, shape)) == repr(before._convert(element, shape))  # types too


@FAST
@given(st.sampled_from([seed for seed in SEEDS if seed.lstrip()[:1] == b"<"]), st.data())
def test_shaping_mutated_messages_gives_what_it_gave_before(seed, data):
    root = etree.fromstring(seed)
    for _ in range(data.draw(st.integers(0, 4))):
        elements_now = [e for e in root.iter() if isinstance(e.tag, str)]
        element = data.draw(st.sampled_from(elements_now))
        parent = element.getparent()
        operation = data.draw(st.sampled_from(["remove", "duplicate", "text", "rename", "child", "comment"]))
        if operation == "remove" and parent is not None:
            parent.remove(element)
        elif operation == "duplicate" and parent is not None:
            parent.insert(parent.index(element), copy.deepcopy(element))
        elif operation == "text":
            element.text = data.draw(TEXTS)
        elif operation == "rename":
            name = data.draw(st.sampled_from(["caseId", "lat", "message", "resource", "x", "emsi", "content"]))
            namespace = etree.QName(element).namespace
            element.tag = f"{{{namespace}}}{name}" if namespace else name
        elif operation == "comment":
            element.append(etree.Comment("c"))
        else:
            etree.SubElement(element, element.tag).text = data.draw(TEXTS)
    assert xml_shape.message_elements(root) == before.message_elements(root)
    new, old = xml_shape.wire_from_xml(root), before.wire_from_xml(root)
    assert new == old and repr(new) == repr(old)
