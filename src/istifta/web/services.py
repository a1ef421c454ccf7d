"""What every route reaches through ``request.app.state``: the referendums,
their public views, the settings and the casting rate limiter."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from istifta.lifecycle import Referendums
from istifta.public import PublicViews
from istifta.web.ratelimit import RateLimiter
from istifta.web.settings import WebSettings

__all__ = ["Services", "client_address", "services"]


@dataclass
class Services:
    refs: Referendums
    views: PublicViews
    settings: WebSettings
    limiter: RateLimiter

    def close(self) -> None:
        self.refs.close_store()


def services(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc


def client_address(request: Request, trust_forwarded: bool) -> str:
    """The client's address, from X-Forwarded-For's first hop only when trusted."""
    if trust_forwarded:
        forwarded = request.headers.get("x-forwarded-for", "")
        first = forwarded.split(",")[0].strip()
        if first:
            return first
    return request.client.host if request.client else "unknown"
