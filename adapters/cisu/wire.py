"""parse_wire_message: raw bytes from NexSIS (JSON or XML) -> a validated WireMessage."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from lxml import etree

from .limits import MAX_BYTES, MAX_REASONS
from .reasons import InvalidMessage, Reason, json_path
from .reference import EDXL_NS, MESSAGE_PATH, use_cases
from .safe_xml import parse_xml
from .sniffing import check_size, decode_utf8, detect_encoding
from .strict_json import load_json
from .validation import validate_wire
from .xml_shape import local_name, message_elements, normalize_namespaces, wire_from_xml
from .xsd import xsd_reasons

logger = logging.getLogger(__name__)

SUPPORTED_KINDS = frozenset({
    "createCase", "emsi", "resourcesInfoCisu", "reference",
    "resourcesRequest", "resourcesResponse", "resourcesStatus",  # RS-DR, RS-RR, RS-SR (domain.nexsis_requests)
})

# Patient-level use cases (RS-RPIS patient handover, RS-BPV intervention report, RS-URL link to a medical
# document): Tocsin holds no medical record, so they are refused whatever they contain, valid or not.
# The reason names the use case only: nothing of the message is copied into it.
MEDICAL_KINDS = {"rpis": "RS-RPIS", "interventionReport": "RS-BPV", "documentLink": "RS-URL"}
MEDICAL_RECORD = "medical-record"


@dataclass(frozen=True)
class WireMessage:
    envelope: dict  # EDXL-DE fields except content
    header: dict  # RC-DE `message` fields except the use case
    kind: str  # use-case key, one of SUPPORTED_KINDS
    use_case: dict  # JSON-shaped, identical whichever encoding the message came in
    encoding: str  # 'json' | 'xml'
    xml_namespace: str | None  # RC-DE namespace used by an XML sender; None for JSON

    @property
    def distribution_id(self) -> str:
        return self.envelope["distributionID"]

    @property
    def sender_id(self) -> str:
        return self.envelope["senderID"]


def parse_wire_message(
    raw: bytes, content_type: str | None = None, *, max_bytes: int = MAX_BYTES
) -> WireMessage:
    """Decode and fully validate one wire message; raise InvalidMessage (and only that) otherwise."""
    try:
        return _parse(raw, content_type, max_bytes)
    except InvalidMessage:
        raise
    except Exception as error:  # the contract: callers only ever handle InvalidMessage
        logger.exception("unexpected failure while parsing a wire message")
        raise InvalidMessage(
            [Reason("internal", "", f"erreur interne pendant l'analyse du message ({type(error).__name__})")]
        ) from error


def _parse(raw: bytes, content_type: str | None, max_bytes: int) -> WireMessage:
    if isinstance(raw, str):
        raw = raw.encode("utf-8", "surrogatepass")
    elif not isinstance(raw, bytes):
        raw = bytes(raw)
    check_size(raw, max_bytes)
    encoding = detect_encoding(raw, content_type)
    body = decode_utf8(raw, encoding)
    xml_namespace = None
    if encoding == "json":
        wire = load_json(body)
    else:
        tree = parse_xml(body)
        root = tree.getroot()
        xml_namespace = normalize_namespaces(root)
        _refuse_medical(_xml_kind(root), "xml", _xml_identifiers(root))
        problems = xsd_reasons(tree)
        if problems:
            raise InvalidMessage(_capped(problems), encoding="xml", kind=_xml_kind(root), **_xml_identifiers(root))
        wire = wire_from_xml(root)
    identifiers = _json_identifiers(wire)
    checked = validate_wire(wire)
    _refuse_medical(checked.kind, encoding, identifiers)
    if checked.reasons:
        raise InvalidMessage(_capped(checked.reasons), encoding=encoding, kind=checked.kind, **identifiers)
    kind, message = checked.kind, checked.message
    assert isinstance(wire, dict) and kind is not None and message is not None, "validate_wire gave no reason"
    if kind not in SUPPORTED_KINDS:
        raise InvalidMessage(
            [Reason(
                "unsupported-kind", json_path(MESSAGE_PATH + (kind,)),
                f"cas d'usage « {kind} » valide mais non pris en charge "
                f"(pris en charge : {', '.join(sorted(SUPPORTED_KINDS))})",
            )],
            encoding=encoding, kind=kind, **identifiers,
        )
    return WireMessage(
        envelope={key: value for key, value in wire.items() if key != "content"},
        header={key: value for key, value in message.items() if key != kind},
        kind=kind,
        use_case=message[kind],
        encoding=encoding,
        xml_namespace=xml_namespace,
    )


def _refuse_medical(kind: str | None, encoding: str, identifiers: dict) -> None:
    if kind not in MEDICAL_KINDS:
        return
    raise InvalidMessage(
        [Reason(
            MEDICAL_RECORD, json_path(MESSAGE_PATH + (kind,)),
            f"Tocsin ne conserve pas de dossier médical : les messages {MEDICAL_KINDS[kind]} ({kind}) "
            f"relèvent des services de santé et sont refusés sans être lus",
        )],
        encoding=encoding, kind=kind, **identifiers,
    )


def _capped(reasons: list[Reason]) -> list[Reason]:
    unique = list(dict.fromkeys(reasons))
    if len(unique) <= MAX_REASONS:
        return unique
    kept = unique[: MAX_REASONS - 1]
    return kept + [Reason(unique[MAX_REASONS - 1].code, "", f"… et {len(unique) - len(kept)} autres problèmes")]


def _json_identifiers(wire: object) -> dict:
    if not isinstance(wire, dict):
        return {"distribution_id": None, "sender_id": None}
    distribution_id, sender_id = wire.get("distributionID"), wire.get("senderID")
    return {
        "distribution_id": distribution_id if isinstance(distribution_id, str) else None,
        "sender_id": sender_id if isinstance(sender_id, str) else None,
    }


def _xml_identifiers(root: etree._Element) -> dict:
    def text_of(name: str) -> str | None:
        element = root.find(f"{{{EDXL_NS}}}{name}")
        return element.text if element is not None and element.text else None

    return {"distribution_id": text_of("distributionID"), "sender_id": text_of("senderID")}


def _xml_kind(root: etree._Element) -> str | None:
    catalogue = use_cases()
    for message in message_elements(root):
        names = [local_name(child) for child in message if isinstance(child.tag, str)]
        kinds = [name for name in names if name in catalogue]
        if len(kinds) == 1:
            return kinds[0]
    return None
