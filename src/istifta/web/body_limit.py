"""Request bodies bounded on every route, with the answer every other error gets.

Each router is included with a small limit (:data:`BODY_LIMIT`) and the few
upload routes raise it on their own (FastAPI's ``max_body_size``: Starlette
refuses a declared length over the limit before reading, and stops reading a
body that grows past it). Starlette answers that with a bare ``text/plain``
413; :class:`TooLargeAnswers` turns it into the JSON ``{"code", "message"}``
(under ``/api``) or the page in the visitor's language that any other refusal
gets.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from istifta.web.errors import ApiError

__all__ = ["BODY_LIMIT", "TooLargeAnswers", "too_large"]

BODY_LIMIT = 64 * 1024
"""The largest request body a route takes unless it says otherwise (the console's
uploads do): a ballot is at most 16 KB, a console form a few hundred bytes."""
_LIMIT_KEY = "starlette.max_body_size"


def too_large(scope: Scope) -> ApiError:
    """The refusal of a body over its route's limit, saying the limit."""
    limit = scope.get(_LIMIT_KEY, BODY_LIMIT)
    shown = f"{limit // (1024 * 1024)} MB" if limit >= 1024 * 1024 else f"{limit // 1024} KB"
    return ApiError(413, "too_large", f"the request's body is too large: this address takes at most {shown}")


class TooLargeAnswers:
    def __init__(self, app: ASGIApp, answer: Callable[[Request, ApiError], Response]) -> None:
        self.app = app
        self.answer = answer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        replaced = False

        async def send_answer(message: Message) -> None:
            nonlocal replaced
            if message["type"] == "http.response.start" and message["status"] == 413:
                headers = dict(message.get("headers", []))
                if headers.get(b"content-type", b"").startswith(b"text/plain"):
                    replaced = True
                    await self.answer(Request(scope), too_large(scope))(scope, receive, send)
                    return
            if not replaced:  # the bare answer's body goes nowhere
                await send(message)

        await self.app(scope, receive, send_answer)
