"""A trustee's private state folder: what each step of the ceremony keeps.

The folder has mode 0700; every file in it has mode 0600 and is written once,
never replaced (:func:`istifta.trustee.files.write_private`)::

    trustee.json   init:    the manifest, the index, the X25519 transport secret
                            key and the coefficients a_i,0 … a_i,t−1 (secret)
    publics.json   deal:    the n public files the shares were dealt to
    share.json     receive: s_j (secret), V_j = s_j·G and the joint key K

Each file is read back strictly and checked against the others (the public
part must match the secrets), so a damaged file is reported, never used. No
value read from these files reaches a message or a ``repr``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nacl.public import PrivateKey

from istifta.crypto.group import Point, Scalar
from istifta.crypto.threshold import TrusteeSecret
from istifta.errors import CeremonyError, DecodeError
from istifta.protocol.codec import (
    expect_int,
    expect_list,
    expect_object,
    hash_from_json,
    point_from_json,
    scalar_from_json,
)
from istifta.protocol.manifest import Manifest, parse_manifest
from istifta.trustee.files import (
    VERSION,
    TrusteeFile,
    fingerprint,
    hex_bytes,
    parse_trustee_file,
    read_json,
)

__all__ = [
    "PUBLICS",
    "SHARE",
    "TRUSTEE",
    "KeyShare",
    "TrusteeState",
    "dealt_json",
    "load_dealt",
    "load_share",
    "load_trustee",
    "share_json",
    "trustee_json",
]

TRUSTEE, PUBLICS, SHARE = "trustee.json", "publics.json", "share.json"


@dataclass(frozen=True)
class TrusteeState:
    """``trustee.json``: who this trustee is and its secrets."""

    manifest: Manifest = field(repr=False)
    secret: TrusteeSecret  # its repr hides the coefficients
    transport: PrivateKey = field(repr=False)
    own: TrusteeFile = field(repr=False)

    @property
    def index(self) -> int:
        return self.secret.index


@dataclass(frozen=True)
class KeyShare:
    """``share.json``: ``s_j`` and the public values it gives."""

    s_j: Scalar = field(repr=False)
    V_j: Point  # noqa: N815 - PROTOCOL.md's name
    K: Point  # noqa: N815


def trustee_json(state: TrusteeState) -> dict[str, Any]:
    return {
        "version": VERSION,
        "manifest": state.manifest.raw,
        "index": state.index,
        "transport_secret_key": bytes(state.transport).hex(),
        "coefficients": [a.hex() for a in state.secret.coefficients],
        "public": state.own.to_json(),
    }


def dealt_json(files: list[TrusteeFile]) -> dict[str, Any]:
    return {
        "version": VERSION,
        "fingerprint": fingerprint(files),
        "trustees": [f.to_json() for f in files],
    }


def share_json(share: KeyShare) -> dict[str, Any]:
    return {
        "version": VERSION,
        "s_j": share.s_j.hex(),
        "verification_key": share.V_j.hex(),
        "public_key": share.K.hex(),
    }


def _damaged(path: Path, reason: object) -> CeremonyError:
    return CeremonyError(f"{path} is damaged ({reason}): restore the state folder from its backup")


def _version(obj: dict[str, Any], name: str) -> None:
    if obj["version"] != VERSION:
        raise DecodeError(f"{name}.version: expected {VERSION!r}")


def load_trustee(state_dir: Path) -> TrusteeState:
    path = state_dir / TRUSTEE
    if not path.is_file():
        raise CeremonyError(
            f"{state_dir} holds no trustee state (istifta trustee init makes it): check the --state folder"
        )
    keys = ("version", "manifest", "index", "transport_secret_key", "coefficients", "public")
    try:
        obj = expect_object(read_json(path), TRUSTEE, keys)
        _version(obj, TRUSTEE)
        manifest = parse_manifest(obj["manifest"])
        index = expect_int(obj["index"], f"{TRUSTEE}.index", 1, manifest.n)
        raw = expect_list(obj["coefficients"], f"{TRUSTEE}.coefficients", manifest.threshold)
        coefficients = tuple(scalar_from_json(a, f"{TRUSTEE}.coefficients") for a in raw)
        key = hex_bytes(obj["transport_secret_key"], f"{TRUSTEE}.transport_secret_key", 32)
        own = parse_trustee_file(obj["public"], f"{TRUSTEE}.public")
    except DecodeError as exc:
        raise _damaged(path, exc) from None
    state = TrusteeState(manifest, TrusteeSecret(index, coefficients), PrivateKey(key), own)
    if (
        own.index != index
        or own.manifest_hash != manifest.manifest_hash
        or own.public.commitments != tuple(Point.base_mul(a) for a in coefficients)
        or bytes(own.transport_key) != bytes(state.transport.public_key)
    ):
        raise _damaged(path, "its public part does not match its secrets")
    return state


def load_dealt(state_dir: Path, state: TrusteeState) -> list[TrusteeFile] | None:
    """The public files the shares were dealt to, or ``None`` before ``deal``."""
    path = state_dir / PUBLICS
    if not path.exists():
        return None
    try:
        obj = expect_object(read_json(path), PUBLICS, ("version", "fingerprint", "trustees"))
        _version(obj, PUBLICS)
        raw = expect_list(obj["trustees"], f"{PUBLICS}.trustees", state.manifest.n)
        files = [parse_trustee_file(f, f"{PUBLICS}.trustees[{k}]") for k, f in enumerate(raw)]
        claimed = hash_from_json(obj["fingerprint"], f"{PUBLICS}.fingerprint")
    except DecodeError as exc:
        raise _damaged(path, exc) from None
    if claimed != fingerprint(files) or [f.index for f in files] != list(range(1, state.manifest.n + 1)):
        raise _damaged(path, "its fingerprint or its trustees do not add up")
    return files


def load_share(state_dir: Path) -> KeyShare | None:
    """``s_j``, or ``None`` before ``receive``."""
    path = state_dir / SHARE
    if not path.exists():
        return None
    keys = ("version", "s_j", "verification_key", "public_key")
    try:
        obj = expect_object(read_json(path), SHARE, keys)
        _version(obj, SHARE)
        share = KeyShare(
            scalar_from_json(obj["s_j"], f"{SHARE}.s_j"),
            point_from_json(obj["verification_key"], f"{SHARE}.verification_key"),
            point_from_json(obj["public_key"], f"{SHARE}.public_key"),
        )
    except DecodeError as exc:
        raise _damaged(path, exc) from None
    if Point.base_mul(share.s_j) != share.V_j:
        raise _damaged(path, "s_j·G is not its V_j")
    return share
