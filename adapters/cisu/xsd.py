"""XML Schema validation against the official xsd/EDXL-DE-full.xsd, from local files only.

The compiled schema is kept per thread (an lxml XMLSchema keeps its error log on the object, so it
cannot be shared by concurrent validations); compiling is not free.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path

from lxml import etree

from .reasons import Reason
from .reference import EDXL_NS, XSD_DIR, use_cases
from .xml_shape import json_path_of, local_name
from .xsd_patterns import patterns

FULL_XSD = XSD_DIR / "EDXL-DE-full.xsd"
NO_HEADER_XSD = XSD_DIR / "EDXL-DE-full-no-header.xsd"  # the messages without RC-DE header, e.g. errors
_local = threading.local()
# libxml2's schema compiler sets up shared state the first time it runs: two threads compiling at once
# can both fail ("Document is not valid XML Schema"), as the ingester's fallback threads did when a
# worker process died. Compiling is serialised; each thread still validates with its own schema.
_compiling = threading.Lock()


class _LocalFilesOnly(etree.Resolver):
    """Imports and includes must stay inside the reference xsd/ folder."""

    # No return annotation: its type (lxml's _InputDocument) is not importable from lxml.etree.
    def resolve(self, system_url: str | None, public_id: str | None, context: object):
        url = system_url
        path = Path(url.removeprefix("file://")).resolve() if url else None
        if path is not None and path.is_relative_to(XSD_DIR) and path.is_file():
            return self.resolve_filename(str(path), context)
        raise OSError(f"XSD import outside {XSD_DIR} refused: {url!r}")


def schema() -> etree.XMLSchema:
    compiled = getattr(_local, "schema", None)
    if compiled is None:
        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
        parser.resolvers.add(_LocalFilesOnly())
        with _compiling:
            compiled = etree.XMLSchema(etree.parse(str(FULL_XSD), parser))
        _local.schema = compiled
    return compiled


def xsd_reasons(tree: etree._ElementTree) -> list[Reason]:
    """Validate; translate each libxml2 error into a French Reason located by JSON path.

    The patterns are checked first, in linear time (xsd_patterns): libxml2 backtracks on them, so a
    value that breaks one is refused before libxml2 sees the document."""
    broken = pattern_reasons(tree)
    if broken:
        return broken
    validator = schema()
    if validator.validate(tree):
        return []
    reasons = []
    for error in validator.error_log:
        element = _element_at(tree, error.path)
        path = json_path_of(element) if element is not None else ""
        text, rule = _french(error.message, error.line)
        reasons.append(Reason(_code_for(path), path, text, line=error.line, detail=rule))
    return reasons


def pattern_reasons(tree: etree._ElementTree) -> list[Reason]:
    """A reason for each value no pattern of its XSD declaration accepts (located like libxml2's; no value)."""
    problems = []
    for element, rule in patterns().violations(tree.getroot()):
        path = json_path_of(element)
        line = element.sourceline
        where = f" (ligne {line})" if line else ""
        problems.append(Reason(
            _code_for(path), path,
            f"format invalide pour {local_name(element)} : la valeur ne respecte pas le motif "
            f"{' ou '.join(rule.sources)}{where}",
            line=line, detail="XSD facet pattern (RE2)",
        ))
    return problems


_STEP = re.compile(r"^(?:\*|(?:[^:\[\]]+:)?([^:\[\]]+))(?:\[(\d+)\])?$")


def _element_at(tree: etree._ElementTree, path: str | None) -> etree._Element | None:
    """Follow a libxml2 node path ('/*/*[8]/ns0:message/ns0:sender') without needing its prefixes.

    libxml2 writes '*[n]' (n-th element child) for default-namespace elements and 'prefix:name[n]'
    (n-th child of that name) otherwise.
    """
    if not path or not path.startswith("/"):
        return None
    steps = path[1:].split("/")
    node = tree.getroot()
    for step in steps[1:]:
        matched = _STEP.match(step)
        if matched is None:
            return None
        name, index = matched.group(1), int(matched.group(2) or 1) - 1
        candidates = [
            child for child in node
            if isinstance(child.tag, str) and (name is None or etree.QName(child).localname == name)
        ]
        if index >= len(candidates):
            return None
        node = candidates[index]
    return node


_MESSAGE_FIELD = re.compile(r"^\$\.content\[\d+\]\.jsonContent\.embeddedJsonContent\.message(?:\.(\w+))?")


def _code_for(path: str) -> str:
    """'content' inside the use case, 'header' elsewhere in the RC-DE message, else 'envelope'."""
    inside = _MESSAGE_FIELD.match(path)
    if inside is None:
        return "envelope"
    return "content" if inside.group(1) in use_cases() else "header"


_ELEMENT = re.compile(r"^Element '(?:\{[^}]*\})?([^']+)'(?:, attribute '([^']+)')?: ")
_QNAME = re.compile(r"\{[^}]*\}")
_FACET = re.compile(r"\[facet '(\w+)'\]")
# libxml2 quotes the received value in its messages: each translation rebuilds the reason from the rule
# and the element (and the facet's own definition, which is the schema's), never from that value.
_TRANSLATIONS = [
    (re.compile(r"^This element is not expected\. Expected is (?:one of )?\( (.+) \)\.?$"),
     lambda m, el: f"élément inattendu : {el} ; attendu à cette place : {_names(m.group(1))}"),
    (re.compile(r"^This element is not expected\.?$"),
     lambda m, el: f"élément inattendu : {el}"),
    (re.compile(r"^Missing child element\(s\)\. Expected is (?:one of )?\( (.+) \)\.?$"),
     lambda m, el: f"élément obligatoire absent dans {el} : {_names(m.group(1))}"),
    (re.compile(r"^\[facet 'enumeration'\] The value '.*' is not an element of the set \{(.*)\}\.?$", re.S),
     lambda m, el: f"valeur non autorisée pour {el} (valeurs possibles : {_brief(m.group(1))})"),
    (re.compile(r"^\[facet 'pattern'\] The value '.*' is not accepted by the pattern '(.*)'\.?$", re.S),
     lambda m, el: f"format invalide pour {el} : la valeur ne respecte pas le motif {m.group(1)}"),
    (re.compile(r"^'.*' is not a valid value of the (?:atomic|local atomic|list|union) type '(.*)'\.?$", re.S),
     lambda m, el: f"valeur invalide pour {el} (type attendu : {m.group(1)})"),
    (re.compile(r"^The attribute '(.*)' is not allowed\.?$"),
     lambda m, el: f"attribut non autorisé sur {el} : {m.group(1)}"),
    (re.compile(r"^The attribute '(.*)' is required but missing\.?$"),
     lambda m, el: f"attribut obligatoire absent sur {el} : {m.group(1)}"),
    (re.compile(r"^Character content other than whitespace is not allowed.*$", re.S),
     lambda m, el: f"texte non autorisé dans {el} (seuls des éléments enfants sont attendus)"),
    (re.compile(r"^Element content is not allowed, because the content type is a simple type.*$", re.S),
     lambda m, el: f"{el} doit contenir une valeur simple, pas des éléments enfants"),
    (re.compile(r"^No matching global declaration available for the validation root\.?$"),
     lambda m, el: f"élément racine inattendu : {el} (attendu : edxlDistribution, espace de noms {EDXL_NS})"),
]


def _french(message: str, line: int | None) -> tuple[str, str]:
    """(the French reason, the rule in English for `Reason.detail`), neither quoting the value."""
    where = f" (ligne {line})" if line else ""
    text = message.strip()
    element = _ELEMENT.match(text)
    name = "?"
    if element:
        name = element.group(1) + (f"/@{element.group(2)}" if element.group(2) else "")
        text = text[element.end():]
    facet = _FACET.match(text)
    rule = f"XSD facet {facet.group(1)}" if facet else "XSD"
    for pattern, build in _TRANSLATIONS:
        matched = pattern.match(text)
        if matched:
            return build(matched, name) + where, rule
    hint = f" (règle {facet.group(1)})" if facet else ""
    return f"non conforme au schéma XSD pour {name}{hint}{where}", rule


def _names(expected: str) -> str:
    return _QNAME.sub("", expected).replace(" ", "")


def _brief(values: str, limit: int = 8) -> str:
    items = [v.strip().strip("'") for v in values.split("',")]
    shown = ", ".join(items[:limit])
    return shown + (f", … ({len(items)} au total)" if len(items) > limit else "")
