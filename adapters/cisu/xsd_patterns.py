"""The `xs:pattern` facets of the official XSDs, checked by a linear-time engine before libxml2.

libxml2 matches XSD patterns by backtracking: a crafted near-match of a pattern with a counted
repetition (the RC-EDA and RC-RI `caseId`, `([a-zA-Z0-9_-]+\\.?){4,10}`) costs it about a second of
CPU for 30 characters. So every pattern of every shipped XSD is collected at load time with the
elements that use it, translated to Google RE2 (linear time, no backtracking), and each value is
checked first: a value that does not match is refused here, precisely, and libxml2 never sees it.
A value that matches goes on to libxml2, which then checks the same pattern cheaply.

Which pattern applies to an element depends on where it stands (a `code` is a C-code under
`whatsHappen`, an R-code under `riskThreat`): rules are keyed by (parent tag, tag), the parent's
type being resolved from the XSD. When a key could mean several declarations, a value passes if any
of them accepts it (and no check is made if one of them has no pattern): never stricter than the XSD.

XSD regexes are implicitly anchored and have their own escapes; `translate` rewrites them for RE2
(`\\d` is any Unicode digit, `.` anything but a line break, `\\i`/`\\c` the XML name characters, `^`
and `$` are plain characters). RE2 cannot express Unicode block escapes (`\\p{IsBasicLatin}`) nor
class subtraction (`[a-z-[aeiou]]`): `translate` raises UnsupportedPattern for them (the shipped
XSDs use neither; the tests check that every shipped pattern translates).
"""

from __future__ import annotations

import functools
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import re2
from lxml import etree

from .reference import XSD_DIR, XSD_NS

_XS = f"{{{XSD_NS}}}"


class UnsupportedPattern(ValueError):
    """An XSD pattern RE2 cannot express."""


@dataclass(frozen=True)
class PatternRule:
    """The patterns of one simple type (a value must match one of them), as written in the XSD and compiled."""

    sources: tuple[str, ...]
    compiled: tuple[re2._Regexp, ...]
    collapse: bool  # whiteSpace="collapse" (types derived from token…), else the value is taken as written

    def accepts(self, text: str) -> bool:
        value = " ".join(text.split()) if self.collapse else text
        return any(regex.fullmatch(value) for regex in self.compiled)


@dataclass(frozen=True)
class Patterns:
    """(parent tag, tag) -> the alternatives of rules one of which the element's text must satisfy."""

    rules: dict[tuple[str, str], tuple[PatternRule, ...]]
    tags: frozenset[str]

    def violations(self, root: etree._Element) -> list[tuple[etree._Element, PatternRule]]:
        """Elements whose text no applicable pattern accepts (with the first rule, for the reason)."""
        found = []
        for element in root.iter(*self.tags):
            parent = element.getparent()
            if parent is None or len(element):
                continue
            alternatives = self.rules.get((parent.tag, element.tag))  # type: ignore[arg-type]
            if alternatives is None:
                continue
            text = element.text or ""
            if not any(rule.accepts(text) for rule in alternatives):
                found.append((element, alternatives[0]))
        return found


@functools.cache
def patterns() -> Patterns:
    return collect(sorted(XSD_DIR.glob("*.xsd")))


def collect(files: list[Path]) -> Patterns:
    """Read the XSD files; raise UnsupportedPattern if one of their patterns cannot be checked in linear time."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    patterned: dict[tuple[str, str], list[tuple[str, PatternRule]]] = defaultdict(list)  # type -> (child, rule)
    unpatterned: dict[tuple[str, str], set[str]] = defaultdict(set)  # type -> children without pattern
    typed: dict[str, set[tuple[str, str]]] = defaultdict(set)  # element tag -> complex types it has
    bases: dict[tuple[str, str], set[tuple[str, str]]] = defaultdict(set)  # type -> types extending it
    for path in files:
        root = etree.parse(str(path), parser).getroot()
        namespace = root.get("targetNamespace") or ""
        qualified = root.get("elementFormDefault") == "qualified"
        for declaration in root.iter(f"{_XS}element"):
            name = declaration.get("name")
            if name is None:
                continue
            tag = _tag(declaration, name, namespace, qualified)
            type_name = declaration.get("type")
            if type_name is not None:
                typed[tag].add(_qname(declaration, type_name))
            owner = _owner_type(declaration, namespace)
            rule = _rule(declaration)
            if owner is None:
                if rule is not None:
                    raise UnsupportedPattern(f"{path.name}: pattern on {name} outside a named complex type")
                continue
            if rule is None:
                unpatterned[owner].add(tag)
            else:
                patterned[owner].append((tag, rule))
        for extension in root.iter(f"{_XS}extension"):
            complex_type = extension.getparent().getparent()  # type: ignore[union-attr]
            type_name = complex_type.get("name") if complex_type is not None else None
            if type_name:
                bases[_qname(extension, extension.get("base") or "")].add((namespace, type_name))
    rules: dict[tuple[str, str], list[PatternRule]] = defaultdict(list)
    open_keys: set[tuple[str, str]] = set()
    for owner, children in patterned.items():
        for parent in _elements_of(owner, typed, bases):
            for child, rule in children:
                rules[(parent, child)].append(rule)
    for owner, free_children in unpatterned.items():
        for parent in _elements_of(owner, typed, bases):
            open_keys.update((parent, child) for child in free_children)
    kept = {key: tuple(alternatives) for key, alternatives in rules.items() if key not in open_keys}
    return Patterns(kept, frozenset(child for _, child in kept))


def _elements_of(owner: tuple[str, str], typed: dict, bases: dict) -> set[str]:
    """Tags of the elements whose type is `owner` or extends it."""
    types, pending = {owner}, [owner]
    while pending:
        for derived in bases.get(pending.pop(), ()):
            if derived not in types:
                types.add(derived)
                pending.append(derived)
    return {tag for tag, their_types in typed.items() if their_types & types}


def _tag(declaration: etree._Element, name: str, namespace: str, qualified: bool) -> str:
    parent = declaration.getparent()
    top_level = parent is not None and parent.tag == f"{_XS}schema"
    form = declaration.get("form")
    if top_level or form == "qualified" or (form is None and qualified):
        return f"{{{namespace}}}{name}" if namespace else name
    return name


def _qname(node: etree._Element, value: str) -> tuple[str, str]:
    prefix, _, local = value.rpartition(":")
    return node.nsmap.get(prefix or None) or "", local


def _owner_type(declaration: etree._Element, namespace: str) -> tuple[str, str] | None:
    node = declaration.getparent()
    while node is not None and node.tag != f"{_XS}complexType":
        if node.tag in (f"{_XS}element", f"{_XS}schema"):
            return None
        node = node.getparent()
    if node is None or node.get("name") is None:
        return None
    return namespace, node.get("name")  # type: ignore[return-value]


def _rule(declaration: etree._Element) -> PatternRule | None:
    """The patterns of an element's own anonymous simple type (one restriction step), if any."""
    simple = declaration.find(f"{_XS}simpleType")
    restriction = simple.find(f"{_XS}restriction") if simple is not None else None
    if restriction is None:
        return None
    sources = tuple(p.get("value") or "" for p in restriction.findall(f"{_XS}pattern"))
    if not sources:
        return None
    if restriction.find(f"{_XS}simpleType") is not None:
        raise UnsupportedPattern("pattern on an anonymous base type")
    base = (restriction.get("base") or "").rpartition(":")[2]
    whitespace = restriction.find(f"{_XS}whiteSpace")
    collapse = (whitespace.get("value") == "collapse") if whitespace is not None else base not in _PRESERVING
    return PatternRule(sources, tuple(re2.compile(translate(source)) for source in sources), collapse)


_PRESERVING = {"string", "anyURI", ""}  # whiteSpace preserve (string) or replace/collapse not changing our bases

# XML 1.0 (fifth edition) name characters, for \i and \c.
_NAME_START = (
    ":A-Z_a-z\\x{C0}-\\x{D6}\\x{D8}-\\x{F6}\\x{F8}-\\x{2FF}\\x{370}-\\x{37D}\\x{37F}-\\x{1FFF}\\x{200C}-\\x{200D}"
    "\\x{2070}-\\x{218F}\\x{2C00}-\\x{2FEF}\\x{3001}-\\x{D7FF}\\x{F900}-\\x{FDCF}\\x{FDF0}-\\x{FFFD}\\x{10000}-\\x{EFFFF}"
)
_NAME = _NAME_START + "\\-.0-9\\x{B7}\\x{300}-\\x{36F}\\x{203F}-\\x{2040}"
_IN_CLASS = {  # XSD escape -> what stands for it inside a character class
    "d": "\\p{Nd}", "s": " \\t\\n\\r", "i": _NAME_START, "c": _NAME, "w": None,
}
_OUTSIDE = {
    "d": "\\p{Nd}", "D": "\\P{Nd}", "s": "[ \\t\\n\\r]", "S": "[^ \\t\\n\\r]",
    "i": f"[{_NAME_START}]", "I": f"[^{_NAME_START}]", "c": f"[{_NAME}]", "C": f"[^{_NAME}]",
    "w": "[^\\p{P}\\p{Z}\\p{C}]", "W": "[\\p{P}\\p{Z}\\p{C}]",
}
_SINGLE = {"n": "\\n", "r": "\\r", "t": "\\t"}
_META = set("\\|.-^?*+{}()[]$")


def translate(pattern: str) -> str:
    """An XSD regular expression as an RE2 one, for fullmatch (XSD patterns are implicitly anchored)."""
    out: list[str] = []
    in_class = False
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            if i + 1 >= len(pattern):
                raise UnsupportedPattern(f"trailing backslash in {pattern!r}")
            escape = pattern[i + 1]
            i += 2
            if escape in "pP":
                end = pattern.find("}", i)
                if not pattern.startswith("{", i) or end < 0:
                    raise UnsupportedPattern(f"malformed \\{escape} in {pattern!r}")
                name = pattern[i + 1 : end]
                if name.startswith("Is"):
                    raise UnsupportedPattern(f"Unicode block escape \\{escape}{{{name}}} (RE2 has no blocks)")
                out.append(f"\\{escape}{{{name}}}")
                i = end + 1
            elif escape in _SINGLE:
                out.append(_SINGLE[escape])
            elif in_class and escape in _IN_CLASS:
                if _IN_CLASS[escape] is None:
                    raise UnsupportedPattern(f"\\{escape} inside a character class in {pattern!r}")
                out.append(_IN_CLASS[escape])  # type: ignore[arg-type]
            elif not in_class and escape in _OUTSIDE:
                out.append(_OUTSIDE[escape])
            elif escape in _META:
                out.append("\\" + escape)
            else:
                raise UnsupportedPattern(f"escape \\{escape} in {pattern!r}")
            continue
        if in_class:
            if char == "[":
                raise UnsupportedPattern(f"character class subtraction in {pattern!r}")
            if char == "]":
                in_class = False
            out.append(char)
        elif char == "[":
            in_class = True
            out.append(char)
            if pattern.startswith("^", i + 1):
                out.append("^")
                i += 1
        elif char == ".":
            out.append("[^\\n\\r]")
        elif char in "^$":
            out.append("\\" + char)  # plain characters in XSD
        else:
            out.append(char)
        i += 1
    if in_class:
        raise UnsupportedPattern(f"unterminated character class in {pattern!r}")
    return "".join(out)
