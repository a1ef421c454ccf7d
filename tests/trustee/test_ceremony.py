"""The trustees' ceremony as a library: each trustee in its own state folder, the
organiser relaying files (PROTOCOL.md §3), and a trustee's partial decryption (§7)."""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from nacl.exceptions import CryptoError
from nacl.public import PublicKey, SealedBox

from istifta.crypto.credentials import credential_secret, new_code, public_credential
from istifta.crypto.group import Point, Scalar
from istifta.crypto.rng import SeededRandom
from istifta.crypto.threshold import lagrange
from istifta.errors import CeremonyError, DecryptionError, ManifestError
from istifta.protocol.ballot import build_ballot
from istifta.protocol.electorate import Eligible, electorate_leaves, electorate_root
from istifta.protocol.manifest import Manifest, parse_manifest
from istifta.protocol.parameters import ElectionParameters, freeze_parameters
from istifta.protocol.tally import combine, tally, verify_partial_decryption
from istifta.testing import make_election, manifest_json
from istifta.trustee import ceremony
from istifta.trustee.files import SEALED_SIZE
from istifta.trustee.state import load_trustee


@dataclass
class Ceremony:
    manifest: Manifest
    root: Path

    def state(self, i: int) -> Path:
        return self.root / f"trustee-{i}-state"

    @property
    def publics(self) -> Path:
        return self.root / "publics"

    def outbox(self, i: int) -> Path:
        return self.root / f"shares-from-{i}"

    def inbox(self, j: int) -> Path:
        return self.root / f"shares-for-{j}"

    @property
    def indices(self) -> range:
        return range(1, self.manifest.n + 1)


def _manifest(n: int = 3, threshold: int = 2, slug: str = "test-referendum") -> Manifest:
    return parse_manifest(manifest_json(n=n, threshold=threshold, slug=slug))


def _init_and_deal(tmp_path: Path, n: int = 3, threshold: int = 2) -> Ceremony:
    c = Ceremony(_manifest(n, threshold), tmp_path)
    c.publics.mkdir(parents=True)
    for i in c.indices:
        ceremony.init(c.state(i), c.manifest, i, c.publics)
    for i in c.indices:
        ceremony.deal(c.state(i), [c.publics], c.outbox(i))
    # The organiser relays: each share file goes to its addressee's inbox.
    for j in c.indices:
        c.inbox(j).mkdir()
        for i in c.indices:
            if i != j:
                name = f"share-{i}-to-{j}.json"
                (c.inbox(j) / name).write_bytes((c.outbox(i) / name).read_bytes())
    return c


def _run(tmp_path: Path, n: int = 3, threshold: int = 2) -> Ceremony:
    c = _init_and_deal(tmp_path, n, threshold)
    for j in c.indices:
        ceremony.receive(c.state(j), None, [c.inbox(j)])
    return c


def _freeze(c: Ceremony, voters: int = 1, root: str = "00" * 32) -> ElectionParameters:
    return freeze_parameters(c.manifest, ceremony.load_publics([c.publics], c.manifest), voters, root)


def _s_j(c: Ceremony, j: int) -> Scalar:
    """Read a trustee's secret share from its state (only a test does this)."""
    raw = json.loads((c.state(j) / "share.json").read_text())
    return Scalar.from_hex(raw["s_j"])


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _edit(path: Path, **changes: Any) -> None:
    raw = json.loads(path.read_text())
    raw.update(changes)
    path.write_text(json.dumps(raw))


# --- a whole ceremony ----------------------------------------------------------------------


@pytest.mark.parametrize(("n", "threshold"), [(3, 3), (3, 2), (1, 1), (4, 2)])
def test_every_trustee_holds_the_key_share_the_parameters_publish(
    tmp_path: Path, n: int, threshold: int
) -> None:
    c = _run(tmp_path, n, threshold)
    params = _freeze(c)
    for j in c.indices:
        st = ceremony.status(c.state(j))
        assert st.received
        assert Point.base_mul(_s_j(c, j)) == st.verification_key == params.verification_key(j)
        assert st.public_key == params.public_key
    # Any t of the shares interpolate the joint secret: Σ λ_j·s_j·G = K.
    chosen = list(c.indices)[-threshold:]
    secret = Scalar(sum((lagrange(chosen, j) * _s_j(c, j)).value for j in chosen))
    assert Point.base_mul(secret) == params.public_key


def test_every_trustee_prints_the_same_fingerprint(tmp_path: Path) -> None:
    c = _run(tmp_path)
    prints = {ceremony.status(c.state(j)).fingerprint for j in c.indices}
    assert len(prints) == 1 and None not in prints


def test_the_state_folder_is_private_and_the_public_files_are_outside_it(tmp_path: Path) -> None:
    c = _run(tmp_path)
    for j in c.indices:
        assert stat.S_IMODE(os.stat(c.state(j)).st_mode) == 0o700
        files = sorted(p.name for p in c.state(j).iterdir())
        assert files == ["publics.json", "share.json", "trustee.json"]
        for p in c.state(j).iterdir():
            assert stat.S_IMODE(os.stat(p).st_mode) == 0o600
    assert sorted(p.name for p in c.publics.iterdir()) == [f"trustee-{i}.json" for i in c.indices]
    assert sorted(p.name for p in c.outbox(1).iterdir()) == ["share-1-to-2.json", "share-1-to-3.json"]


def test_the_public_file_has_exactly_the_documented_fields(tmp_path: Path) -> None:
    c = _init_and_deal(tmp_path)
    public = json.loads((c.publics / "trustee-2.json").read_text())
    assert sorted(public) == [
        "commitments", "index", "manifest_hash", "pok", "transport_key", "version",
    ]  # fmt: skip
    assert public["index"] == 2 and public["manifest_hash"] == c.manifest.manifest_hash
    assert len(public["commitments"]) == c.manifest.threshold
    share = json.loads((c.outbox(2) / "share-2-to-3.json").read_text())
    assert sorted(share) == ["from", "manifest_hash", "sealed", "to", "version"]
    assert (share["from"], share["to"]) == (2, 3)
    assert len(bytes.fromhex(share["sealed"])) == SEALED_SIZE


def test_a_share_is_sealed_to_its_addressee_only(tmp_path: Path) -> None:
    c = _init_and_deal(tmp_path)
    sealed = bytes.fromhex(json.loads((c.outbox(1) / "share-1-to-2.json").read_text())["sealed"])
    opened = SealedBox(load_trustee(c.state(2)).transport).decrypt(sealed)
    assert len(opened) == 32
    with pytest.raises(CryptoError):
        SealedBox(load_trustee(c.state(3)).transport).decrypt(sealed)


# --- init ----------------------------------------------------------------------------------


@pytest.mark.parametrize("index", [0, 4, -1])
def test_init_refuses_an_index_outside_1_to_n(tmp_path: Path, index: int) -> None:
    with pytest.raises(CeremonyError, match="trustees 1 to 3"):
        ceremony.init(tmp_path / "state", _manifest(), index, tmp_path)
    assert not (tmp_path / "state").exists()


def test_init_never_overwrites_a_ceremony(tmp_path: Path) -> None:
    state = tmp_path / "state"
    ceremony.init(state, _manifest(), 1, tmp_path)
    before = _snapshot(state)
    for index in (1, 2):
        with pytest.raises(CeremonyError, match="not empty"):
            ceremony.init(state, _manifest(), index, tmp_path / "elsewhere.json")
    assert _snapshot(state) == before
    assert not (tmp_path / "elsewhere.json").exists()


def test_init_takes_an_empty_folder_and_makes_it_private(tmp_path: Path) -> None:
    state = tmp_path / "stick"
    state.mkdir(mode=0o755)
    ceremony.init(state, _manifest(), 1, tmp_path)
    assert stat.S_IMODE(os.stat(state).st_mode) == 0o700


def test_init_refuses_a_malformed_manifest(tmp_path: Path) -> None:
    raw = manifest_json()
    raw["trustees"] = {"n": 3, "threshold": 4}
    with pytest.raises(ManifestError, match="trustees.threshold"):
        ceremony.init(tmp_path / "state", raw, 1, tmp_path)
    assert not (tmp_path / "state").exists()


def test_init_refuses_to_write_the_public_file_into_the_state_folder(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with pytest.raises(CeremonyError, match="inside the state folder"):
        ceremony.init(state, _manifest(), 1, state / "trustee-1.json")
    with pytest.raises(CeremonyError, match="no such folder"):
        ceremony.init(state, _manifest(), 1, tmp_path / "missing" / "trustee-1.json")
    assert not state.exists()


# --- deal ----------------------------------------------------------------------------------


def _initialised(tmp_path: Path, n: int = 3, threshold: int = 2) -> Ceremony:
    c = Ceremony(_manifest(n, threshold), tmp_path)
    c.publics.mkdir()
    for i in c.indices:
        ceremony.init(c.state(i), c.manifest, i, c.publics)
    return c


def _refused_deal(c: Ceremony, match: str, publics: list[Path] | None = None) -> None:
    before = _snapshot(c.state(1))
    with pytest.raises(CeremonyError, match=match):
        ceremony.deal(c.state(1), publics or [c.publics], c.outbox(1))
    assert _snapshot(c.state(1)) == before
    assert not c.outbox(1).exists()


def test_deal_refuses_a_public_file_from_another_referendum(tmp_path: Path) -> None:
    c = _initialised(tmp_path)
    other = _manifest(slug="another-referendum")
    ceremony.init(tmp_path / "other", other, 3, tmp_path / "other-3.json")
    (c.publics / "trustee-3.json").unlink()
    _refused_deal(c, "other-3.json is from another referendum", [c.publics, tmp_path / "other-3.json"])


def test_deal_needs_every_trustee_once(tmp_path: Path) -> None:
    c = _initialised(tmp_path)
    files = [c.publics / "trustee-1.json", c.publics / "trustee-2.json"]
    _refused_deal(c, "no public file for trustee 3", files)
    copy = tmp_path / "copy-of-2.json"
    copy.write_bytes(files[1].read_bytes())
    _refused_deal(c, "both trustee 2's public file", [c.publics, copy])
    _refused_deal(c, "no such file", [*files, tmp_path / "trustee-3.json"])


def test_deal_refuses_a_proof_of_knowledge_that_fails(tmp_path: Path) -> None:
    c = _initialised(tmp_path)
    three = json.loads((c.publics / "trustee-3.json").read_text())
    _edit(c.publics / "trustee-3.json", pok={"c": three["pok"]["z"], "z": three["pok"]["c"]})
    _refused_deal(c, "trustee 3's proof of knowledge does not verify")


def test_deal_refuses_the_wrong_number_of_commitments(tmp_path: Path) -> None:
    c = _initialised(tmp_path)
    three = json.loads((c.publics / "trustee-3.json").read_text())
    _edit(c.publics / "trustee-3.json", commitments=three["commitments"][:1])
    _refused_deal(c, "1 commitments; the threshold 2 needs exactly 2")


def test_deal_refuses_when_its_own_public_file_was_changed_on_the_way(tmp_path: Path) -> None:
    """An organiser who swaps a trustee's transport key for its own could read the shares."""
    c = _initialised(tmp_path)
    _edit(c.publics / "trustee-1.json", transport_key=bytes(PublicKey(bytes(range(32)))).hex())
    _refused_deal(c, "trustee 1 \\(you\\) is not the one you made")


def test_deal_twice_to_the_same_files_is_fine_but_not_to_others(tmp_path: Path) -> None:
    c = _initialised(tmp_path)
    ceremony.deal(c.state(1), [c.publics], c.outbox(1))
    again = ceremony.deal(c.state(1), [c.publics], tmp_path / "again")
    assert [p.name for p in again.files] == ["share-1-to-2.json", "share-1-to-3.json"]
    ceremony.init(tmp_path / "new-3", c.manifest, 3, tmp_path / "new-3.json")
    (c.publics / "trustee-3.json").unlink()
    with pytest.raises(CeremonyError, match="already dealt your shares to other public files"):
        ceremony.deal(c.state(1), [c.publics, tmp_path / "new-3.json"], tmp_path / "third")


# --- receive -------------------------------------------------------------------------------


def _refused_receive(c: Ceremony, j: int, match: str, shares: list[Path] | None = None) -> None:
    before = _snapshot(c.state(j))
    with pytest.raises(CeremonyError, match=match):
        ceremony.receive(c.state(j), None, shares or [c.inbox(j)])
    assert _snapshot(c.state(j)) == before
    assert not (c.state(j) / "share.json").exists()


def test_a_share_changed_on_the_way_is_refused_naming_its_sender(tmp_path: Path) -> None:
    c = _init_and_deal(tmp_path)
    path = c.inbox(2) / "share-3-to-2.json"
    sealed = bytearray.fromhex(json.loads(path.read_text())["sealed"])
    sealed[40] ^= 1
    _edit(path, sealed=sealed.hex())
    _refused_receive(c, 2, "the share from trustee 3 .* does not open with your key")


def test_a_share_off_the_senders_polynomial_is_refused_naming_its_sender(tmp_path: Path) -> None:
    """A dishonest sender seals a value that does not match its commitments."""
    c = _init_and_deal(tmp_path)
    two = json.loads((c.publics / "trustee-2.json").read_text())
    wrong = SealedBox(PublicKey(bytes.fromhex(two["transport_key"]))).encrypt(Scalar(7).to_bytes())
    _edit(c.inbox(2) / "share-1-to-2.json", sealed=bytes(wrong).hex())
    _refused_receive(c, 2, "share from trustee 1 to trustee 2 does not match trustee 1's")


def test_a_share_for_another_trustee_is_refused(tmp_path: Path) -> None:
    c = _init_and_deal(tmp_path)
    wrong = c.outbox(1) / "share-1-to-3.json"
    _refused_receive(c, 2, "addressed to trustee 3, not to you \\(trustee 2\\)", [wrong])
    renamed = c.inbox(2) / "share-1-to-2.json"
    renamed.write_bytes(wrong.read_bytes())
    _refused_receive(c, 2, "addressed to trustee 3")


def test_a_share_from_another_referendum_is_refused(tmp_path: Path) -> None:
    c = _init_and_deal(tmp_path)
    other = _manifest(slug="another-referendum").manifest_hash
    _edit(c.inbox(2) / "share-1-to-2.json", manifest_hash=other)
    _refused_receive(c, 2, "from another referendum")


def test_receive_needs_one_share_from_every_other_trustee(tmp_path: Path) -> None:
    c = _init_and_deal(tmp_path)
    one = c.inbox(2) / "share-1-to-2.json"
    _refused_receive(c, 2, "no share from trustee 3", [one])
    _refused_receive(c, 2, "both from trustee 1", [c.inbox(2), c.outbox(1) / "share-1-to-2.json"])
    _refused_receive(c, 2, "no share from trustee 1, 3", [c.publics])


def test_receive_comes_after_deal_and_only_once(tmp_path: Path) -> None:
    c = _initialised(tmp_path)
    with pytest.raises(CeremonyError, match="deal your own shares first"):
        ceremony.receive(c.state(1), None, [c.publics])
    done = _run(tmp_path / "done")
    before = _snapshot(done.state(1))
    with pytest.raises(CeremonyError, match="already holds your key share"):
        ceremony.receive(done.state(1), None, [done.inbox(1)])
    assert _snapshot(done.state(1)) == before


def test_receive_checks_the_public_files_are_those_dealt_to(tmp_path: Path) -> None:
    c = _init_and_deal(tmp_path)
    ceremony.init(tmp_path / "new-3", c.manifest, 3, tmp_path / "new-3.json")
    others = [c.publics / "trustee-1.json", c.publics / "trustee-2.json", tmp_path / "new-3.json"]
    before = _snapshot(c.state(1))
    with pytest.raises(CeremonyError, match="not the ones you dealt your shares to"):
        ceremony.receive(c.state(1), others, [c.inbox(1)])
    assert _snapshot(c.state(1)) == before
    ceremony.receive(c.state(1), [c.publics], [c.inbox(1)])


def test_a_missing_or_damaged_state_is_reported(tmp_path: Path) -> None:
    with pytest.raises(CeremonyError, match="holds no trustee state"):
        ceremony.status(tmp_path / "nothing")
    c = _run(tmp_path)
    share = c.state(1) / "share.json"
    _edit(share, verification_key=json.loads((c.state(2) / "share.json").read_text())["verification_key"])
    with pytest.raises(CeremonyError, match="share.json is damaged"):
        ceremony.status(c.state(1))


# --- the organiser's load_publics ----------------------------------------------------------


def test_load_publics_gives_the_trustees_in_order(tmp_path: Path) -> None:
    c = _initialised(tmp_path)
    files = [c.publics / f"trustee-{i}.json" for i in (3, 1, 2)]
    publics = ceremony.load_publics(files, c.manifest)
    assert [p.index for p in publics] == [1, 2, 3]
    with pytest.raises(CeremonyError, match="from another referendum"):
        ceremony.load_publics(files, _manifest(slug="another-referendum"))


# --- decryption ----------------------------------------------------------------------------


def _election(c: Ceremony, votes: list[int]) -> tuple[ElectionParameters, Any]:
    """Parameters from the ceremony, one ballot per vote (0 = yes, 1 = no), their tally."""
    rng = SeededRandom("ceremony election")
    mh = bytes.fromhex(c.manifest.manifest_hash)
    codes = [new_code(rng) for _ in votes]
    leaves = electorate_leaves(
        Eligible(public_credential(credential_secret(mh, code)), None) for code in codes
    )
    params = _freeze(c, len(leaves), electorate_root(leaves))
    ballots = [build_ballot(params, code, [[v]], rng) for code, v in zip(codes, votes, strict=True)]
    return params, tally(params, ballots)


def test_two_of_three_trustees_decrypt_the_tally(tmp_path: Path) -> None:
    c = _run(tmp_path)
    params, t = _election(c, [0, 1, 0, 0, 1])
    partials = []
    for j in (1, 3):
        pd = ceremony.decrypt(c.state(j), t, params)
        verify_partial_decryption(params, t, pd)
        assert pd.trustee == j and pd.to_json()["type"] == "partial_decryption"
        partials.append(pd)
    assert combine(params, t, partials) == [[3, 2]]


def test_decrypt_refuses_another_referendums_election(tmp_path: Path) -> None:
    c = _run(tmp_path)
    _, t = _election(c, [0])
    other = make_election(SeededRandom("other"), manifest_json(slug="another-referendum"))
    with pytest.raises(CeremonyError, match="another referendum's"):
        ceremony.decrypt(c.state(1), t, other.params)
    same_manifest = make_election(SeededRandom("same manifest, other keys"), manifest_json())
    with pytest.raises(CeremonyError, match="commitments are not your ceremony's"):
        ceremony.decrypt(c.state(1), t, same_manifest.params)


def test_check_election_accepts_the_ceremonys_parameters_only(tmp_path: Path) -> None:
    c = _run(tmp_path)
    params, _ = _election(c, [0])
    st = ceremony.check_election(c.state(2), params)
    assert st.verification_key == params.verification_key(2)
    assert st.public_key == params.public_key
    swapped = freeze_parameters(
        c.manifest,
        [params.trustees[0], params.trustees[2], params.trustees[1]],  # sorted back by index
        params.electorate_size,
        params.electorate_root,
    )
    assert swapped.election_hash == params.election_hash
    other = make_election(SeededRandom("organiser's own keys"), manifest_json()).params
    with pytest.raises(CeremonyError, match="joint key is not the one the trustees made"):
        ceremony.check_election(c.state(2), other)


def test_decrypt_refuses_a_state_whose_key_share_is_not_v_j(tmp_path: Path) -> None:
    c = _run(tmp_path)
    params, t = _election(c, [0])
    share = c.state(1) / "share.json"
    raw = json.loads(share.read_text())
    raw["s_j"], raw["verification_key"] = Scalar(5).hex(), Point.base_mul(Scalar(5)).hex()
    share.unlink()
    share.write_text(json.dumps(raw))
    with pytest.raises(CeremonyError, match="does not match this election's V_1"):
        ceremony.decrypt(c.state(1), t, params)


def test_decrypt_refuses_a_tally_of_the_wrong_shape(tmp_path: Path) -> None:
    c = _run(tmp_path)
    params, t = _election(c, [0])
    wrong = type(t)((t.ciphertexts[0] * 2,), t.counted)
    with pytest.raises(DecryptionError, match="ciphertexts per question"):
        ceremony.decrypt(c.state(1), wrong, params)


def test_decrypt_before_the_ceremony_ends_is_refused(tmp_path: Path) -> None:
    c = _init_and_deal(tmp_path)
    params, t = _election(c, [0])
    with pytest.raises(CeremonyError, match="finish the ceremony first"):
        ceremony.decrypt(c.state(1), t, params)


# --- secrets -------------------------------------------------------------------------------


def secrets_of(state: Path) -> list[str]:
    """Every secret a state folder holds, as hex: coefficients, transport key, s_j."""
    trustee = json.loads((state / "trustee.json").read_text())
    found = [*trustee["coefficients"], trustee["transport_secret_key"]]
    if (state / "share.json").exists():
        found.append(json.loads((state / "share.json").read_text())["s_j"])
    return found


def test_no_secret_in_a_repr_or_an_error(tmp_path: Path) -> None:
    c = _init_and_deal(tmp_path)
    _edit(c.inbox(2) / "share-1-to-2.json", sealed="00" * SEALED_SIZE)
    messages = []
    for call in (
        lambda: ceremony.receive(c.state(2), None, [c.inbox(2)]),
        lambda: ceremony.init(c.state(1), c.manifest, 1, tmp_path),
        lambda: ceremony.deal(c.state(2), [c.publics / "trustee-1.json"], tmp_path / "x"),
    ):
        with pytest.raises(CeremonyError) as caught:
            call()
        messages.append(str(caught.value))
    ceremony.receive(c.state(3), None, [c.inbox(3)])
    shown = [
        *messages,
        repr(load_trustee(c.state(3))),
        repr(ceremony.status(c.state(3))),
        repr(ceremony.deal(c.state(3), [c.publics], tmp_path / "y")),
    ]
    for i in c.indices:
        for secret in secrets_of(c.state(i)):
            assert not any(secret in text for text in shown)
