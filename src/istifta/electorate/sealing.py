"""Credential codes at rest: sealed with a key of the data directory.

The codes are kept only so that an invitation can be sent (and resent, and a
reminder sent) with the voter's link; they are erased at close. The key is
``data_dir/sms.key`` (32 random bytes as hex, mode 0600), made on first use;
a stolen database without it reveals no code. The box is NaCl's SecretBox
(XSalsa20-Poly1305) with a random nonce per code.
"""

from __future__ import annotations

from pathlib import Path

from nacl.exceptions import CryptoError
from nacl.secret import SecretBox
from nacl.utils import random

from istifta.errors import CredentialError
from istifta.store.private import SMS_KEY, load_key

__all__ = ["CodeBox", "load_code_box"]


class CodeBox:
    def __init__(self, key: bytes) -> None:
        self._box = SecretBox(key)

    def seal(self, code: str) -> bytes:
        return bytes(self._box.encrypt(code.encode("ascii"), random(SecretBox.NONCE_SIZE)))

    def open(self, sealed: bytes) -> str:
        try:
            return self._box.decrypt(sealed).decode("ascii")
        except CryptoError:
            raise CredentialError("a sealed code does not open with this data directory's sms.key") from None

    def __repr__(self) -> str:
        return "CodeBox(***)"


def load_code_box(data_dir: Path) -> CodeBox:
    """The box of ``data_dir/sms.key``, made (mode 0600) on first use."""
    return CodeBox(load_key(data_dir / SMS_KEY))
