"""Strict JSON decoding: RFC 8259 only, no duplicate keys, no NaN/Infinity, bounded nesting.

Reasons say where and which rule, never the offending number or text (see validation.py)."""

from __future__ import annotations

import json
import math
import re

import orjson

from .limits import MAX_DEPTH
from .reasons import InvalidMessage, Reason, field_name


class _DuplicateKey(ValueError):
    pass


def _object_without_duplicates(pairs: list[tuple[str, object]]) -> dict:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return result


def _refuse_constant(name: str) -> object:
    raise ValueError(f"constante non standard {name}")  # NaN, Infinity or -Infinity: a keyword, not a value


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e400 would silently become inf
        raise ValueError("nombre hors limites")
    return value


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


# The reference decoder: the stdlib C scanner with a pairs hook sees duplicate keys (orjson keeps the
# last one silently). `_quick` spares most messages its cost.
_DECODER = json.JSONDecoder(
    object_pairs_hook=_object_without_duplicates, parse_constant=_refuse_constant, parse_float=_finite_float
)


def load_json(body: bytes) -> object:
    """Decode UTF-8 JSON bytes (already checked to be UTF-8) or raise InvalidMessage."""
    value = _quick(body)
    if value is _UNSURE:
        value = _strict(body)
    # Deeper than MAX_DEPTH takes more than MAX_DEPTH objects and arrays, so more opening brackets (counted
    # in C, strings included: an over-count only costs the walk): most messages skip the walk.
    if body.count(b"{") + body.count(b"[") > MAX_DEPTH and _deeper_than(value, MAX_DEPTH):
        raise InvalidMessage(
            [Reason("too-deep", "", f"imbrication JSON trop profonde (limite : {MAX_DEPTH} niveaux)")],
            encoding="json",
        )
    if _SURROGATE_ESCAPE.search(body) and _has_lone_surrogate(value):
        raise _invalid("séquence \\uXXXX désignant un demi-caractère UTF-16 isolé : texte non représentable en UTF-8")
    return value


def _strict(body: bytes) -> object:
    """The reference decoding, with its precise reasons."""
    text = body.decode("utf-8")
    try:
        return _DECODER.decode(text)
    except _DuplicateKey as error:
        raise _invalid(f"clé en double dans un objet JSON : {field_name(error.args[0])}") from None
    except RecursionError:
        raise InvalidMessage(
            [Reason("too-deep", "", f"imbrication JSON trop profonde (limite : {MAX_DEPTH} niveaux)")],
            encoding="json",
        ) from None
    except json.JSONDecodeError as error:
        raise _invalid(f"JSON invalide ligne {error.lineno}, colonne {error.colno} : {_french(error.msg)}") from None
    except ValueError as error:  # NaN / Infinity, an out-of-range number, or an integer too long for int()
        known = str(error) if str(error).startswith(("constante non standard", "nombre hors limites")) else None
        raise _invalid(f"JSON invalide : {known or 'nombre non représentable'}") from None


_UNSURE = object()
# orjson reads integers beyond 64 bits as floats: numbers of 19 digits or more go to the stdlib.
_DIGITS_ONLY = bytes(0x39 if 0x30 <= byte <= 0x39 else 0x20 for byte in range(256))
_LONG_DIGIT_RUN = b"9" * 19


def _quick(body: bytes) -> object:
    """orjson's value (much cheaper than `_strict`, even with the checks below) when it is surely the value
    `_strict` would give, else _UNSURE: `_strict` then decides, so any doubt only costs time.

    orjson is as strict as `_strict` (RFC 8259, no NaN, no infinite float, no lone surrogate) except
    that it keeps the last of duplicate keys silently. Those are caught by counting colons: outside
    strings, one follows each key; inside strings, the same ones are written back, unless an escape
    \\u003a made one, which sends the message to `_strict`. So a re-encoding with fewer colons than
    the input lost a key."""
    if b"\\u003" in body or _LONG_DIGIT_RUN in body.translate(_DIGITS_ONLY):
        return _UNSURE
    try:
        value = orjson.loads(body)
        again = orjson.dumps(value)
    except (ValueError, TypeError):  # orjson's decode and encode errors (depth, syntax…)
        return _UNSURE
    return value if again.count(b":") == body.count(b":") else _UNSURE


def _deeper_than(value: object, budget: int) -> bool:
    # Recursion is safe here: we stop descending after `budget` levels.
    if budget == 0:
        return True
    for child in value.values() if type(value) is dict else value if type(value) is list else ():
        kind = type(child)
        if (kind is dict or kind is list) and _deeper_than(child, budget - 1):
            return True
    return False


def _has_lone_surrogate(value: object) -> bool:
    # Escaped pairs decode to one character; an isolated half cannot be encoded in UTF-8.
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_lone_surrogate(v) for v in value)
    return False


def _invalid(message: str) -> InvalidMessage:
    return InvalidMessage([Reason("not-json", "", message)], encoding="json")


_MESSAGES = {
    "Expecting value": "valeur attendue",
    "Expecting ',' delimiter": "virgule attendue",
    "Expecting ':' delimiter": "deux-points attendu",
    "Expecting property name enclosed in double quotes": "nom de propriété entre guillemets attendu",
    "Extra data": "données en trop après la fin du document",
    "Unterminated string starting at": "chaîne non terminée",
    "Invalid control character at": "caractère de contrôle interdit dans une chaîne",
    "Invalid \\escape": "séquence d'échappement invalide",
    "Invalid \\uXXXX escape": "séquence \\uXXXX invalide",
    "Illegal trailing comma before end of object": "virgule en trop avant la fin de l'objet",
    "Illegal trailing comma before end of array": "virgule en trop avant la fin du tableau",
}


def _french(message: str) -> str:
    return _MESSAGES.get(message, message)
