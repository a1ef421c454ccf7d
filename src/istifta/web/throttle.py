"""Push-back for anonymous traffic: per-address rate limits (casting and public
reads counted apart), the board's backlog, and casting's own threads.

Over a limit the answer is 429 (or 503 when the board is busy) with
``Retry-After``, never a silent drop. Casting runs its checks on threads of its
own (:func:`cast_threads`), so that reads filling the shared pool of threads,
however many, cannot hold up a ballot.
"""

from __future__ import annotations

from anyio import CapacityLimiter
from starlette.requests import Request

from istifta.web.errors import ApiError
from istifta.web.services import Services, client_address, services

__all__ = ["CAST_THREADS", "cast_threads", "throttle_casting", "throttle_reads"]

CAST_THREADS = 16
"""Threads that check ballots, apart from the pool that serves every other request."""


def _refuse(wait: float, what: str) -> ApiError:
    seconds = max(1, int(wait + 0.999))
    return ApiError(
        429,
        "rate_limited",
        f"too many {what} from this address: try again in {seconds} s",
        headers={"Retry-After": str(seconds)},
    )


def throttle_casting(request: Request, svc: Services) -> None:
    wait = svc.limiter.take(client_address(request, svc.settings.trust_forwarded))
    if wait > 0:
        raise _refuse(wait, "ballots")
    if svc.refs.board.backlog() > svc.settings.max_backlog:
        raise ApiError(
            503, "busy", "the board is busy: try again in a few seconds", headers={"Retry-After": "5"}
        )


async def throttle_reads(request: Request) -> None:
    """A dependency of the public routes: reads (GET, HEAD) by the address's own limit."""
    if request.method not in ("GET", "HEAD"):
        return
    svc = services(request)
    wait = svc.read_limiter.take(client_address(request, svc.settings.trust_forwarded))
    if wait > 0:
        raise _refuse(wait, "requests")


def cast_threads(request: Request) -> CapacityLimiter:
    """Casting's threads (made on first use, inside the server's event loop)."""
    state = request.app.state
    limiter: CapacityLimiter | None = getattr(state, "cast_threads", None)
    if limiter is None:
        limiter = state.cast_threads = CapacityLimiter(CAST_THREADS)
    return limiter
