"""Property tests: strict_json's orjson path never decides differently from the reference decoder.

Whenever `_quick` gives a value, `_strict` gives the same one, type for type and key order included;
whenever `_strict` refuses the bytes, `_quick` gives nothing (it leaves them to `_strict`, whose reasons
are then reported).
"""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.cisu import InvalidMessage
from adapters.cisu.strict_json import _UNSURE, _quick, _strict, load_json

MANY = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _same_decision(raw: bytes) -> None:
    quick = _quick(raw)
    try:
        strict = _strict(raw)
    except InvalidMessage:
        assert quick is _UNSURE
        return
    if quick is not _UNSURE:
        assert repr(quick) == repr(strict)  # repr tells 1 from 1.0 and shows key order


@MANY
@given(st.text(alphabet='{}[]:," \\\t\nu0123456789abcdefABCDEF.eE+-tnrl', max_size=60))
def test_json_like_noise(text):
    _same_decision(text.encode())


_NUMBER = st.from_regex(r"\A-?(0|[1-9][0-9]{0,24})(\.[0-9]{1,24})?([eE][+-]?[0-9]{1,4})?\Z")
_KEY = st.text(alphabet='ab:"\\é \u2028', max_size=4)


def _scalar_text(draw) -> str:
    kind = draw(st.sampled_from(["number", "string", "escaped", "constant", "float"]))
    if kind == "number":
        return draw(_NUMBER)
    if kind == "float":
        return repr(draw(st.floats(allow_nan=False, allow_infinity=False)))
    if kind == "string":
        return json.dumps(draw(_KEY), ensure_ascii=draw(st.booleans()))
    if kind == "escaped":  # escapes of colons, quotes, surrogates (paired or not)
        escapes = ["\\u003a", "\\u003A", "\\ud800", "\\udc00", "\\ud83d\\ude00", "\\\\", "\\/"]
        return '"' + draw(st.sampled_from(escapes)) + '"'
    return draw(st.sampled_from(["true", "false", "null", "NaN", "Infinity", "1e400", "-1e999"]))


@st.composite
def _json_text(draw, depth=0) -> str:
    """JSON text whose objects may repeat keys, with random spacing."""
    space = draw(st.sampled_from(["", " ", "\n", "\t "]))
    if depth >= 4 or draw(st.integers(0, 2)) == 0:
        return _scalar_text(draw)
    if draw(st.booleans()):
        keys = draw(st.lists(_KEY, max_size=4))
        keys += draw(st.lists(st.sampled_from(keys), max_size=2)) if keys else []  # duplicates, sometimes
        members = [f"{json.dumps(k)}{space}:{space}{draw(_json_text(depth + 1))}" for k in keys]
        return "{" + f",{space}".join(members) + "}"
    items = draw(st.lists(_json_text(depth + 1), max_size=4))
    return "[" + f",{space}".join(items) + "]"


@MANY
@given(_json_text())
def test_generated_json(text):
    _same_decision(text.encode())


@MANY
@given(st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4),
    max_leaves=20,
))
def test_any_value_decodes_as_the_stdlib_does(value):
    raw = json.dumps(value, ensure_ascii=False).encode()
    _same_decision(raw)
    assert repr(load_json(raw)) == repr(json.loads(raw))


def test_a_duplicate_key_is_still_refused_with_its_name():
    for raw in (b'{"a": 1, "a": 1}', b'{"k": {"x": "1:2", "x": {}}}', b'[{"t": "12:00"}, {"u": 1, "u": [":"]}]'):
        assert _quick(raw) is _UNSURE
        try:
            load_json(raw)
        except InvalidMessage as error:
            assert "clé en double" in error.reasons[0].message
        else:
            raise AssertionError(raw)


def test_an_escaped_colon_cannot_hide_a_duplicate():
    raw = b'{"a": "\\u003a", "a": "\\u003a"}'  # as many colons once decoded and one key dropped
    assert _quick(raw) is _UNSURE


def test_the_reference_examples_take_the_quick_path():
    from tests.support.paths import REFERENCE

    examples = sorted(REFERENCE.glob("examples/*/*.json"))
    assert examples
    for path in examples:
        raw = path.read_bytes()
        assert repr(_quick(raw)) == repr(_strict(raw)), path
