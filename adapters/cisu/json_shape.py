"""The JSON shape of each CISU object (objects, arrays, scalar types), derived from the JSON schemas.

XML carries no types and no "array of one"; this is what lets XML become exactly the dict the JSON
encoding would give. Built once per schema file and cached.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from .reference import load_json_schema, use_cases

OBJECT, ARRAY, STRING, INTEGER, NUMBER, BOOLEAN, ANY = (
    "object", "array", "string", "integer", "number", "boolean", "any",
)


@dataclass(eq=False)
class Shape:
    kind: str
    properties: dict[str, Shape] = field(default_factory=dict)
    items: Shape | None = None
    # xml_shape's cache: what each XML tag of a child element means under this shape.
    children_by_tag: dict[str, tuple] = field(default_factory=dict, repr=False)

    def child(self, name: str) -> Shape:
        return self.properties.get(name, UNKNOWN)


UNKNOWN = Shape(ANY)  # a field the schema does not know: converted naively, the validator will object


def use_case_shape(key: str) -> Shape:
    return _shape_of_file(use_cases()[key].schema_file)


def header_shape() -> Shape:
    return _shape_of_file("RC-DE.schema.json")


def envelope_shape() -> Shape:
    return _shape_of_file("EDXL-DE-envelope-only.schema.json")


@functools.cache
def _shape_of_file(schema_file: str) -> Shape:
    root = load_json_schema(schema_file)
    return _build(root, root, {})


def _build(root: dict, node: dict, memo: dict[str, Shape]) -> Shape:
    ref = node.get("$ref")
    if ref is not None:
        if ref in memo:  # shared or recursive definition
            return memo[ref]
        if not ref.startswith("#/"):
            return UNKNOWN  # other files are never reached from a use-case schema
        target = root
        for part in ref[2:].split("/"):
            target = target[part]
        placeholder = Shape(OBJECT)
        memo[ref] = placeholder
        built = _build(root, target, memo)
        placeholder.kind, placeholder.properties, placeholder.items = built.kind, built.properties, built.items
        return placeholder
    kind = node.get("type")
    if kind is None:
        kind = OBJECT if "properties" in node else ANY
    shape = Shape(kind)
    if kind == OBJECT:
        shape.properties = {name: _build(root, sub, memo) for name, sub in node.get("properties", {}).items()}
    elif kind == ARRAY:
        shape.items = _build(root, node.get("items", {}), memo)
    return shape
