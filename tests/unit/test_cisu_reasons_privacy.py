"""Issue #17, finding 5: a reason names the field and the rule, never the value received.

A caller's name or phone number put in the wrong field must not be copied into a reason (stored in
clear in the quarantine, shown to auditors, written to the log, sent back to the sender).
"""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.cisu import InvalidMessage, parse_wire_message, to_json_bytes, to_xml_bytes, wrap_use_case
from tests.support.paths import REFERENCE

MARK = "PII"
EXAMPLES = [json.loads(p.read_bytes()) for p in sorted(REFERENCE.glob("examples/*/*.json"))]
# Printable text XML can carry, including quotes and braces that could confuse the reason builders.
VALUES = st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")), min_size=1, max_size=40).map(
    lambda text: f"{MARK}-{text}"
)


def leaves(node: object, path: tuple = ()) -> list[tuple]:
    if isinstance(node, dict):
        return [leaf for key, value in node.items() for leaf in leaves(value, path + (key,))]
    if isinstance(node, list):
        return [leaf for index, value in enumerate(node) for leaf in leaves(value, path + (index,))]
    return [path]


def replaced(node: dict, path: tuple, value: object) -> None:
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value


def wire_of(kind: str, use_case: dict) -> dict:
    return wrap_use_case(kind, use_case, distribution_id="fr.fire.sdis69.cgo_0001", sender_id="fr.fire.sdis69.cgo",
                         sent_at="2024-05-02T14:03:00+02:00", recipient_id="fr.health.samu690")


def reasons_text(raw: bytes, content_type: str) -> str | None:
    try:
        parse_wire_message(raw, content_type)
    except InvalidMessage as invalid:
        return "\n".join(f"{r.path} {r.message} {r.detail}" for r in invalid.reasons) + str(invalid)
    return None


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), value=VALUES, encoding=st.sampled_from(["json", "xml"]))
def test_a_value_in_any_field_never_appears_in_the_reasons(data, value, encoding):
    (kind, use_case), = data.draw(st.sampled_from(EXAMPLES)).items()
    use_case = json.loads(json.dumps(use_case))
    targets = data.draw(st.lists(st.sampled_from(leaves(use_case)), min_size=1, max_size=4))
    for target in targets:
        replaced(use_case, target, value)
    wire = wire_of(kind, use_case)
    raw = to_json_bytes(wire) if encoding == "json" else to_xml_bytes(wire)
    text = reasons_text(raw, f"application/{encoding}")
    assert text is None or MARK not in text


def test_a_name_and_a_phone_number_in_coded_fields_are_refused_without_being_quoted():
    (kind, use_case), = json.loads((REFERENCE / "examples/RC-EDA/RC-EDA_Incendie_RaymondeLECCIA.01.json")
                                   .read_bytes()).items()
    use_case["qualification"]["whatsHappen"]["code"] = "Raymonde LECCIA"
    use_case["qualification"]["victims"]["count"] = "06 12 34 56 78"
    use_case["caseId"] = "0612345678"
    wire = wire_of(kind, use_case)
    for raw, content_type in ((to_json_bytes(wire), "application/json"), (to_xml_bytes(wire), "application/xml")):
        text = reasons_text(raw, content_type)
        assert text is not None and "motif" in text and "whatsHappen" in text
        assert "LECCIA" not in text and "06 12 34" not in text and "0612345678" not in text


def test_numbers_and_duplicate_keys_are_not_quoted_in_json_reasons():
    for body in (b'{"a": 1e999}', b'{"PII-key": 1, "PII-key": 2}'):
        text = reasons_text(body, "application/json")
        assert text is not None and "1e999" not in text
    # a duplicate key is a field name: named, but shortened
    long_key = "k" * 5000
    text = reasons_text(json.dumps({long_key: 1}).encode()[:-1] + b', "' + long_key.encode() + b'": 2}',
                        "application/json")
    assert text is not None and long_key not in text
