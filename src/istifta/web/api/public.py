"""The JSON API under ``/api`` (OpenAPI at ``/api/openapi.json``, read at ``/api/docs``).

Everything a third-party client needs: the parameters, a credential's
inclusion proof in the electorate, casting, receipts, the board, tree heads
and proofs, the turnout and the result. Errors are ``{"code", "message"}``.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Annotated, Any

from anyio import to_thread
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from istifta.board.merkle import leaf_hash
from istifta.crypto.group import Point
from istifta.sms import queue as sms_queue
from istifta.store.board import Receipt
from istifta.web.errors import ApiError
from istifta.web.services import services
from istifta.web.settings import MAX_BALLOT_BYTES
from istifta.web.throttle import cast_threads, throttle_casting, throttle_reads

__all__ = ["BALLOT_SCHEMA", "router"]

RECORD_WAIT_SECONDS = 5.0
"""How long a download waits for its record to be built before it is told to come back."""

router = APIRouter(prefix="/api", tags=["referendums"], dependencies=[Depends(throttle_reads)])

HEX64 = r"^[0-9a-f]{64}$"
Slug = Annotated[str, Path(description="The referendum's slug.", max_length=64, examples=["coalition-2024"])]
Hex64 = Annotated[str, Path(description="64 lowercase hex characters.", pattern=HEX64)]


class ErrorBody(BaseModel):
    code: str
    message: str


class TreeHead(BaseModel):
    size: int
    root: str
    timestamp: str
    signature: str


class ReceiptBody(BaseModel):
    tracker: str | None
    index: int
    tree_head: TreeHead
    inclusion_proof: list[str]


class BallotSeen(BaseModel):
    index: int
    tracker: str
    received_at: str


class CredentialBallots(BaseModel):
    state: str
    ballots: list[BallotSeen]
    counted: str | None
    """The tracker of the ballot that counts: the last in board order."""


ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text}
    for status, text in {
        400: "Malformed input",
        404: "No such referendum, entry or tracker",
        409: "The referendum's state does not allow it",
    }.items()
}

_bracket = {"type": "object", "properties": {"c": {"type": "string"}, "z": {"type": "string"}}}
BALLOT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "A ballot as PROTOCOL.md §5 defines it; at most 16 KB.",
    "required": ["election_hash", "credential", "answers", "signature"],
    "properties": {
        "election_hash": {"type": "string", "pattern": HEX64},
        "credential": {"type": "string", "pattern": HEX64},
        "answers": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "choices": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {"alpha": {"type": "string"}, "beta": {"type": "string"}},
                        },
                    },
                    "choice_proofs": {"type": "array", "items": {"type": "array", "items": _bracket}},
                    "sum_proof": {"type": "array", "items": _bracket},
                },
            },
        },
        "signature": _bracket,
    },
}


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(data, status_code=status, headers=headers)


@router.get("/referendums", summary="Every referendum on this server")
def referendums(request: Request) -> list[dict[str, Any]]:
    return [
        {
            "slug": s.slug,
            "title": s.manifest["title"],
            "state": s.state,
            "opens_at": s.manifest["opens_at"],
            "closes_at": s.manifest["closes_at"],
            "election_hash": s.election_hash,
            "board_size": s.board_size,
        }
        for s in services(request).views.summaries()
    ]


@router.get("/referendums/{slug}", summary="A referendum: manifest, state, board", responses=ERRORS)
def referendum(request: Request, slug: Slug) -> dict[str, Any]:
    svc = services(request)
    s = svc.views.summary(slug)
    return {
        "slug": s.slug,
        "manifest": s.manifest,
        "state": s.state,
        "election_hash": s.election_hash,
        "board_size": s.board_size,
        "board_key": svc.refs.board_key.hex(),
    }


@router.get(
    "/referendums/{slug}/parameters",
    summary="The frozen election parameters; their jhash is the election hash",
    responses=ERRORS,
)
def parameters(request: Request, slug: Slug) -> Response:
    text = services(request).views.parameters_text(slug)
    return Response(text, media_type="application/json")


@router.get(
    "/referendums/{slug}/electorate/{credential}",
    summary="A public credential's leaf and inclusion proof in the electorate",
    responses=ERRORS,
)
def electorate_proof(request: Request, slug: Slug, credential: Hex64) -> dict[str, Any]:
    P = Point.from_hex(credential, "credential")
    proof = services(request).views.electorate_proof(slug, P)
    if proof is None:
        raise ApiError(404, "not_eligible", "this credential is not in the referendum's electorate")
    return proof


async def _read_ballot(request: Request) -> Any:
    declared = request.headers.get("content-length")
    if (
        declared is not None
        and declared.isascii()
        and declared.isdecimal()
        and int(declared) > MAX_BALLOT_BYTES
    ):
        raise ApiError(413, "ballot_too_large", f"a ballot is at most {MAX_BALLOT_BYTES} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BALLOT_BYTES:
            raise ApiError(413, "ballot_too_large", f"a ballot is at most {MAX_BALLOT_BYTES} bytes")
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ApiError(400, "malformed_json", "the body is not a JSON document") from None
    except RecursionError:
        raise ApiError(400, "malformed_json", "the body's JSON is nested too deeply for a ballot") from None


@router.post(
    "/referendums/{slug}/ballots",
    summary="Cast a ballot; the receipt comes once it is durable on the board",
    response_model=ReceiptBody,
    responses={
        **ERRORS,
        413: {"model": ErrorBody, "description": "Ballot over 16 KB"},
        422: {"model": ErrorBody, "description": "A check of PROTOCOL.md §5 fails"},
        429: {"model": ErrorBody, "description": "Too many ballots from this address"},
        503: {"model": ErrorBody, "description": "The board is busy"},
    },
    openapi_extra={
        "requestBody": {"required": True, "content": {"application/json": {"schema": BALLOT_SCHEMA}}}
    },
)
async def cast(request: Request, slug: Slug) -> JSONResponse:
    svc = services(request)
    throttle_casting(request, svc)
    raw = await _read_ballot(request)
    future = await to_thread.run_sync(svc.refs.submit_ballot, slug, raw, limiter=cast_threads(request))
    receipt: Receipt = await asyncio.wrap_future(future)
    return _json(receipt.to_json())


@router.get(
    "/referendums/{slug}/ballots/{tracker}",
    summary="The receipt of a ballot on the board, against the latest tree head",
    response_model=ReceiptBody,
    responses=ERRORS,
)
def receipt(request: Request, slug: Slug, tracker: Hex64) -> JSONResponse:
    found = services(request).views.receipt_for(slug, tracker)
    if found is None:
        raise ApiError(404, "unknown_tracker", "no ballot with this tracker is on the board")
    return _json(found.to_json())


@router.get(
    "/referendums/{slug}/credentials/{credential}",
    summary="Did this credential vote? Its ballots on the board and the one that counts",
    response_model=CredentialBallots,
    responses=ERRORS,
)
def credential_ballots(request: Request, slug: Slug, credential: Hex64) -> CredentialBallots:
    svc = services(request)
    P = Point.from_hex(credential, "credential")
    seen = svc.views.ballots_of(slug, P)
    return CredentialBallots(
        state=svc.views.summary(slug).state,
        ballots=[BallotSeen(index=b.index, tracker=b.tracker, received_at=b.received_at) for b in seen],
        counted=seen[-1].tracker if seen else None,
    )


@router.get("/referendums/{slug}/board", summary="Board entries, in order", responses=ERRORS)
def board(
    request: Request,
    slug: Slug,
    start: Annotated[int, Query(ge=0, le=2**62)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    views = services(request).views
    rows = views.entries(slug, start, limit)
    return {
        "size": views.summary(slug).board_size,
        "entries": [{"index": r.index, "entry": r.entry()} for r in rows],
    }


@router.get(
    "/referendums/{slug}/board/{index}", summary="One board entry and its leaf hash", responses=ERRORS
)
def board_entry(request: Request, slug: Slug, index: Annotated[int, Path(ge=0, le=2**62)]) -> dict[str, Any]:
    row = services(request).views.entry(slug, index)
    if row is None:
        raise ApiError(404, "no_entry", f"the board has no entry {index}")
    return {"index": row.index, "entry": row.entry(), "leaf_hash": leaf_hash(row.data).hex()}


@router.get("/referendums/{slug}/tree-head", summary="The latest signed tree head", response_model=TreeHead)
def tree_head(request: Request, slug: Slug) -> dict[str, Any]:
    heads = services(request).views.tree_heads(slug, 1)
    if not heads:
        raise ApiError(404, "no_tree_head", "this referendum's board is empty: it has not opened")
    return heads[0]


@router.get("/referendums/{slug}/tree-heads", summary="Recent signed tree heads, newest first")
def tree_heads(
    request: Request, slug: Slug, limit: Annotated[int, Query(ge=1, le=1000)] = 20
) -> list[dict[str, Any]]:
    return services(request).views.tree_heads(slug, limit)


def _board_size(request: Request, slug: str) -> int:
    return services(request).views.summary(slug).board_size


@router.get("/referendums/{slug}/proofs/inclusion", summary="RFC 9162 inclusion proof", responses=ERRORS)
def inclusion(
    request: Request,
    slug: Slug,
    index: Annotated[int, Query(ge=0, le=2**62)],
    size: Annotated[int, Query(ge=1, le=2**62)],
) -> dict[str, Any]:
    if not index < size <= _board_size(request, slug):
        raise ApiError(400, "bad_range", "need index < size ≤ the board's size")
    svc = services(request)
    proof = svc.refs.board.inclusion(svc.refs.public_id(slug), index, size)
    return {"index": index, "size": size, "proof": proof}


@router.get("/referendums/{slug}/proofs/consistency", summary="RFC 9162 consistency proof", responses=ERRORS)
def consistency(
    request: Request,
    slug: Slug,
    first: Annotated[int, Query(ge=0, le=2**62)],
    second: Annotated[int, Query(ge=0, le=2**62)],
) -> dict[str, Any]:
    if not first <= second <= _board_size(request, slug):
        raise ApiError(400, "bad_range", "need first ≤ second ≤ the board's size")
    svc = services(request)
    proof = svc.refs.board.consistency(svc.refs.public_id(slug), first, second)
    return {"first": first, "second": second, "proof": proof}


@router.get("/referendums/{slug}/turnout", summary="Live turnout by region", responses=ERRORS)
def turnout(request: Request, slug: Slug) -> dict[str, Any]:
    rows = services(request).views.turnout(slug)
    return {
        "eligible": sum(r.eligible for r in rows),
        "voted": sum(r.voted for r in rows),
        "by_region": [{"region": r.region, "eligible": r.eligible, "voted": r.voted} for r in rows],
    }


@router.get(
    "/referendums/{slug}/sms",
    summary="Invitations and reminders by SMS: messages by state and kind, segments sent, their cost",
    responses=ERRORS,
)
def sms_counts(request: Request, slug: Slug) -> dict[str, Any]:
    svc = services(request)
    svc.refs.public_id(slug)  # a draft's are the console's
    counted = sms_queue.counts(svc.refs.store, slug)
    return {
        **counted.to_json(),
        "price_per_segment": str(svc.sms.price),
        "currency": svc.sms.currency,
        "cost": str(counted.cost(svc.sms.price)),
    }


@router.get("/referendums/{slug}/result", summary="The published result entry", responses=ERRORS)
def result(request: Request, slug: Slug) -> dict[str, Any]:
    found = services(request).views.result(slug)
    if found is None:
        raise ApiError(404, "no_result", "the result is not published yet")
    return found


@router.get(
    "/referendums/{slug}/record.zip",
    summary="The election record (PROTOCOL.md §8) as a zip",
    response_class=Response,
    responses={**ERRORS, 200: {"content": {"application/zip": {}}}},
)
async def record(request: Request, slug: Slug) -> Response:
    svc = services(request)
    state = (await run_in_threadpool(svc.views.summary, slug)).state
    if state == "open":
        raise ApiError(
            409,
            "record_not_ready",
            "the record is published once voting has closed; until then, read the board page by page "
            f"(/api/referendums/{slug}/board) and watch its tree heads",
            detail={"state": state},
        )
    deadline = time.monotonic() + RECORD_WAIT_SECONDS
    while True:
        path = await run_in_threadpool(svc.records.ready, slug)
        if path is not None:
            return FileResponse(path, media_type="application/zip", filename=f"{slug}-record.zip")
        if time.monotonic() > deadline:
            raise ApiError(
                503,
                "record_building",
                "the record is being prepared: try again in a minute",
                headers={"Retry-After": "30"},
            )
        await asyncio.sleep(0.1)
