"""Issue #17, finding 6: every xs:pattern of the shipped XSDs is checked in linear time before libxml2.

For each pattern, generated adversarial values (long near-matches that make backtracking engines
explode, and a plainly invalid one) are refused by that check, with a precise reason, and the XSD
validator (libxml2) is never called for them.
"""

from __future__ import annotations

import time

import pytest
import re2
from lxml import etree

import adapters.cisu.xsd as xsd
from adapters.cisu import InvalidMessage, parse_wire_message
from adapters.cisu.xsd_patterns import UnsupportedPattern, patterns, translate
from tests.support.paths import REFERENCE
from tests.support.wire import as_xml, example, wire

ALL_PATTERNS = sorted(
    {p.get("value") or "" for f in (REFERENCE / "xsd").glob("*.xsd") for p in etree.parse(str(f)).iter(
        "{http://www.w3.org/2001/XMLSchema}pattern")}
)
RULES = sorted(patterns().rules.items())


def adversarial(source: str) -> list[str]:
    """Values no pattern of the shipped XSDs accepts: near-matches ending in a character none allows."""
    near = [c * 40 + "!" for c in "aA0._-+@"] + ["a." * 20 + "!", "0" * 30 + "\u2603", "fr.fire.x." * 4 + "!"]
    return near + ["\u2603", ""]


class CountingSchema:
    """Stands for libxml2's compiled schema: counts validations."""

    calls = 0

    def validate(self, tree) -> bool:
        CountingSchema.calls += 1
        return True

    error_log: list = []


@pytest.fixture
def libxml2_calls(monkeypatch):
    CountingSchema.calls = 0
    monkeypatch.setattr(xsd, "schema", lambda: CountingSchema())
    return CountingSchema


def test_every_shipped_pattern_has_a_linear_time_rule():
    assert len(ALL_PATTERNS) > 10
    covered = {source for _, rules in RULES for rule in rules for source in rule.sources}
    assert covered == set(ALL_PATTERNS)


@pytest.mark.parametrize(("key", "rules"), RULES, ids=[
    f"{etree.QName(parent).localname}/{etree.QName(child).localname}" for (parent, child), _ in RULES
])
def test_adversarial_values_are_refused_before_libxml2(key, rules, libxml2_calls):
    parent_tag, tag = key
    for value in adversarial(rules[0].sources[0]):
        parent = etree.Element(parent_tag)
        etree.SubElement(parent, tag).text = value
        started = time.process_time()
        reasons = xsd.xsd_reasons(parent.getroottree())
        assert time.process_time() - started < 0.05
        [reason] = reasons
        assert "motif" in reason.message and rules[0].sources[0] in reason.message
        assert reason.message.startswith(f"format invalide pour {etree.QName(tag).localname} ")
        assert value == "" or value not in reason.message
        assert reason.detail == "XSD facet pattern (RE2)"
    assert libxml2_calls.calls == 0


@pytest.mark.parametrize(("name", "field"), [
    ("RC-EDA/RC-EDA_Incendie_RaymondeLECCIA.01", "caseId"),
    ("RC-RI/RC-RI_Incendie_RaymondeLECCIA.04", "caseId"),
])
def test_a_crafted_case_id_in_a_real_message_never_reaches_libxml2(name, field, libxml2_calls):
    kind, use_case = example(name)
    use_case[field] = "a" * 30 + "!"  # about a second of backtracking in libxml2 before the check
    with pytest.raises(InvalidMessage) as refused:
        parse_wire_message(as_xml(wire(kind, use_case)), "application/xml")
    [reason] = refused.value.reasons
    assert reason.path.endswith(f".{kind}.{field}") and "motif" in reason.message
    assert libxml2_calls.calls == 0


def test_valid_values_still_reach_libxml2(libxml2_calls):
    parse_wire_message(as_xml(wire(*example("RC-EDA/RC-EDA_Incendie_RaymondeLECCIA.01"))), "application/xml")
    assert libxml2_calls.calls == 1


@pytest.mark.parametrize("source", ALL_PATTERNS)
def test_translation_keeps_the_xsd_meaning_on_ordinary_values(source):
    regex = re2.compile(translate(source))
    assert regex.fullmatch("a" * 30 + "!") is None
    if "\\d" in source:  # XSD \d is any Unicode digit, like libxml2's
        assert "\\p{Nd}" in translate(source)


def test_what_re2_cannot_express_is_said():
    for pattern in (r"\p{IsBasicLatin}+", "[a-z-[aeiou]]", "[\\w]"):
        with pytest.raises(UnsupportedPattern):
            translate(pattern)
    assert re2.compile(translate("^a$")).fullmatch("^a$")  # anchors are plain characters in XSD
    assert re2.compile(translate("a.c")).fullmatch("a\nc") is None
    assert re2.compile(translate(r"\i\c*")).fullmatch("_x-1")
