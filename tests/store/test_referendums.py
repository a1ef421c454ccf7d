"""A whole referendum on each store, the same steps as the organiser's guide:
create, trustees, electorate, open, ballots (with revotes), close, tally, two
of three trustees decrypt, publish, export; the record verifies."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from nacl.public import PrivateKey

from istifta.crypto.group import Scalar
from istifta.crypto.rng import SeededRandom
from istifta.crypto.threshold import TrusteeSecret, combine_shares, generate_trustee
from istifta.errors import CeremonyError, DecodeError, InvalidBallot, UnknownElection, WrongState
from istifta.protocol.ballot import build_ballot
from istifta.protocol.electorate import Eligible
from istifta.protocol.tally import partial_decrypt
from istifta.record.io import read_record, write_record
from istifta.store.referendums import Referendums
from istifta.testing import SteppingClock, manifest_json
from istifta.trustee.files import TrusteeFile


@pytest.fixture
def referendums(tmp_path: Path, store_url: str | None) -> Iterator[Referendums]:
    r = Referendums.open(tmp_path / "data", store_url, clock=SteppingClock())
    yield r
    r.close_store()


def _ceremony(r: Referendums, slug: str, rng: SeededRandom) -> dict[int, Scalar]:
    m = r.manifest(slug)
    mh = bytes.fromhex(m.manifest_hash)
    generated = [generate_trustee(i, m.threshold, mh, rng) for i in range(1, m.n + 1)]
    for _, public in generated:
        r.add_trustee(slug, TrusteeFile(m.manifest_hash, public, PrivateKey.generate().public_key).to_json())
    secrets: list[TrusteeSecret] = [s for s, _ in generated]
    return {j: combine_shares(s.share_for(j) for s in secrets) for j in range(1, m.n + 1)}


def test_a_whole_referendum_verifies(referendums: Referendums, tmp_path: Path) -> None:
    r = referendums
    rng = SeededRandom("whole referendum")
    slug = r.create(manifest_json()).slug
    shares = _ceremony(r, slug, rng)
    voters = r.generate_electorate(slug, 8, ("Baghdad", "Basra"), rng)
    params = r.open_election(slug)
    assert r.state(slug) == "open"

    choices = [0, 1, 0, 0, 1, 0]  # voters 0-5; voter 7 votes later; voter 6 abstains
    receipts = [
        r.cast(slug, build_ballot(params, voters[i][0], [[c]], rng).to_json()) for i, c in enumerate(choices)
    ]

    def fresh(i: int) -> dict[str, Any]:
        return build_ballot(params, voters[i][0], [[1]], rng).to_json()

    revote = fresh(0)  # voter 0 changes their mind
    first = r.cast(slug, revote)
    again = r.cast(slug, revote)  # the phone sent it twice
    assert again.index == first.index and again.tracker == first.tracker
    assert [x.index for x in receipts] == list(range(1, 7))

    ballot_7 = fresh(7)  # sent among three copies of the revote, all at once
    at_once = [r.submit_ballot(slug, b) for b in [revote, revote, ballot_7, revote]]
    assert [f.result().index for f in at_once] == [first.index, first.index, 8, first.index]

    r.close(slug)
    with pytest.raises(WrongState, match="closed"):
        r.cast(slug, build_ballot(params, voters[6][0], [[0]], rng).to_json())
    assert r.cast(slug, ballot_7).index == 8  # a late copy of a ballot cast in time gets its receipt
    t = r.tally(slug)
    assert t.counted == 7
    for j in (1, 3):  # trustee 2 is absent
        r.add_partial_decryption(slug, partial_decrypt(params, t, j, shares[j], rng).to_json())
    result = r.publish_result(slug)
    assert result["counts"] == [[3, 4]]  # yes: voters 2, 3, 5; no: 0 (revoted), 1, 4, 7
    assert result["trustees"] == [1, 3]
    assert result["turnout"] == {
        "eligible": 8,
        "voted": 7,
        "by_region": {"Baghdad": {"eligible": 4, "voted": 3}, "Basra": {"eligible": 4, "voted": 4}},
    }

    from istifta.protocol.verify import verify_record

    for target in (tmp_path / "record", tmp_path / "record.zip"):
        write_record(target, r.record(slug))
        report = verify_record(read_record(target))
        assert report.ok, report


def test_steps_out_of_order_are_refused_and_change_nothing(referendums: Referendums) -> None:
    r = referendums
    rng = SeededRandom("out of order")
    with pytest.raises(UnknownElection):
        r.open_election("no-such-referendum")
    slug = r.create(manifest_json()).slug
    with pytest.raises(WrongState, match="already exists"):
        r.create(manifest_json())
    with pytest.raises(WrongState, match="trustees \\[1, 2, 3\\]"):
        r.open_election(slug)
    shares = _ceremony(r, slug, rng)
    with pytest.raises(WrongState, match="electorate is empty"):
        r.open_election(slug)
    voters = r.generate_electorate(slug, 3, (), rng)
    with pytest.raises(WrongState, match="not open yet"):
        r.close(slug)
    params = r.open_election(slug)
    with pytest.raises(WrongState, match="is open"):
        r.open_election(slug)
    with pytest.raises(WrongState, match="after close"):
        r.tally(slug)
    with pytest.raises(WrongState, match="before it opens"):
        r.import_electorate(slug, [])
    ballot = build_ballot(params, voters[0][0], [[0]], rng).to_json()
    ballot["signature"]["z"] = ballot["signature"]["c"]
    with pytest.raises(InvalidBallot, match="signature"):
        r.cast(slug, ballot)
    assert r.tree_head(slug).size == 1  # only the election entry
    r.close(slug)
    t = r.tally(slug)
    pd = partial_decrypt(params, t, 1, shares[2], rng).to_json()  # trustee 1 with the wrong share
    with pytest.raises(Exception, match="does not verify"):
        r.add_partial_decryption(slug, pd)
    with pytest.raises(Exception, match="at least 2"):
        r.publish_result(slug)
    assert r.tree_head(slug).size == 3


def test_a_bad_trustee_file_or_electorate_changes_nothing(referendums: Referendums) -> None:
    r = referendums
    rng = SeededRandom("bad files")
    slug = r.create(manifest_json()).slug
    other = r.create(manifest_json(slug="other")).manifest_hash
    _, public = generate_trustee(1, 2, bytes.fromhex(other), rng)
    with pytest.raises(CeremonyError, match="another manifest"):
        r.add_trustee(slug, TrusteeFile(other, public, PrivateKey.generate().public_key).to_json())
    made = r.generate_electorate(slug, 2, (), rng)
    m = r.manifest(slug)
    from istifta.crypto.credentials import credential_secret, public_credential

    P = public_credential(credential_secret(bytes.fromhex(m.manifest_hash), made[0][0]))  # noqa: N806
    fresh = public_credential(credential_secret(bytes.fromhex(m.manifest_hash), "0" * 26))
    with pytest.raises(DecodeError, match="already in the electorate"):
        r.import_electorate(slug, [Eligible(fresh), Eligible(P)])
    with pytest.raises(DecodeError, match="twice"):
        r.import_electorate(slug, [Eligible(fresh), Eligible(fresh)])
    r.import_electorate(slug, [Eligible(fresh, "Erbil")])  # the refused imports left nothing behind
    assert json.loads(json.dumps(r.state(slug))) == "draft"


def test_several_files_are_taken_all_or_none(referendums: Referendums) -> None:
    r = referendums
    rng = SeededRandom("all or none")
    slug = r.create(manifest_json()).slug
    m = r.manifest(slug)
    mh = bytes.fromhex(m.manifest_hash)
    generated = [generate_trustee(i, 2, mh, rng) for i in (1, 2, 3)]
    files = [
        (TrusteeFile(m.manifest_hash, p, PrivateKey.generate().public_key).to_json(), f"t{p.index}")
        for _, p in generated
    ]
    broken = json.loads(json.dumps(files[2][0]))
    broken["pok"]["z"] = broken["pok"]["c"]
    with pytest.raises(CeremonyError, match="trustee 3"):
        r.add_trustees(slug, [files[0], files[1], (broken, "t3")])
    with pytest.raises(WrongState, match="trustees \\[1, 2, 3\\]"):  # trustees 1 and 2 were not kept
        r.open_election(slug)
    assert r.add_trustees(slug, files) == [1, 2, 3]
    shares = {j: combine_shares(s.share_for(j) for s, _ in generated) for j in (1, 2, 3)}
    voters = r.generate_electorate(slug, 2, (), rng)
    params = r.open_election(slug)
    r.cast(slug, build_ballot(params, voters[0][0], [[0]], rng).to_json())
    r.close(slug)
    t = r.tally(slug)
    good = partial_decrypt(params, t, 1, shares[1], rng).to_json()
    bad = partial_decrypt(params, t, 2, shares[3], rng).to_json()
    size = r.tree_head(slug).size
    with pytest.raises(Exception, match="trustee 2"):
        r.add_partial_decryptions(slug, [good, bad])
    assert r.tree_head(slug).size == size  # the good one was not published either
    r.add_partial_decryptions(slug, [good, partial_decrypt(params, t, 2, shares[2], rng).to_json()])
    assert r.publish_result(slug)["counts"] == [[1, 0]]


def test_an_electorate_that_changes_while_opening_is_not_frozen(referendums: Referendums) -> None:
    r = referendums
    rng = SeededRandom("race")
    slug = r.create(manifest_json()).slug
    _ceremony(r, slug, rng)
    r.generate_electorate(slug, 3, (), rng)
    computed = r._electorate_root

    def root_then_an_import(session: Any, election_id: int) -> tuple[int, str]:
        found = computed(session, election_id)
        r.generate_electorate(slug, 1, (), rng)  # a registrar's import lands in between
        return found

    r._electorate_root = root_then_an_import  # type: ignore[method-assign]
    with pytest.raises(WrongState, match="electorate changed while opening"):
        r.open_election(slug)
    r._electorate_root = computed  # type: ignore[method-assign]
    assert r.state(slug) == "draft" and r.open_election(slug).electorate_size == 4
