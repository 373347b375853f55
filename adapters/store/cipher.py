"""The store's cipher: the library's AES-GCM layout, with one AES-GCM object per process.

The library's `AESCipher` builds an `AESGCM` object for every call; everything Tocsin stores is
encrypted (each message's raw bytes, each event, each checkpoint), so ingestion paid that twice a
message and a rebuild once an event. This cipher keeps one, and writes and reads exactly the library's
layout (nonce, 12 bytes; tag, 16; ciphertext), so stores written with either stay readable by both.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.cryptography import AESCipher

_NONCE, _TAG = 12, 16


class StoreCipher(AESCipher):
    _aead: AESGCM | None = None

    def _aesgcm(self) -> AESGCM:
        if self._aead is None:  # built where it is used: AESGCM objects cannot be pickled into a worker
            self._aead = AESGCM(self.key)
        return self._aead

    def __getstate__(self) -> dict:
        return {"key": self.key}

    def encrypt(self, plaintext: bytes) -> bytes:
        nonce = self.random_bytes(_NONCE)
        sealed = self._aesgcm().encrypt(nonce, plaintext, None)  # ciphertext then tag
        return b"".join((nonce, sealed[-_TAG:], sealed[:-_TAG]))

    def decrypt(self, ciphertext: bytes) -> bytes:
        if len(ciphertext) < _NONCE + _TAG:
            raise ValueError("Damaged cipher text: shorter than a nonce and a tag")
        try:
            return _open(self._aesgcm().decrypt, ciphertext)
        except InvalidTag as error:
            raise ValueError("Invalid cipher tag") from error


def bare_decrypter(key: bytes) -> Callable[[bytes], bytes]:
    """Decrypt the layout with one AESGCM object and no checks of the cipher's own (length, the error
    turned into ValueError): for loops over a million stored events, such as the views' rebuild."""
    return partial(_open, AESGCM(key).decrypt)


def _open(decrypt: Callable, sealed: bytes) -> bytes:
    """AESGCM wants the ciphertext then the tag; the layout stores nonce, tag, ciphertext."""
    return decrypt(sealed[:_NONCE], sealed[_NONCE + _TAG :] + sealed[_NONCE : _NONCE + _TAG], None)
