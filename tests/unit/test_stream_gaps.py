"""Sequences a stream skipped, and whether a consumer's filter reads a whole stream."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from adapters.nats.gaps import covers, describe, missing


def test_gaps_before_between_and_not_after_the_sequences_delivered():
    assert missing(10, [11, 12, 13]) == []
    assert missing(10, [14, 12, 11, 19, 19]) == [(13, 13), (15, 18)]
    assert missing(0, [4, 5]) == [(1, 3)]
    assert missing(10, [3, 9, 10]) == []  # delivered again, below the position: no gap


@given(st.integers(0, 50), st.sets(st.integers(1, 120)))
def test_gaps_and_deliveries_tile_the_range_after_the_position(position, seqs):
    gaps = missing(position, seqs)
    delivered = {s for s in seqs if s > position}
    gap_seqs = [s for first, last in gaps for s in range(first, last + 1)]
    assert len(gap_seqs) == len(set(gap_seqs))  # disjoint, each gap at least one sequence
    assert all(first <= last for first, last in gaps)
    assert set(gap_seqs).isdisjoint(delivered)
    assert set(gap_seqs) | delivered == set(range(position + 1, max(delivered, default=position) + 1))


def test_a_filter_covers_the_subjects_it_matches_whatever_their_wildcards():
    assert covers("nexsis.>", ["nexsis.>"])
    assert covers("nexsis.>", ["nexsis.createCase", "nexsis.*", "nexsis.a.>"])
    assert covers(">", ["anything.at.all", "x"])
    assert covers("nexsis.*", ["nexsis.emsi"])
    assert not covers("nexsis.*", ["nexsis.>"])  # '>' also matches nexsis.a.b
    assert not covers("nexsis.>", ["nexsis"])  # '>' needs one more token
    assert not covers("nexsis.>", ["nexsis.>", "other.>"])  # a stream shared with other subjects
    assert not covers("nexsis.emsi", ["nexsis.*"])
    assert not covers("nexsis.>", [])


_TOKENS = st.sampled_from(["a", "b", "nexsis"])
_PATTERN_TOKENS = st.sampled_from(["a", "b", "nexsis", "*"])


@st.composite
def _patterns(draw) -> str:
    tokens = draw(st.lists(_PATTERN_TOKENS, min_size=1, max_size=4))
    if draw(st.booleans()):
        tokens.append(">")
    return ".".join(tokens)


def _matches(pattern: str, subject: str) -> bool:
    """NATS matching of a concrete subject, as a regular expression: the reference."""
    regex = r"\.".join("[^.]+" if t == "*" else ".+" if t == ">" else re.escape(t) for t in pattern.split("."))
    return re.fullmatch(regex, subject) is not None


@given(_patterns(), st.lists(_TOKENS, min_size=1, max_size=5).map(".".join))
def test_on_concrete_subjects_covering_is_matching(pattern, subject):
    assert covers(pattern, [subject]) == _matches(pattern, subject)


@given(_patterns())
def test_a_filter_covers_a_stream_of_its_own_subject(pattern):
    assert covers(pattern, [pattern])


def test_gaps_are_described_in_french():
    assert describe((11, 15)) == "n° 11 à 15 (5 messages)"
    assert describe((7, 7)) == "n° 7 (1 message)"
