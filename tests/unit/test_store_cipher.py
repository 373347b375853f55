"""The store's cipher: the library's AES-GCM layout both ways, one AES-GCM object, picklable into workers."""

from __future__ import annotations

import pickle

import pytest
from eventsourcing.cryptography import AESCipher
from eventsourcing.utils import Environment
from hypothesis import given
from hypothesis import strategies as st

from adapters.store.cipher import StoreCipher, bare_decrypter

KEY = AESCipher.create_key(32)
ours = StoreCipher(Environment(env={"CIPHER_KEY": KEY}))
library = AESCipher(Environment(env={"CIPHER_KEY": KEY}))


@given(st.binary(max_size=4096))
def test_each_reads_what_the_other_wrote(data: bytes) -> None:
    assert ours.decrypt(ours.encrypt(data)) == data
    assert library.decrypt(ours.encrypt(data)) == data  # stores written now stay readable by the library
    assert ours.decrypt(library.encrypt(data)) == data  # and stores written before, by us


@given(st.binary(max_size=4096))
def test_the_rebuild_s_bare_decrypter_reads_both_ciphers(data: bytes) -> None:
    bare = bare_decrypter(library.key)
    assert bare(ours.encrypt(data)) == data
    assert bare(library.encrypt(data)) == data


def test_a_fresh_nonce_for_each_encryption() -> None:
    assert ours.encrypt(b"same bytes") != ours.encrypt(b"same bytes")


@given(st.binary(min_size=1, max_size=256), st.data())
def test_a_damaged_record_is_refused(data: bytes, draw: st.DataObject) -> None:
    sealed = bytearray(ours.encrypt(data))
    position = draw.draw(st.integers(min_value=0, max_value=len(sealed) - 1))
    sealed[position] ^= 1 << draw.draw(st.integers(min_value=0, max_value=7))
    with pytest.raises(ValueError):
        ours.decrypt(bytes(sealed))


def test_a_record_too_short_to_hold_a_nonce_and_a_tag_is_refused() -> None:
    with pytest.raises(ValueError, match="Damaged"):
        ours.decrypt(b"\x00" * 27)


def test_it_crosses_to_a_worker_process_without_its_aesgcm_object() -> None:
    ours.encrypt(b"x")  # builds the AESGCM object, which pickle cannot carry
    copy = pickle.loads(pickle.dumps(ours))
    assert copy.key == ours.key
    assert copy.decrypt(ours.encrypt(b"message")) == b"message"
