"""What every route reaches through ``request.app.state``: the referendums,
their public views, the settings and the casting rate limiter."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from starlette.requests import Request

from istifta.lifecycle import Referendums
from istifta.public import PublicViews
from istifta.sms.settings import SmsSettings
from istifta.web.ratelimit import RateLimiter
from istifta.web.settings import WebSettings

__all__ = ["Services", "client_address", "services"]


@dataclass
class Services:
    refs: Referendums
    views: PublicViews
    settings: WebSettings
    limiter: RateLimiter
    sms: SmsSettings

    def close(self) -> None:
        self.refs.close_store()


def services(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc


def client_address(request: Request, trust_forwarded: bool) -> str:
    """The client, for rate limiting: its address (from X-Forwarded-For's first
    hop only when trusted), or its /64 network for IPv6, where one phone may
    hold a whole /64 and change addresses within it at will."""
    host = request.client.host if request.client else "unknown"
    if trust_forwarded:
        forwarded = request.headers.get("x-forwarded-for", "").split(",")[0].strip()
        host = forwarded or host
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)
