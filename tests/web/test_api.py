"""The JSON API as a third-party client sees it: casting, receipts, the board,
proofs, the electorate and the result; every refusal a 4xx with a code and
the board unchanged."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from istifta.board.merkle import leaf_hash, verify_consistency, verify_inclusion
from istifta.protocol.ballot import build_ballot
from istifta.protocol.tally import partial_decrypt
from istifta.protocol.treehead import verify_tree_head
from istifta.protocol.verify import verify_record
from istifta.record.io import read_record
from istifta.testing import make_election

from .conftest import Live, serve


def ballot(live: Live, voter: int, choice: int) -> dict[str, Any]:
    return build_ballot(live.opened.params, live.opened.codes[voter], [[choice]], live.rng).to_json()


def cast(live: Live, body: Any) -> Any:
    return live.client.post(f"{live.api}/ballots", json=body)


def receipt_holds(live: Live, receipt: dict[str, Any]) -> bool:
    entry = live.client.get(f"{live.api}/board/{receipt['index']}").json()
    head = receipt["tree_head"]
    key = bytes.fromhex(live.client.get(live.api).json()["board_key"])
    return verify_tree_head(head, key) and verify_inclusion(
        bytes.fromhex(entry["leaf_hash"]),
        receipt["index"],
        head["size"],
        [bytes.fromhex(p) for p in receipt["inclusion_proof"]],
        bytes.fromhex(head["root"]),
    )


def test_a_cast_ballot_gets_a_receipt_that_proves_it_is_on_the_board(live: Live) -> None:
    body = ballot(live, 0, 0)
    answer = cast(live, body)
    assert answer.status_code == 200, answer.text
    receipt = answer.json()
    assert receipt["index"] == 1 and receipt_holds(live, receipt)
    entry = live.client.get(f"{live.api}/board/1").json()
    assert entry["entry"]["ballot"] == body
    assert (
        leaf_hash(json.dumps(entry["entry"], separators=(",", ":"), sort_keys=True).encode()).hex()
        == (entry["leaf_hash"])
    )
    again = live.client.get(f"{live.api}/ballots/{receipt['tracker']}").json()
    assert again["index"] == 1 and receipt_holds(live, again)


def test_the_same_ballot_sent_twice_is_on_the_board_once(live: Live) -> None:
    body = ballot(live, 1, 1)
    first, second = cast(live, body).json(), cast(live, body).json()
    assert first["index"] == second["index"] and first["tracker"] == second["tracker"]
    assert live.board_size() == 2


def test_a_revote_replaces_the_first_ballot(live: Live) -> None:
    first = cast(live, ballot(live, 2, 0)).json()
    second = cast(live, ballot(live, 2, 1)).json()
    credential = live.client.get(f"{live.api}/board/{first['index']}").json()["entry"]["ballot"]["credential"]
    mine = live.client.get(f"{live.api}/credentials/{credential}").json()
    assert [b["tracker"] for b in mine["ballots"]] == [first["tracker"], second["tracker"]]
    assert mine["counted"] == second["tracker"] and mine["state"] == "open"
    turnout = live.client.get(f"{live.api}/turnout").json()
    assert (turnout["eligible"], turnout["voted"]) == (9, 1)


def _tampered_proof(body: dict[str, Any]) -> dict[str, Any]:
    bad = copy.deepcopy(body)
    proof = bad["answers"][0]["choice_proofs"][0][0]
    proof["c"], proof["z"] = proof["z"], proof["c"]
    return bad


def _foreign(live: Live) -> dict[str, Any]:
    from istifta.crypto.rng import SeededRandom

    other = make_election(SeededRandom("another election"), voters=1)
    return build_ballot(other.params, other.codes[0], [[0]], live.rng).to_json()


BAD = {
    "a failing proof": (lambda live: _tampered_proof(ballot(live, 3, 0)), 422, "invalid_ballot"),
    "a bad point": (
        lambda live: {**ballot(live, 3, 0), "credential": "ff" * 32},
        400,
        "malformed",
    ),
    "a missing field": (
        lambda live: {k: v for k, v in ballot(live, 3, 0).items() if k != "signature"},
        400,
        "malformed",
    ),
    "a foreign election's ballot": (_foreign, 422, "invalid_ballot"),
    "not a ballot at all": (lambda live: [1, 2, 3], 400, "malformed"),
}


@pytest.mark.parametrize("case", BAD)
def test_a_bad_ballot_is_refused_with_a_code_and_changes_nothing(live: Live, case: str) -> None:
    make, status, code = BAD[case]
    answer = cast(live, make(live))
    assert answer.status_code == status, answer.text
    assert answer.json()["code"] == code and answer.json()["message"]
    assert live.board_size() == 1


def test_an_oversized_or_unparsable_body_is_refused(live: Live) -> None:
    big = live.client.post(f"{live.api}/ballots", content=b"[" + b"0," * 9000 + b"0]")
    assert big.status_code == 413 and big.json()["code"] == "ballot_too_large"
    garbage = live.client.post(f"{live.api}/ballots", content=b"\xff{not json")
    assert garbage.status_code == 400 and garbage.json()["code"] == "malformed_json"
    assert live.board_size() == 1


def test_an_unknown_or_closed_referendum_is_refused(live: Live) -> None:
    body = ballot(live, 4, 0)
    unknown = live.client.post("/api/referendums/no-such-vote/ballots", json=body)
    assert unknown.status_code == 404 and unknown.json()["code"] == "unknown_referendum"
    live.refs.close(live.slug)
    size = live.board_size()
    closed = cast(live, body)
    assert closed.status_code == 409 and closed.json()["code"] == "referendum_closed"
    assert "takes no more ballots" in closed.json()["message"]
    assert live.board_size() == size


def test_casting_is_rate_limited_per_address(tmp_path: Path) -> None:
    for limited in serve(tmp_path, None, cast_rate=1.0, cast_burst=2):
        answers = [cast(limited, ballot(limited, i, 0)) for i in range(3)]
        assert [a.status_code for a in answers] == [200, 200, 429]
        assert answers[2].json()["code"] == "rate_limited"
        assert int(answers[2].headers["retry-after"]) >= 1
        assert limited.board_size() == 3


def test_ipv4_phones_on_a_dual_stack_socket_each_have_their_own_limit(tmp_path: Path) -> None:
    for limited in serve(tmp_path, None, cast_rate=1.0, cast_burst=2):
        size = limited.board_size()
        app = limited.client.app
        first, second = (TestClient(app, client=(f"::ffff:192.0.2.{n}", 40000)) for n in (1, 2))
        answers = [first.post(f"{limited.api}/ballots", json=ballot(limited, i, 0)) for i in range(3)]
        assert [a.status_code for a in answers] == [200, 200, 429]
        other = second.post(f"{limited.api}/ballots", json=ballot(limited, 3, 0))
        assert other.status_code == 200  # not in the first phone's bucket (once: all of ::/64)
        assert limited.board_size() == size + 3


def test_a_credential_can_get_its_inclusion_proof_in_the_electorate(live: Live) -> None:
    params = live.opened.params
    credential = ballot(live, 5, 0)["credential"]
    proof = live.client.get(f"{live.api}/electorate/{credential}").json()
    assert proof["root"] == params.electorate_root and proof["size"] == 9
    assert verify_inclusion(
        leaf_hash(proof["leaf"].encode()),
        proof["index"],
        proof["size"],
        [bytes.fromhex(p) for p in proof["proof"]],
        bytes.fromhex(params.electorate_root),
    )
    stranger = _foreign(live)["credential"]
    missing = live.client.get(f"{live.api}/electorate/{stranger}")
    assert missing.status_code == 404 and missing.json()["code"] == "not_eligible"
    malformed = live.client.get(f"{live.api}/electorate/xyz")
    assert malformed.status_code == 400 and malformed.json()["code"] == "bad_request"


def test_tree_heads_and_proofs_check(live: Live) -> None:
    for voter in range(3):
        cast(live, ballot(live, voter, voter % 2))
    heads = live.client.get(f"{live.api}/tree-heads?limit=10").json()
    key = bytes.fromhex(live.client.get(live.api).json()["board_key"])
    assert [h["size"] for h in heads] == [4, 3, 2, 1] and all(verify_tree_head(h, key) for h in heads)
    old, new = heads[2], heads[0]
    proof = live.client.get(f"{live.api}/proofs/consistency?first=2&second=4").json()["proof"]
    assert verify_consistency(
        2, 4, bytes.fromhex(old["root"]), bytes.fromhex(new["root"]), [bytes.fromhex(p) for p in proof]
    )
    bad = live.client.get(f"{live.api}/proofs/inclusion?index=5&size=9")
    assert bad.status_code == 400 and bad.json()["code"] == "bad_range"


def test_the_result_and_record_after_publishing(live: Live, tmp_path: Path) -> None:
    early = live.client.get(f"{live.api}/result")
    assert early.status_code == 404 and early.json()["code"] == "no_result"
    for voter, choice in enumerate([0, 0, 1, 0]):
        cast(live, ballot(live, voter, choice))
    refs, slug = live.refs, live.slug
    refs.close(slug)
    tally = refs.tally(slug)
    for j in (1, 2):
        refs.add_partial_decryption(
            slug, partial_decrypt(live.opened.params, tally, j, live.opened.shares[j], live.rng).to_json()
        )
    refs.publish_result(slug)
    result = live.client.get(f"{live.api}/result").json()
    assert result["counts"] == [[3, 1]] and result["turnout"]["voted"] == 4
    download = live.client.get(f"/r/{slug}/record.zip")
    assert download.status_code == 200 and download.headers["content-type"] == "application/zip"
    target = tmp_path / "record.zip"
    target.write_bytes(download.content)
    assert verify_record(read_record(target)).ok


def test_unknown_routes_and_bad_parameters_answer_json_errors(live: Live) -> None:
    for url, status, code in [
        ("/api/nothing-here", 404, "not_found"),
        (f"{live.api}/board?limit=0", 400, "bad_request"),
        (f"{live.api}/board/999", 404, "no_entry"),
        (f"{live.api}/ballots/{'0' * 64}", 404, "unknown_tracker"),
    ]:
        answer = live.client.get(url)
        assert (answer.status_code, answer.json()["code"]) == (status, code), url


def test_the_sms_counters_say_what_was_sent_and_what_it_cost(live: Live) -> None:
    counters = live.client.get(f"{live.api}/sms").json()
    assert counters["by_state"]["queued"] == 0 and counters["segments_sent"] == 0
    assert counters["cost"] == "0.00" and counters["currency"]
    missing = live.client.get("/api/referendums/no-such-vote/sms")
    assert missing.status_code == 404 and missing.json()["code"] == "unknown_referendum"
