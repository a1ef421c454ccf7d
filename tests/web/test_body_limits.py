"""Bodies are bounded before anyone is signed in (issue 13, finding 3): every route
takes at most a small body unless it says otherwise, and the console's uploads
are read only once the role is known. Measured on a real ``istifta serve``: what
it writes to its temporary folder and its peak memory while the bodies come."""

from __future__ import annotations

import select
import socket
import threading
from collections.abc import Iterator

import pytest

from istifta.crypto.rng import SeededRandom
from istifta.store.referendums import Referendums
from istifta.testing import draft_referendum, live_manifest

from .process import Server, serving

SLUG = "body-limits"
MB = 1024 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("body-limits")
    refs = Referendums.open(folder / "data")
    draft_referendum(refs, live_manifest(slug=SLUG), SeededRandom("body limits"))
    refs.close_store()
    with serving(folder / "data", folder / "tmp") as running:
        yield running


def _multipart(size: int, boundary: str = "x" * 24) -> tuple[bytes, bytes, bytes]:
    """A form with one file of ``size`` bytes: its head, a chunk of its file, its tail."""
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="t.json"\r\n'
        "Content-Type: application/json\r\n\r\n"
    ).encode()
    return head, b"0" * (64 * 1024), f"\r\n--{boundary}--\r\n".encode()


def send(server: Server, path: str, size: int, chunked: bool = False) -> tuple[int, int, int]:
    """POST a multipart body of about ``size`` bytes, stopping when the server answers:
    (the status, the bytes sent, the most the server's temporary folder held meanwhile)."""
    head, chunk, tail = _multipart(size)
    host, port = server.url.removeprefix("http://").split(":")
    length = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {len(head) + size + len(tail)}"
    request = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: multipart/form-data; boundary={'x' * 24}\r\n"
        f"{length}\r\n\r\n"
    ).encode()
    most, done = [0], threading.Event()

    def watch() -> None:
        while not done.is_set():
            most[0] = max(most[0], server.tmp_bytes())
            done.wait(0.01)

    watcher = threading.Thread(target=watch)
    watcher.start()
    sent = 0
    try:
        with socket.create_connection((host, int(port)), timeout=30) as s:
            s.sendall(request)
            pieces = [head] + [chunk] * (size // len(chunk)) + [tail]
            for piece in pieces:
                if select.select([s], [], [], 0)[0]:
                    break  # the server has answered: stop sending
                try:
                    s.sendall(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
                except (BrokenPipeError, ConnectionResetError):
                    break
                sent += len(piece)
            else:
                if chunked:
                    s.sendall(b"0\r\n\r\n")
            s.settimeout(30)
            status = int(s.recv(4096).split(b" ", 2)[1])
    finally:
        done.set()
        watcher.join()
    return status, sent, most[0]


@pytest.mark.parametrize(
    "path",
    [f"/console/r/{SLUG}/trustees", f"/console/r/{SLUG}/decryptions", "/console/new/manifest"],
)
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_an_anonymous_upload_is_refused_before_its_body_is_read(
    server: Server, path: str, chunked: bool
) -> None:
    before = server.peak_memory()
    status, sent, spooled = send(server, path, 30 * MB, chunked)
    assert status in (303, 413)  # to the sign-in page, or too large for the route at all
    assert spooled == 0 and server.tmp_bytes() == 0
    assert sent < 20 * MB  # the server answered long before the 30 MB were through
    assert server.peak_memory() - before < 8 * MB


@pytest.mark.parametrize("path", ["/console/login", "/console/join", f"/api/referendums/{SLUG}/ballots"])
def test_a_large_body_to_a_small_route_is_refused_at_64_kib(server: Server, path: str) -> None:
    before = server.peak_memory()
    status, _, spooled = send(server, path, 4 * MB, chunked=True)
    assert status == 413 and spooled == 0
    assert server.peak_memory() - before < 2 * MB


def test_the_server_still_answers_afterwards(server: Server) -> None:
    import httpx

    assert httpx.get(f"{server.url}/console/login", timeout=30).status_code == 200
