"""A trustee's side of the key ceremony and of the decryption (PROTOCOL.md §3, §7).

An edge: this module keeps keys in files; the arithmetic is
``crypto/threshold.py``'s and ``protocol/tally.py``'s. Each trustee runs it on
their own (ideally offline) machine; the organiser only relays the files of
:mod:`istifta.trustee.files`. The steps, each keeping what it made in the
private state folder of :mod:`istifta.trustee.state`:

1. :func:`init` draws the polynomial ``a_i,0 … a_i,t−1`` and an X25519
   transport key pair and writes the public ``trustee-<i>.json``;
2. :func:`deal` checks every trustee's public file, and that this trustee's
   own is the one it made, then seals ``f_i(j)`` to each other trustee ``j``
   (``share-<i>-to-<j>.json``);
3. :func:`receive` opens the shares addressed to this trustee, checks each
   against its sender's commitments (``f_i(j)·G = Σ_k j^k·C_i,k``) and keeps
   ``s_j = Σ_i f_i(j)``;
4. :func:`check_election`, when the election opens: its parameters must carry
   this ceremony's commitments, joint key and ``V_j``;
5. :func:`decrypt` computes ``D = s_j·A`` for every tally ciphertext, with its
   proof, once the election is shown (again) to be the ceremony's.

The organiser calls :func:`load_publics` to freeze the parameters.

The organiser relays every file, so it could hand the trustees a public file
with its own transport key in place of a trustee's and read the shares. Two
checks stop that: each trustee's own file must come back unchanged, and the
trustees compare the *fingerprint* of the set of public files (printed by
deal, receive and show) over a channel the organiser does not control.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nacl.exceptions import CryptoError
from nacl.public import PrivateKey, SealedBox

from istifta.crypto.group import Point, RandomSource, Scalar
from istifta.crypto.threshold import (
    TrusteePublic,
    check_share,
    combine_shares,
    generate_trustee,
    joint_key,
    verification_key,
    verify_trustee,
)
from istifta.errors import CeremonyError, DecodeError, DecryptionError
from istifta.protocol.manifest import Manifest, parse_manifest
from istifta.protocol.parameters import ElectionParameters
from istifta.protocol.tally import (
    PartialDecryption,
    Tally,
    partial_decrypt,
    verify_partial_decryption,
)
from istifta.trustee.files import (
    ShareFile,
    TrusteeFile,
    check_outside,
    expand,
    fingerprint,
    make_private_dir,
    parse_share_file,
    parse_trustee_file,
    read_json,
    write_private,
    write_public,
)
from istifta.trustee.state import (
    PUBLICS,
    SHARE,
    TRUSTEE,
    KeyShare,
    TrusteeState,
    dealt_json,
    load_dealt,
    load_share,
    load_trustee,
    share_json,
    trustee_json,
)

__all__ = [
    "Dealt",
    "TrusteeStatus",
    "check_election",
    "deal",
    "decrypt",
    "init",
    "load_publics",
    "load_trustee_files",
    "receive",
    "status",
]

PUBLIC_PATTERN = "trustee-*.json"


@dataclass(frozen=True)
class TrusteeStatus:
    """What a state folder holds, without its secrets (``istifta trustee show``)."""

    index: int
    manifest: Manifest = field(repr=False)
    fingerprint: str | None
    """The fingerprint of the public files dealt to, once the shares are dealt."""
    verification_key: Point | None
    """``V_j = s_j·G``, once the shares are received."""
    public_key: Point | None
    """The joint key ``K``, once the shares are received."""

    @property
    def received(self) -> bool:
        return self.verification_key is not None


@dataclass(frozen=True)
class Dealt:
    files: tuple[Path, ...]
    """The share files written, one per other trustee."""
    fingerprint: str


# --- the organiser's side --------------------------------------------------------------


def load_trustee_files(paths: Iterable[Path], manifest: Manifest) -> list[TrusteeFile]:
    """Every trustee's public file (a folder gives its ``trustee-*.json``), each
    checked: this manifest, ``t`` commitments, a proof of knowledge that
    verifies, and exactly one file for each trustee ``1 … n``."""
    mh = manifest.manifest_hash
    found: dict[int, tuple[Path, TrusteeFile]] = {}
    for path in expand(paths, PUBLIC_PATTERN):
        f = parse_trustee_file(read_json(path), str(path))
        if f.manifest_hash != mh:
            raise CeremonyError(
                f"{path} is from another referendum: its manifest_hash is {f.manifest_hash}, "
                f"this referendum's is {mh}"
            )
        if f.index > manifest.n:
            raise CeremonyError(
                f"{path} is trustee {f.index}'s, but this referendum has trustees 1 to {manifest.n}"
            )
        if f.index in found:
            raise CeremonyError(
                f"{path} and {found[f.index][0]} are both trustee {f.index}'s public file: "
                "give one file per trustee"
            )
        try:
            verify_trustee(f.public, manifest.threshold, bytes.fromhex(mh))
        except CeremonyError as exc:
            raise CeremonyError(f"{path}: {exc}") from None
        found[f.index] = (path, f)
    missing = [str(i) for i in range(1, manifest.n + 1) if i not in found]
    if missing:
        raise CeremonyError(
            f"no public file for trustee {', '.join(missing)}: every trustee's trustee-<i>.json is needed"
        )
    return [found[i][1] for i in range(1, manifest.n + 1)]


def load_publics(paths: Iterable[Path], manifest: Manifest) -> list[TrusteePublic]:
    """The trustees' public keys in index order, checked, for ``freeze_parameters``."""
    return [f.public for f in load_trustee_files(paths, manifest)]


# --- the trustee's steps ---------------------------------------------------------------


def init(
    state_dir: Path,
    manifest: Manifest | Any,
    index: int,
    out: Path | None = None,
    rng: RandomSource = os.urandom,
) -> Path:
    """Make trustee ``index``'s polynomial and transport key, keep them in the new
    folder ``state_dir`` and write the public file to ``out`` (a file or a
    folder; by default ``trustee-<index>.json`` here). Returns its path.

    Draws the coefficients and the proof as :func:`generate_trustee` does, then
    32 bytes for the transport secret key."""
    m = manifest if isinstance(manifest, Manifest) else parse_manifest(manifest)
    if not 1 <= index <= m.n:
        raise CeremonyError(f"there is no trustee {index}: this referendum has trustees 1 to {m.n}")
    name = f"trustee-{index}.json"
    target = Path(name) if out is None else out / name if out.is_dir() else out
    check_outside(target, state_dir)
    if not target.parent.is_dir():
        raise CeremonyError(f"{target.parent}: no such folder")
    make_private_dir(state_dir)
    secret, public = generate_trustee(index, m.threshold, bytes.fromhex(m.manifest_hash), rng)
    transport = PrivateKey(rng(32))
    state = TrusteeState(m, secret, transport, TrusteeFile(m.manifest_hash, public, transport.public_key))
    write_private(state_dir / TRUSTEE, trustee_json(state))
    write_public(target, state.own.to_json())
    return target


def deal(state_dir: Path, publics: Iterable[Path], out_dir: Path) -> Dealt:
    """Seal ``f_i(j)`` to each other trustee ``j``, into ``out_dir``."""
    me = load_trustee(state_dir)
    files = load_trustee_files(publics, me.manifest)
    if files[me.index - 1].to_json() != me.own.to_json():
        raise CeremonyError(
            f"the public file given for trustee {me.index} (you) is not the one you made: "
            "it was changed on the way. Do not go on; tell the other trustees"
        )
    fp = fingerprint(files)
    dealt = load_dealt(state_dir, me)
    if dealt is not None and fingerprint(dealt) != fp:
        raise CeremonyError(
            f"you already dealt your shares to other public files (fingerprint "
            f"{fingerprint(dealt)}; these have {fp}). If a trustee started again, "
            "every trustee must start again, each in a new state folder"
        )
    check_outside(out_dir, state_dir)
    sealed = [_seal(me, f) for f in files if f.index != me.index]
    if dealt is None:
        write_private(state_dir / PUBLICS, dealt_json(files))
    out_dir.mkdir(parents=True, exist_ok=True)
    for share_file in sealed:
        write_public(out_dir / share_file.name, share_file.to_json())
    return Dealt(tuple(out_dir / s.name for s in sealed), fp)


def _seal(me: TrusteeState, recipient: TrusteeFile) -> ShareFile:
    j = recipient.index
    try:
        box = SealedBox(recipient.transport_key).encrypt(me.secret.share_for(j).to_bytes())
    except CryptoError:
        raise CeremonyError(
            f"trustee {j}'s transport key cannot be used: ask trustee {j} to check their public file"
        ) from None
    return ShareFile(me.manifest.manifest_hash, me.index, j, bytes(box))


def receive(state_dir: Path, publics: Iterable[Path] | None, shares: Iterable[Path]) -> TrusteeStatus:
    """Open and check the shares addressed to this trustee (a folder gives its
    ``share-*-to-<j>.json``), then keep ``s_j = Σ_i f_i(j)``. ``publics``, when
    given, must be the files dealt to. A share that fails stops the ceremony:
    the error names its sender and nothing is stored."""
    me = load_trustee(state_dir)
    if load_share(state_dir) is not None:
        raise CeremonyError(
            f"{state_dir} already holds your key share: the ceremony is over for you "
            "(istifta trustee show prints it)"
        )
    files = load_dealt(state_dir, me)
    if files is None:
        raise CeremonyError("deal your own shares first (istifta trustee deal), then receive")
    if publics is not None:
        given = fingerprint(load_trustee_files(publics, me.manifest))
        if given != fingerprint(files):
            raise CeremonyError(
                f"these public files (fingerprint {given}) are not the ones you dealt your "
                f"shares to (fingerprint {fingerprint(files)}): give the same files"
            )
    paths = expand(shares, f"share-*-to-{me.index}.json")
    received = _open_shares(me, files, paths)
    s_j = combine_shares([me.secret.share_for(me.index), *received])
    publics_ = [f.public for f in files]
    share = KeyShare(s_j, Point.base_mul(s_j), joint_key(publics_))
    if share.V_j != verification_key(publics_, me.index):
        raise CeremonyError("your key share does not match V_j: stop the ceremony")
    write_private(state_dir / SHARE, share_json(share))
    return status(state_dir)


def _open_shares(me: TrusteeState, files: list[TrusteeFile], paths: list[Path]) -> list[Scalar]:
    """``f_i(j)`` from every other trustee ``i``, each opened and checked, in index order."""
    j, n = me.index, me.manifest.n
    found: dict[int, tuple[Path, ShareFile]] = {}
    for path in paths:
        sf = parse_share_file(read_json(path), str(path))
        if sf.manifest_hash != me.manifest.manifest_hash:
            raise CeremonyError(f"{path} is from another referendum: its manifest_hash differs")
        if sf.recipient != j:
            raise CeremonyError(
                f"{path} is addressed to trustee {sf.recipient}, not to you (trustee {j}): "
                "give only the share files addressed to you"
            )
        if sf.sender == j or sf.sender > n:
            raise CeremonyError(f"{path} says it is from trustee {sf.sender}, which cannot be")
        if sf.sender in found:
            raise CeremonyError(
                f"{path} and {found[sf.sender][0]} are both from trustee {sf.sender}: "
                "give one share per trustee"
            )
        found[sf.sender] = (path, sf)
    missing = [str(i) for i in range(1, n + 1) if i != j and i not in found]
    if missing:
        raise CeremonyError(
            f"no share from trustee {', '.join(missing)}: every other trustee's "
            f"share-<i>-to-{j}.json is needed"
        )
    box = SealedBox(me.transport)
    shares = []
    for i, (path, sf) in sorted(found.items()):
        try:
            share = Scalar.decode(box.decrypt(sf.sealed), "share")
        except (CryptoError, DecodeError):
            raise CeremonyError(
                f"the share from trustee {i} ({path}) does not open with your key: it was "
                "changed on the way or not sealed to you. Stop the ceremony"
            ) from None
        try:
            check_share(files[i - 1].public, j, share)
        except CeremonyError as exc:
            raise CeremonyError(f"{path}: {exc}") from None
        shares.append(share)
    return shares


def check_election(state_dir: Path, params: ElectionParameters) -> TrusteeStatus:
    """Check that ``params`` are this trustee's ceremony's: the same manifest, the same
    trustees' commitments and proofs (so the same ``K``), and ``s_j·G = V_j``. Run it
    when the election opens, before any ballot is cast; :func:`decrypt` runs it again."""
    _checked(state_dir, params)
    return status(state_dir)


def _checked(state_dir: Path, params: ElectionParameters) -> tuple[TrusteeState, KeyShare]:
    me = load_trustee(state_dir)
    share = load_share(state_dir)
    files = load_dealt(state_dir, me)
    if share is None or files is None:
        raise CeremonyError("this trustee has no key share yet: finish the ceremony first")
    mh = me.manifest.manifest_hash
    if params.manifest.manifest_hash != mh:
        raise CeremonyError(
            f"this election is another referendum's: its manifest_hash is "
            f"{params.manifest.manifest_hash}, your ceremony's is {mh}"
        )
    if params.trustees != tuple(f.public for f in files) or params.public_key != share.K:
        raise CeremonyError(
            "this election's trustee commitments are not your ceremony's: its joint key is not "
            "the one the trustees made. Do not decrypt; tell the other trustees and the observers"
        )
    V_j = params.verification_key(me.index)  # noqa: N806
    if Point.base_mul(share.s_j) != V_j or share.V_j != V_j:
        raise CeremonyError(f"your key share does not match this election's V_{me.index}")
    return me, share


def decrypt(
    state_dir: Path, t: Tally, params: ElectionParameters, rng: RandomSource = os.urandom
) -> PartialDecryption:
    """This trustee's partial decryption of ``t`` (one ``w`` drawn per carried option),
    once :func:`check_election` accepts ``params``. The result is verified before it
    is returned."""
    me, share = _checked(state_dir, params)
    shape = [q.explicit_options for q in params.manifest.questions]
    if [len(row) for row in t.ciphertexts] != shape:
        raise DecryptionError(
            f"the tally has {[len(row) for row in t.ciphertexts]} ciphertexts per question; "
            f"this referendum's ballots carry {shape}"
        )
    pd = partial_decrypt(params, t, me.index, share.s_j, rng)
    verify_partial_decryption(params, t, pd)
    return pd


def status(state_dir: Path) -> TrusteeStatus:
    """What the state folder holds, without its secrets."""
    me = load_trustee(state_dir)
    dealt = load_dealt(state_dir, me)
    share = load_share(state_dir)
    return TrusteeStatus(
        me.index,
        me.manifest,
        fingerprint(dealt) if dealt is not None else None,
        share.V_j if share else None,
        share.K if share else None,
    )
