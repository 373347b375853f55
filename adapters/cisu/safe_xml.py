"""Hardened XML parsing for untrusted input.

No DTD is loaded, no entity is expanded, nothing is fetched (file or network); a document that
carries a DOCTYPE at all is refused, as the CISU formats never need one. Depth and element count are
bounded after parsing (libxml2 itself already stops at 256 levels without huge_tree).
"""

from __future__ import annotations

import threading

from lxml import etree

from .limits import MAX_DEPTH, MAX_XML_ELEMENTS
from .reasons import InvalidMessage, Reason

_local = threading.local()  # lxml parsers are not meant to be shared between threads
_COUNT_ELEMENTS = etree.XPath("count(//*)")
_TOO_DEEP = etree.XPath("boolean(/" + "/".join(["*"] * (MAX_DEPTH + 1)) + ")")


def _parser() -> etree.XMLParser:
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = etree.XMLParser(
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            dtd_validation=False,
            attribute_defaults=False,
            huge_tree=False,
            remove_pis=True,
            remove_comments=True,
            strip_cdata=True,
            collect_ids=False,
        )
        parser.resolvers.add(_RefuseEverything())
        _local.parser = parser
    return parser


class _RefuseEverything(etree.Resolver):
    """Belt and braces: should libxml2 ever ask for an external resource, give it nothing."""

    # No return annotation: its type (lxml's _InputDocument) is not importable from lxml.etree.
    def resolve(self, system_url: str | None, public_id: str | None, context: object):
        return self.resolve_string("", context)


_WHITESPACE = b" \t\r\n"


def _doctype_in_prolog(body: bytes) -> bool:
    """Whether a DOCTYPE follows the declaration, comments and PIs (its only legal place).

    A linear scan: a regex with nested lazy groups backtracks quadratically on '<?a?>' * 100 000.
    """
    position, size = 0, len(body)
    while position < size:
        while position < size and body[position] in _WHITESPACE:
            position += 1
        if body.startswith(b"<?", position):
            closing = b"?>"
        elif body.startswith(b"<!--", position):
            closing = b"-->"
        else:
            return body.startswith(b"<!DOCTYPE", position)
        end = body.find(closing, position + 2)
        if end < 0:
            return False
        position = end + len(closing)
    return False


def parse_xml(body: bytes) -> etree._ElementTree:
    """Parse UTF-8 XML bytes into a tree, or raise InvalidMessage (not-xml, xml-forbidden, too-deep)."""
    if _doctype_in_prolog(body):  # refuse before libxml2 even reads the internal subset
        raise _forbidden_doctype()
    try:
        root = etree.fromstring(body, _parser())
    except etree.XMLSyntaxError as error:
        raise _syntax_error(error) from None
    except (ValueError, etree.LxmlError) as error:  # e.g. unicode strings with a declaration
        raise _invalid("not-xml", f"XML illisible : {error}") from None
    tree = root.getroottree()
    docinfo = tree.docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.system_url or docinfo.public_id:
        raise _forbidden_doctype()
    count = int(_COUNT_ELEMENTS(tree))
    # Deeper than MAX_DEPTH takes more than MAX_DEPTH elements: most messages skip the costlier test.
    if count > MAX_DEPTH and _TOO_DEEP(tree):
        raise _invalid("too-deep", f"imbrication XML trop profonde (limite : {MAX_DEPTH} niveaux)")
    if count > MAX_XML_ELEMENTS:
        raise _invalid("too-large", f"trop d'éléments XML : {count} pour une limite de {MAX_XML_ELEMENTS}")
    return tree


_RESOURCE_LIMIT = 114  # libxml2 XML_ERR_RESOURCE_LIMIT: excessive depth, entity amplification…
_UNDECLARED_ENTITY = (26, 27)  # XML_ERR_UNDECLARED_ENTITY, XML_WAR_UNDECLARED_ENTITY


def _syntax_error(error: etree.XMLSyntaxError) -> InvalidMessage:
    text = str(error.msg or error)
    line, column = error.position if error.position else (None, None)
    if error.code == _RESOURCE_LIMIT and "depth" in text:
        return _invalid("too-deep", f"imbrication XML trop profonde (limite : {MAX_DEPTH} niveaux)", text)
    if error.code == _RESOURCE_LIMIT:  # entity amplification and the like
        return _invalid(
            "xml-forbidden", "construction XML refusée (limite de ressources de l'analyseur atteinte)", text
        )
    if error.code in _UNDECLARED_ENTITY:
        return _invalid(
            "xml-forbidden",
            f"référence à une entité interdite ligne {line} : seules les entités XML prédéfinies sont acceptées",
            text,
        )
    where = f" ligne {line}, colonne {column}" if line else ""
    return InvalidMessage(
        [Reason("not-xml", "", f"XML mal formé{where} : {text}", line=line, detail=text)], encoding="xml"
    )


def _forbidden_doctype() -> InvalidMessage:
    return _invalid(
        "xml-forbidden",
        "déclaration DOCTYPE interdite (DTD, entités ou référence externe) : les messages CISU n'en utilisent pas",
    )


def _invalid(code: str, message: str, detail: str = "") -> InvalidMessage:
    return InvalidMessage([Reason(code, "", message, detail=detail)], encoding="xml")
