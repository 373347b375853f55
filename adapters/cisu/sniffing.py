"""First look at the raw bytes: size, character encoding, and JSON-or-XML detection.

Runs before any parser so that oversize or mis-encoded input never reaches one.
"""

from __future__ import annotations

import re

from .reasons import InvalidMessage, Reason

UTF8_BOM = b"\xef\xbb\xbf"
_FOREIGN_BOMS = (  # longest first: the UTF-32 LE BOM starts with the UTF-16 LE one
    (b"\x00\x00\xfe\xff", "UTF-32 BE"),
    (b"\xff\xfe\x00\x00", "UTF-32 LE"),
    (b"\xfe\xff", "UTF-16 BE"),
    (b"\xff\xfe", "UTF-16 LE"),
)
_XML_DECLARATION = re.compile(rb"^<\?xml\s[^>]*?encoding\s*=\s*[\"']([^\"']*)[\"']")
_CHARSET = re.compile(r"charset\s*=\s*\"?([^\";\s]+)", re.IGNORECASE)
_WHITESPACE = b" \t\r\n"
_UTF8_NAMES = ("utf-8", "utf8")


def check_size(raw: bytes, max_bytes: int) -> None:
    if len(raw) > max_bytes:
        raise InvalidMessage([Reason(
            "too-large", "", f"message trop volumineux : {len(raw)} octets pour une limite de {max_bytes} octets"
        )])


def detect_encoding(raw: bytes, content_type: str | None) -> str:
    """'json' or 'xml': from the media type when it names one, else from the first significant byte."""
    if content_type:
        media, _, params = content_type.partition(";")
        media = media.strip().lower()
        charset = _CHARSET.search(params)
        if charset and charset.group(1).lower() not in _UTF8_NAMES:
            raise _encoding_error(
                f"jeu de caractères {charset.group(1)!r} annoncé par le type de contenu ; seul UTF-8 est accepté"
            )
        if media == "application/json" or media.endswith("+json"):
            return "json"
        if media in ("application/xml", "text/xml") or media.endswith("+xml"):
            return "xml"
        # Unknown media types (octet-stream, text/plain…) happen on message buses: sniff instead.
    body = raw[3:] if raw.startswith(UTF8_BOM) else raw
    stripped = body.lstrip(_WHITESPACE)
    if stripped[:1] == b"<":
        return "xml"
    if stripped[:1] in (b"{", b"["):
        return "json"
    _reject_foreign_bom(raw, None)
    if not stripped:
        raise _encoding_error("message vide")
    raise _encoding_error("format indéterminable : le message ne commence ni par « { » (JSON) ni par « < » (XML)")


def decode_utf8(raw: bytes, encoding: str) -> bytes:
    """Check the bytes are UTF-8; return the body without BOM (and, for XML, leading whitespace)."""
    _reject_foreign_bom(raw, encoding)
    body = raw[3:] if raw.startswith(UTF8_BOM) else raw
    if encoding == "xml" and body[:1] in (b" ", b"\t", b"\r", b"\n"):
        body = body.lstrip(_WHITESPACE)  # XML forbids anything before the declaration; be lenient
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as error:
        offset = error.start + (len(raw) - len(body))
        raise _encoding_error(
            f"UTF-8 invalide à l'octet {offset} (octet 0x{raw[offset]:02x}) : le message doit être encodé en UTF-8",
            encoding,
        ) from None
    if encoding == "xml":
        declared = _XML_DECLARATION.match(body)
        name = declared.group(1).decode("ascii", "replace") if declared else "utf-8"
        if name.lower() not in _UTF8_NAMES:
            raise _encoding_error(f"la déclaration XML annonce l'encodage {name!r} ; seul UTF-8 est accepté", encoding)
    return body


def _reject_foreign_bom(raw: bytes, encoding: str | None) -> None:
    for bom, name in _FOREIGN_BOMS:
        if raw.startswith(bom):
            raise _encoding_error(
                f"message encodé en {name} (marque d'ordre des octets en tête) : seul UTF-8 est accepté", encoding
            )
    if b"\x00" in raw[:4]:
        raise _encoding_error(
            "octets nuls en tête du message (UTF-16 ou UTF-32 sans BOM ?) : seul UTF-8 est accepté", encoding
        )


def _encoding_error(message: str, encoding: str | None = None) -> InvalidMessage:
    return InvalidMessage([Reason("encoding", "", message)], encoding=encoding)
