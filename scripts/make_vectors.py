#!/usr/bin/env python3
"""Write tests/vectors/protocol-v1.json: istifta protocol v1 test vectors.

Everything comes from fixed seeds through istifta.crypto.rng.SeededRandom, so
running this again reproduces the file byte for byte (tests/vectors checks
it). docs/vectors.md documents every field and the order of the draws, so
that another implementation can check itself against the file.

    .venv/bin/python scripts/make_vectors.py           # rewrite the file
    .venv/bin/python scripts/make_vectors.py --check   # exit 1 if it differs
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from istifta.crypto.credentials import credential_secret, normalise_code, public_credential
from istifta.crypto.group import G, Point, Scalar
from istifta.crypto.hashing import Hs, HsItem
from istifta.crypto.rng import SeededRandom
from istifta.protocol.ballot import build_ballot, verify_ballot
from istifta.protocol.electorate import Eligible, electorate_leaves
from istifta.protocol.tally import combine, partial_decrypt, tally
from istifta.testing import make_election, manifest_json, question_json

OUTPUT = Path(__file__).resolve().parent.parent / "tests" / "vectors" / "protocol-v1.json"

ELECTION_SEED = "istifta/1 vectors: ceremony and credentials"
REGIONS = ("Baghdad", "Basra", "Erbil")
SELECTIONS = [
    [[0], [2], [1, 3]],
    [[1], [0], []],
    [[0], [1], [0]],
    [[0], [2], [2, 3]],
    [[1], [1], [0, 1]],
]
REVOTE = (4, [[0], [0], [3]])  # voter 4 votes again; only this ballot counts
DECRYPTING_TRUSTEES = (1, 3)


def _typed(item: HsItem) -> dict[str, Any]:
    if isinstance(item, Point):
        return {"type": "point", "value": item.hex()}
    if isinstance(item, Scalar):
        return {"type": "scalar", "value": item.hex()}
    if isinstance(item, bytes):
        return {"type": "bytes", "value": item.hex()}
    if isinstance(item, str):
        return {"type": "string", "value": item}
    return {"type": "integer", "value": item}


def _hs_examples(eh: bytes, mh: bytes) -> list[dict[str, Any]]:
    p = [Point.base_mul(Scalar(k)) for k in range(1, 8)]
    cases: list[tuple[str, tuple[HsItem, ...]]] = [
        ("istifta/1/credential", (mh, "0123456789ABCDEFGHJKMNPQRS")),
        ("istifta/1/trustee-pok", (mh, 1, p[0], p[1])),
        ("istifta/1/range", (eh, p[0], 0, 0, p[1], p[2], p[3], p[4], p[5], p[6])),
        ("istifta/1/range", (eh, p[0], 2, 2**32 - 1, p[1], p[2], p[3], p[4], p[5], p[6])),
        ("istifta/1/ballot-sig", (eh, p[0], bytes(range(32)), p[1])),
        ("istifta/1/decrypt", (eh, 3, p[0], p[1], p[2], p[3])),
    ]
    return [
        {"tag": tag, "inputs": [_typed(i) for i in items], "output": Hs(tag, *items).hex()}
        for tag, items in cases
    ]


def build() -> dict[str, Any]:
    manifest = manifest_json(
        [
            question_json(["yes", "no"], text="Yes or no?"),
            question_json(["red", "green", "blue"], text="Exactly one of three?"),
            question_json(["w", "x", "y", "z"], low=0, high=2, text="Up to two of four?"),
        ],
        n=3,
        threshold=2,
        slug="vectors-v1",
    )
    election = make_election(SeededRandom(ELECTION_SEED), manifest, voters=5, regions=REGIONS)
    params = election.params
    m = params.manifest
    mh = bytes.fromhex(m.manifest_hash)

    credentials = []
    for code in election.codes[:3]:
        typed = "-".join(code[i : i + 5] for i in range(0, 26, 5)).lower()
        typed = typed.replace("1", "l").replace("0", "o")
        assert normalise_code(typed) == code
        x = credential_secret(mh, code)
        credentials.append({"code": code, "as_typed": typed, "x": x.hex(), "P": public_credential(x).hex()})

    trustees = []
    for secret in election.trustee_secrets:
        trustees.append(
            {
                "index": secret.index,
                "coefficients": [a.hex() for a in secret.coefficients],
                "shares_sent": {str(j): secret.share_for(j).hex() for j in range(1, m.n + 1)},
            }
        )

    leaves = electorate_leaves(
        Eligible(P, r) for P, r in zip(election.credentials, election.regions, strict=True)
    )

    ballots, cast = [], []
    plan = [*enumerate(SELECTIONS), REVOTE]
    for number, (voter, selections) in enumerate(plan):
        seed = f"istifta/1 vectors: ballot {number}"
        ballot = build_ballot(params, election.codes[voter], selections, SeededRandom(seed))
        verify_ballot(params, ballot, election.is_eligible)
        cast.append(ballot)
        ballots.append(
            {
                "seed": seed,
                "voter": voter,
                "code": election.codes[voter],
                "selections": selections,
                "ballot": ballot.to_json(),
                "tracker": ballot.tracker,
            }
        )

    t = tally(params, cast)
    partials = []
    for j in DECRYPTING_TRUSTEES:
        seed = f"istifta/1 vectors: decryption by trustee {j}"
        partials.append(partial_decrypt(params, t, j, election.shares[j], SeededRandom(seed)))
    counts = combine(params, t, partials)

    return {
        "protocol": "istifta/1",
        "generator": "scripts/make_vectors.py",
        "documentation": "docs/vectors.md",
        "generator_point": G.hex(),
        "hs": _hs_examples(params.election_hash_bytes, mh),
        "manifest": m.raw,
        "manifest_hash": m.manifest_hash,
        "credentials": credentials,
        "ceremony": {
            "seed": ELECTION_SEED,
            "trustees": trustees,
            "shares": {str(j): s.hex() for j, s in election.shares.items()},
            "verification_keys": {str(j): params.verification_key(j).hex() for j in range(1, m.n + 1)},
            "public_key": params.public_key.hex(),
        },
        "electorate": {
            "codes": list(election.codes),
            "leaves": [leaf.decode("utf-8") for leaf in leaves],
            "size": len(leaves),
            "root": params.electorate_root,
        },
        "parameters": params.to_json(),
        "election_hash": params.election_hash,
        "ballots": ballots,
        "tally": {
            **t.to_json(),
            "partial_decryptions": [pd.to_json() for pd in partials],
            "decryption_seeds": {
                str(j): f"istifta/1 vectors: decryption by trustee {j}" for j in DECRYPTING_TRUSTEES
            },
            "counts": counts,
        },
    }


def render() -> str:
    return json.dumps(build(), indent=1, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        if OUTPUT.read_text(encoding="utf-8") != text:
            print(f"{OUTPUT} differs from what the generator makes", file=sys.stderr)
            return 1
        print(f"{OUTPUT} is up to date")
        return 0
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
