"""The store's compressor: LZ4 frames from now on, and zlib records of older stores still readable."""

from __future__ import annotations

import zlib

from hypothesis import given
from hypothesis import strategies as st

from adapters.store.event_store import Lz4Compressor

compressor = Lz4Compressor()


@given(st.binary(max_size=4096))
def test_what_is_compressed_decompresses_to_the_same_bytes(data: bytes) -> None:
    assert compressor.decompress(compressor.compress(data)) == data


@given(st.binary(max_size=4096), st.integers(min_value=0, max_value=9))
def test_records_written_with_zlib_at_any_level_stay_readable(data: bytes, level: int) -> None:
    assert compressor.decompress(zlib.compress(data, level)) == data


def test_event_states_are_stored_as_lz4_frames_smaller_than_the_json() -> None:
    resources = b",".join(b'{"id":"r%d","status":"DEPART","phase":"alertee"}' % i for i in range(20))
    state = b'{"facts":{"resources":[' + resources + b"]}}"
    stored = compressor.compress(state)
    assert stored[:4] == b"\x04\x22\x4d\x18"  # LZ4 frame magic number
    assert len(stored) < len(state)
