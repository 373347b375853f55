"""CISU / EDXL-DE wire messages from NexSIS: parsing, validation and writing, JSON and XML.

    parse_wire_message(raw, content_type) -> WireMessage  (raises InvalidMessage, nothing else)
    wrap_use_case(kind, use_case, ...) -> JSON-shaped wire dict
    to_json_bytes(wire) / to_xml_bytes(wire, namespace=...) -> bytes parse_wire_message accepts
"""

from .reasons import InvalidMessage, Reason
from .wire import SUPPORTED_KINDS, WireMessage, parse_wire_message
from .writer import to_json_bytes, to_xml_bytes, wrap_use_case

__all__ = [
    "InvalidMessage",
    "Reason",
    "SUPPORTED_KINDS",
    "WireMessage",
    "parse_wire_message",
    "to_json_bytes",
    "to_xml_bytes",
    "wrap_use_case",
]
