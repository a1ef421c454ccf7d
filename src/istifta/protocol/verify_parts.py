"""The verifier's smaller checks (PROTOCOL.md §6, §8), each on values already read.

``protocol/verify.py`` runs them in order; they raise :class:`CheckFailed` (or an
:class:`~istifta.errors.IstiftaError` the caller places at an entry) and
fill the check's figures as they go.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from istifta.errors import CheckFailed, DecodeError, DecryptionError, IstiftaError
from istifta.protocol.codec import expect_int, expect_list
from istifta.protocol.electorate import electorate_root
from istifta.protocol.entries import load_json, parse_leaf, sniff_type
from istifta.protocol.parameters import ElectionParameters
from istifta.protocol.record import ENTRY_TYPES
from istifta.protocol.tally import (
    PartialDecryption,
    Tally,
    parse_partial_decryption,
    verify_partial_decryption,
)
from istifta.protocol.treehead import TreeHead

__all__ = [
    "check_electorate",
    "check_tree_head",
    "entry_kinds",
    "json_difference",
    "misplaced",
    "parse_partial",
    "result_trustees",
]

_SIGNATURE = re.compile(r"[0-9a-f]{128}")


def check_tree_head(head: Any, board_key: bytes, figures: dict[str, Any]) -> None:
    """The head's shape, then the board key's Ed25519 signature on
    ``jcs({"size", "root", "timestamp"})`` (PROTOCOL.md §6)."""
    parsed = TreeHead.parse(head)
    figures.update(entries=parsed.size, root=parsed.root.hex(), timestamp=parsed.timestamp)
    if len(board_key) != 32:
        raise CheckFailed(f"board_key: expected a 32-byte Ed25519 key, got {len(board_key)} bytes")
    if not parsed.verifies(board_key):
        raise CheckFailed("the tree head's signature does not verify with the board key")


def check_electorate(
    leaves: Sequence[bytes], params: ElectionParameters, figures: dict[str, Any]
) -> list[tuple[bytes, str | None]]:
    """Canonical leaves, sorted strictly by credential bytes (so no duplicates),
    as many as the parameters say, with their root; returns ``(P bytes, region)``."""
    voters: list[tuple[bytes, str | None]] = []
    previous = b""
    for i, line in enumerate(leaves):
        try:
            voter = parse_leaf(line)
        except IstiftaError as exc:
            raise CheckFailed(f"electorate.jsonl line {i + 1}: {exc}") from None
        key = voter.credential.to_bytes()
        if key <= previous:
            problem = "repeats line" if key == previous else "sorts before line"
            raise CheckFailed(f"electorate.jsonl line {i + 1}: its credential {problem} {i}")
        previous = key
        voters.append((key, voter.region))
    regions = {region for _, region in voters if region is not None}
    figures.update(electorate=len(voters), regions=len(regions))
    if len(voters) != params.electorate_size:
        raise CheckFailed(
            f"the electorate has {len(voters)} voters; the parameters say {params.electorate_size}"
        )
    root = electorate_root(leaves)
    if root != params.electorate_root:
        raise CheckFailed(
            f"the electorate's Merkle root is {root}; the parameters say {params.electorate_root}"
        )
    return voters


def entry_kinds(board: Sequence[bytes], kinds: list[str], first: dict[str, int]) -> Iterator[str]:
    """Each entry's ``type``, appended to ``kinds`` (``first`` keeps where each
    type first appears) and yielded, as long as the board follows its grammar."""
    for i, line in enumerate(board):
        kind = _kind(i, line)
        if kind not in ENTRY_TYPES:
            raise CheckFailed(f"entry {i}: unknown entry type {kind[:40]!r}", i)
        problem = misplaced(kind, i, first)
        if problem:
            raise CheckFailed(f"entry {i} ({kind}): {problem}", i)
        kinds.append(kind)
        first.setdefault(kind, i)
        yield kind


def _kind(index: int, line: bytes) -> str:
    kind = sniff_type(line)
    if kind is not None:
        return kind
    try:
        obj = load_json(line)
    except DecodeError:
        raise CheckFailed(f"entry {index}: not JSON", index) from None
    if not isinstance(obj, dict) or not isinstance(obj.get("type"), str):
        raise CheckFailed(f"entry {index}: not a JSON object with a type", index)
    return str(obj["type"])


def misplaced(kind: str, index: int, first: Mapping[str, int]) -> str | None:
    """Why an entry of ``kind`` cannot come at ``index``, given the first index
    of each type so far; ``None`` when it can. The board's grammar is
    ``election ballot* close tally partial_decryption* result``."""
    if index == 0:
        return None if kind == "election" else "the board must start with the election entry"
    if "result" in first:
        return f"an entry after the result (entry {first['result']})"
    if kind in ("election", "close", "tally") and kind in first:
        return f"a second {kind} entry (the first is entry {first[kind]})"
    if kind == "ballot" and "close" in first:
        return f"a ballot after the close (entry {first['close']})"
    if kind == "tally" and "close" not in first:
        return "the tally before the close"
    if kind in ("partial_decryption", "result") and "tally" not in first:
        return f"a {kind.replace('_', ' ')} before the tally"
    return None


def parse_partial(
    entry: dict[str, Any], params: ElectionParameters, t: Tally, seen: Mapping[int, int]
) -> PartialDecryption:
    """A ``partial_decryption`` entry from a trustee that exists and has not
    published before, whose every proof holds against ``V_j``."""
    pd = parse_partial_decryption(entry, t)
    n = params.manifest.n
    if not 1 <= pd.trustee <= n:
        raise DecryptionError(f"there is no trustee {pd.trustee}: trustees are 1 to {n}")
    if pd.trustee in seen:
        raise DecryptionError(
            f"trustee {pd.trustee} already published its partial decryption (entry {seen[pd.trustee]})"
        )
    verify_partial_decryption(params, t, pd)
    return pd


def result_trustees(raw: Any, partials: Mapping[int, PartialDecryption], threshold: int) -> list[int]:
    """The result's ``trustees``: increasing, each with a valid partial
    decryption on the board, at least ``threshold`` of them."""
    if len(partials) < threshold:
        raise DecryptionError(
            f"the result comes after {len(partials)} partial decryption(s); "
            f"at least {threshold} trustees must decrypt"
        )
    items = expect_list(raw, "result.trustees")
    trustees = [expect_int(j, f"result.trustees[{k}]", 1, 2**32) for k, j in enumerate(items)]
    if trustees != sorted(set(trustees)):
        raise DecodeError("result.trustees: expected trustee numbers in increasing order, once each")
    missing = [j for j in trustees if j not in partials]
    if missing:
        raise DecryptionError(f"trustee {missing[0]} has no partial decryption on the board")
    if len(trustees) < threshold:
        raise DecryptionError(f"the result names {len(trustees)} trustee(s); at least {threshold} are needed")
    return trustees


def json_difference(published: Any, expected: Any, path: str) -> str | None:
    """The first place where the published JSON differs from the recomputed
    one, as a sentence; ``None`` when they are the same (``true`` is not ``1``)."""
    if isinstance(expected, dict):
        if not isinstance(published, dict):
            return f"{path} should be an object"
        for key in sorted(expected.keys() | published.keys()):
            if key not in published:
                return f"{path}.{key} is missing (recomputed: {json.dumps(expected[key])})"
            if key not in expected:
                return f"{path}.{key} should not be there"
            found = json_difference(published[key], expected[key], f"{path}.{key}")
            if found:
                return found
        return None
    if isinstance(expected, list):
        if not isinstance(published, list) or len(published) != len(expected):
            return f"{path} should be a list of {len(expected)}"
        for k, (p, e) in enumerate(zip(published, expected, strict=True)):
            found = json_difference(p, e, f"{path}[{k}]")
            if found:
                return found
        return None
    if type(published) is not type(expected) or published != expected:
        shown = json.dumps(published, ensure_ascii=False)[:40]
        return f"{path} is {shown}; recomputed from the board: {json.dumps(expected)}"
    return None
