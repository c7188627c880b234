"""httpx (sync and async) and requests against the emulator's protected endpoint."""

from __future__ import annotations

import asyncio
import http.server
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Iterator

import httpx
import pytest
import requests

from agent_identity_sdk import Identity
from agent_identity_sdk.testing import Emulator

CONCURRENT = 50


class _Recorder(http.server.BaseHTTPRequestHandler):
    seen: list[dict[str, str]] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        type(self).seen.append({name.lower(): value for name, value in self.headers.items()})
        self.send_response(401)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture
def third_party() -> Iterator[tuple[str, list[dict[str, str]]]]:
    """A loopback site that is not one of the identity's origins, answering 401 to everything."""
    seen: list[dict[str, str]] = []
    handler = type("Recorder", (_Recorder,), {"seen": seen})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()


def test_httpx_from_threads_all_accepted(identity: Identity, emu_env: Emulator) -> None:
    auth = identity.httpx_auth(origins=[emu_env.base_url])
    with httpx.Client(auth=auth) as client, ThreadPoolExecutor(max_workers=CONCURRENT) as pool:
        codes = list(pool.map(lambda _: client.get(emu_env.echo_url).status_code, range(CONCURRENT)))
    assert codes == [200] * CONCURRENT
    assert emu_env.assertions_accepted == CONCURRENT


def test_httpx_async_from_asyncio_all_accepted(identity: Identity, emu_env: Emulator) -> None:
    auth = identity.httpx_auth(origins=[emu_env.base_url])

    async def main() -> list[int]:
        async with httpx.AsyncClient(auth=auth) as client:
            responses = await asyncio.gather(
                *(client.post(emu_env.echo_url, content=b"body") for _ in range(CONCURRENT))
            )
        return [response.status_code for response in responses]

    assert asyncio.run(main()) == [200] * CONCURRENT
    assert emu_env.assertions_accepted == CONCURRENT


def test_requests_from_threads_all_accepted(identity: Identity, emu_env: Emulator) -> None:
    auth = identity.requests_auth(origins=[emu_env.base_url])
    with ThreadPoolExecutor(max_workers=CONCURRENT) as pool:
        codes = list(
            pool.map(lambda _: requests.get(emu_env.echo_url, auth=auth).status_code, range(CONCURRENT))
        )
    assert codes == [200] * CONCURRENT


def test_after_revoke_httpx_threads_register_exactly_once(identity: Identity, emu_env: Emulator) -> None:
    auth = identity.httpx_auth(origins=[emu_env.base_url])
    assert emu_env.revoke_tasks() == 1
    with httpx.Client(auth=auth) as client, ThreadPoolExecutor(max_workers=CONCURRENT) as pool:
        codes = list(pool.map(lambda _: client.get(emu_env.echo_url).status_code, range(CONCURRENT)))
    assert codes == [200] * CONCURRENT
    assert emu_env.registrations == 2


def test_after_revoke_httpx_async_registers_exactly_once(identity: Identity, emu_env: Emulator) -> None:
    auth = identity.httpx_auth(origins=[emu_env.base_url])
    emu_env.revoke_tasks()

    async def main() -> list[int]:
        async with httpx.AsyncClient(auth=auth) as client:
            responses = await asyncio.gather(*(client.get(emu_env.echo_url) for _ in range(CONCURRENT)))
        return [response.status_code for response in responses]

    assert asyncio.run(main()) == [200] * CONCURRENT
    assert emu_env.registrations == 2


def test_after_revoke_requests_registers_exactly_once(identity: Identity, emu_env: Emulator) -> None:
    auth = identity.requests_auth(origins=[emu_env.base_url])
    emu_env.revoke_tasks()
    with ThreadPoolExecutor(max_workers=CONCURRENT) as pool:
        responses = list(pool.map(lambda _: requests.get(emu_env.echo_url, auth=auth), range(CONCURRENT)))
    assert [response.status_code for response in responses] == [200] * CONCURRENT
    assert emu_env.registrations == 2


def test_an_unlisted_origin_gets_no_assertion_and_its_401_no_recovery(
    identity: Identity, emu_env: Emulator, third_party: tuple[str, list[dict[str, str]]]
) -> None:
    url, seen = third_party
    httpx_auth = identity.httpx_auth(origins=[emu_env.base_url])
    requests_auth = identity.requests_auth(origins=[emu_env.base_url])
    assert httpx.get(url, auth=httpx_auth).status_code == 401

    async def main() -> int:
        async with httpx.AsyncClient(auth=httpx_auth) as client:
            return (await client.get(url)).status_code

    assert asyncio.run(main()) == 401
    assert requests.get(url, auth=requests_auth).status_code == 401
    assert len(seen) == 3
    assert all("authorization" not in headers for headers in seen)
    assert all("chatgpt-account-id" not in headers for headers in seen)
    assert emu_env.registrations == 1


def test_the_same_host_on_another_port_or_scheme_is_not_covered(identity: Identity, emu_env: Emulator) -> None:
    signer = identity._signer([emu_env.base_url])
    assert signer.headers_for(emu_env.echo_url) is not None
    port = int(emu_env.base_url.rsplit(":", 1)[1])
    assert signer.headers_for(f"http://127.0.0.1:{port + 1}/echo") is None
    assert signer.headers_for(f"https://127.0.0.1:{port}/echo") is None
    assert signer.headers_for("not a url") is None
