"""The one place where errors become HTTP answers.

The tree of :mod:`istifta.errors` maps to a status and a stable ``code``;
API routes answer ``{"code", "message"}`` as JSON, pages answer an HTML page
in the visitor's language.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from istifta.errors import (
    DecodeError,
    InternalError,
    InvalidBallot,
    IstiftaError,
    NotFound,
    SelectionError,
    StoreMismatch,
    UnknownElection,
    UsageError,
    WrongState,
)

__all__ = ["ApiError", "from_istifta"]

CLOSED_STATES = ("closed", "tallied", "published")


@dataclass
class ApiError(IstiftaError):
    """An answer decided by a route: its status, its stable ``code`` and message."""

    status: int
    code: str
    message: str
    headers: dict[str, str] = field(default_factory=dict)
    detail: dict[str, object] = field(default_factory=dict)

    def body(self) -> dict[str, object]:
        return {"code": self.code, "message": self.message, **self.detail}


def from_istifta(e: IstiftaError) -> ApiError:
    """The HTTP answer for an error istifta raised on purpose."""
    message = str(e)
    if isinstance(e, UnknownElection):
        return ApiError(404, "unknown_referendum", message)
    if isinstance(e, WrongState):
        if e.state in CLOSED_STATES:
            return ApiError(409, "referendum_closed", message, detail={"state": e.state})
        return ApiError(409, "referendum_not_open", message, detail={"state": e.state})
    if isinstance(e, InvalidBallot):
        where: dict[str, object] = {"check": e.check, "question": e.question, "option": e.option}
        return ApiError(422, "invalid_ballot", message, detail=where)
    if isinstance(e, SelectionError):
        return ApiError(422, "invalid_selection", message)
    if isinstance(e, StoreMismatch):
        return ApiError(500, "store_mismatch", message)
    if isinstance(e, InternalError | UsageError):
        return ApiError(500, "internal", "the server could not do this: its log says why")
    if isinstance(e, NotFound):
        return ApiError(404, "not_found", message)
    if isinstance(e, DecodeError):
        return ApiError(400, "malformed", message)
    return ApiError(409, "refused", message)
