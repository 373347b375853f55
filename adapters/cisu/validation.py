"""JSON Schema validation of a JSON-shaped wire message, piece by piece.

Rather than the 23-way oneOf of EDXL-DE-full.schema.json (slow, and its errors say "not valid
against any alternative"), we validate the envelope, pick the use case by its key, then validate
the RC-DE header and the use case with their own schemas, like the reference hub validator reports.

Reasons name the field and the rule, never the received value: a caller's name or phone number put
in the wrong field would otherwise be copied, in clear, into the quarantine, the log and the reply.
The validator's own messages quote the value, so each reason is rebuilt from the keyword instead.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import jsonschema_rs

from .reasons import Reason, field_name, json_path
from .reference import MESSAGE_PATH, load_json_schema, use_cases

ENVELOPE_SCHEMA = "EDXL-DE-envelope-only.schema.json"
HEADER_SCHEMA = "RC-DE.schema.json"


@functools.cache
def validator(schema_file: str) -> jsonschema_rs.Validator:
    # Every use-case schema only has internal $refs; offline makes sure nothing is ever fetched.
    return jsonschema_rs.validator_for(load_json_schema(schema_file), validate_formats=True, offline=True)


@dataclass
class Checked:
    """Outcome of validate_wire: the located message and use case, and every problem found."""

    reasons: list[Reason]
    message: dict | None = None
    kind: str | None = None


def validate_wire(wire: object) -> Checked:
    if not isinstance(wire, dict):
        return Checked([Reason("envelope", "$", f"un objet JSON est attendu à la racine, {_type_name(wire)} reçu")])
    reasons = schema_reasons(ENVELOPE_SCHEMA, wire, (), "envelope")
    message, located = _locate_message(wire)
    reasons += located
    if message is None:
        return Checked(reasons)
    catalogue = use_cases()
    keys = [key for key in message if key in catalogue]
    message_path = json_path(MESSAGE_PATH)
    kind = keys[0] if len(keys) == 1 else None
    if not keys:
        present = ", ".join(field_name(key) for key in list(message)[:8]) or "aucune"
        reasons.append(Reason(
            "no-use-case", message_path,
            f"aucun cas d'usage reconnu dans le message (clés présentes : {present}) ; "
            f"attendu par exemple : createCase, emsi, resourcesInfoCisu, reference",
        ))
    elif len(keys) > 1:
        reasons.append(Reason(
            "multiple-use-cases", message_path,
            f"plusieurs cas d'usage dans le même message : {', '.join(keys)} ; un seul est attendu",
        ))
    if kind is None or catalogue[kind].needs_header:
        reasons += schema_reasons(HEADER_SCHEMA, message, MESSAGE_PATH, "header")
    if kind is not None:
        reasons += schema_reasons(catalogue[kind].schema_file, message[kind], MESSAGE_PATH + (kind,), "content")
    return Checked(reasons, message, kind)


def _locate_message(wire: dict) -> tuple[dict | None, list[Reason]]:
    """content[0].jsonContent.embeddedJsonContent.message, when the envelope lets us reach it."""
    content = wire.get("content")
    if not isinstance(content, list) or not content:
        return None, []  # the envelope schema already says what is wrong
    reasons = []
    if len(content) > 1:
        reasons.append(Reason(
            "envelope", json_path(("content", 1)),
            f"un seul contentObject est pris en charge par message, {len(content)} reçus",
        ))
    node: object = content[0]
    for key in MESSAGE_PATH[2:]:
        if not isinstance(node, dict):
            return None, reasons
        if key not in node:
            if key == "message":  # below embeddedJsonContent the envelope schema no longer looks
                reasons.append(Reason("envelope", json_path(MESSAGE_PATH), "champ obligatoire absent : message"))
            return None, reasons
        node = node[key]
    if not isinstance(node, dict):
        reasons.append(Reason(
            "header", json_path(MESSAGE_PATH), f"type invalide : objet attendu, {_type_name(node)} reçu"
        ))
        return None, reasons
    return node, reasons


def schema_reasons(schema_file: str, instance: object, base: tuple, code: str) -> list[Reason]:
    compiled = validator(schema_file)
    try:
        if compiled.is_valid(instance):  # the common case, ~5x cheaper than collecting errors
            return []
        errors = list(compiled.iter_errors(instance))
    except (ValueError, UnicodeError, OverflowError, TypeError) as error:  # unrepresentable values
        return [Reason(code, json_path(base), "valeur non représentable en JSON", detail=type(error).__name__)]
    reasons: list[Reason] = []
    for found in errors:
        reasons.extend(_translate(found, base + tuple(found.instance_path), code))
    return reasons


_TYPE_NAMES = {
    "string": "chaîne de caractères", "integer": "entier", "number": "nombre", "boolean": "booléen",
    "object": "objet", "array": "tableau", "null": "null",
}


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "booléen"
    if isinstance(value, int):
        return "entier"
    if isinstance(value, float):
        return "nombre"
    if isinstance(value, str):
        return "chaîne de caractères"
    if isinstance(value, list):
        return "tableau"
    if isinstance(value, dict):
        return "objet"
    return type(value).__name__


def _translate(error: jsonschema_rs.ValidationError, parts: tuple, code: str) -> list[Reason]:
    kind = error.kind
    name = kind.name
    details = kind.as_dict()
    value = error.instance
    rule = f"JSON Schema: {name}"  # the validator's own message quotes the value: never kept
    if name == "required":
        field = details["property"]
        path = json_path(parts + (field,))
        return [Reason(code, path, f"champ obligatoire absent : {field_name(field)}", detail=rule)]
    if name == "additionalProperties":
        return [
            Reason(code, json_path(parts + (field,)), f"champ inconnu : {field_name(field)}", detail=rule)
            for field in details["unexpected"]
        ]
    path = json_path(parts)
    if name == "type":
        expected = " ou ".join(_TYPE_NAMES.get(t, t) for t in details["types"])
        text = f"type invalide : {expected} attendu, {_type_name(value)} reçu"
    elif name == "enum":
        options = [str(option) for option in details["options"]]
        listed = ", ".join(options[:8]) + (f", … ({len(options)} au total)" if len(options) > 8 else "")
        text = f"valeur non autorisée (valeurs possibles : {listed})"
    elif name == "pattern":
        text = f"format invalide : la valeur ne respecte pas le motif {details['pattern']}"
    elif name == "format" and details.get("format") == "date-time":
        text = "date-heure invalide (format attendu : AAAA-MM-JJThh:mm:ss+hh:mm)"
    elif name == "format":
        text = f"format {details.get('format')} invalide"
    elif name == "minItems" and isinstance(value, list):
        text = f"au moins {details['limit']} élément(s) attendu(s), {len(value)} reçu(s)"
    elif name == "maxItems" and isinstance(value, list):
        text = f"au plus {details['limit']} élément(s) attendu(s), {len(value)} reçu(s)"
    elif name == "minLength":
        text = f"texte trop court : au moins {details['limit']} caractère(s) attendu(s)"
    elif name == "maxLength":
        text = f"texte trop long : au plus {details['limit']} caractère(s) attendu(s)"
    elif name in ("minimum", "exclusiveMinimum"):
        text = f"valeur trop petite (minimum {details['limit']})"
    elif name in ("maximum", "exclusiveMaximum"):
        text = f"valeur trop grande (maximum {details['limit']})"
    else:
        text = f"non conforme au schéma (règle {name})"
    return [Reason(code, path, text, detail=rule)]
