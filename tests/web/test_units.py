"""The web layer's small parts: the rate limiter's arithmetic, the client key
for rate limiting, settings from the environment."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from starlette.datastructures import Headers

from istifta.web.ratelimit import RateLimiter
from istifta.web.services import client_address
from istifta.web.settings import load_settings


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_bucket_allows_a_burst_then_the_rate() -> None:
    clock = Clock()
    limiter = RateLimiter(per_minute=6, burst=2, clock=clock)
    assert [limiter.take("a"), limiter.take("a")] == [0.0, 0.0]
    assert limiter.take("a") == pytest.approx(10.0)  # one token every 10 s
    assert limiter.take("b") == 0.0  # another client has its own bucket
    clock.now = 10.0
    assert limiter.take("a") == 0.0


def request(host: str, *forwarded: str) -> Any:
    headers = Headers(raw=[(b"x-forwarded-for", hop.encode()) for hop in forwarded])
    return SimpleNamespace(client=SimpleNamespace(host=host), headers=headers)


def test_clients_are_told_apart_by_address_and_ipv6_by_network() -> None:
    assert client_address(request("10.0.0.7"), False) == "10.0.0.7"
    a = client_address(request("2001:db8:1:2:aaaa::1"), False)
    b = client_address(request("2001:db8:1:2:bbbb::9"), False)
    assert a == b == "2001:db8:1:2::/64"
    assert client_address(request("::ffff:192.0.2.5"), False) == "192.0.2.5"  # IPv4 on a dual-stack socket
    assert client_address(request("10.0.0.7", "192.0.2.5, 198.51.100.3"), False) == "10.0.0.7"
    # the proxy's hop is the last: what is left of it, the client wrote
    assert client_address(request("10.0.0.7", "192.0.2.5, 198.51.100.3"), True) == "198.51.100.3"
    assert client_address(request("10.0.0.7", "192.0.2.5", "198.51.100.3"), True) == "198.51.100.3"
    assert client_address(request("10.0.0.7"), True) == "10.0.0.7"  # no header: the socket's peer


def test_settings_come_from_the_environment_and_say_what_is_wrong() -> None:
    settings = load_settings({"ISTIFTA_CAST_RATE": "12", "ISTIFTA_HSTS": "no", "ISTIFTA_DATA_DIR": "/srv/x"})
    assert (settings.cast_rate, settings.hsts, settings.data_dir) == (12.0, False, Path("/srv/x"))
    with pytest.raises(ValueError, match="ISTIFTA_HSTS: expected true or false"):
        load_settings({"ISTIFTA_HSTS": "maybe"})
    hidden = repr(load_settings({"ISTIFTA_DATABASE_URL": "postgresql://u:secret@h/db"}))
    assert "secret" not in hidden
