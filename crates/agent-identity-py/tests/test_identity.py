"""The identity: set up from the environment, offline status, reload, degraded, async twins."""

from __future__ import annotations

import asyncio
import datetime
from pathlib import Path

import httpx
import pytest

from agent_identity_sdk import AgentIdentityError, Identity, Unavailable
from agent_identity_sdk.testing import Emulator


def test_from_env_configured_by_variables_alone_registers_one_task(emu_env: Emulator) -> None:
    identity = Identity.from_env()
    assert emu_env.registrations == 1
    status = identity.status()
    assert status.state == "ready"
    assert status.account_id
    assert status.runtime_id and status.runtime_id.startswith("agent-")
    assert status.task_id and status.task_id.startswith("task-")
    assert status.expires_at is not None
    assert status.expires_at > datetime.datetime.now(datetime.timezone.utc)
    response = httpx.get(emu_env.echo_url, headers=identity.headers())
    assert response.status_code == 200
    assert response.json()["task_id"] == status.task_id


def test_keyword_overrides_win_over_the_variables(
    emu_env: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    authapi = emu_env.authapi_base_url
    monkeypatch.setenv("AGENT_IDENTITY_AUTHAPI_BASE_URL", "http://127.0.0.1:9")
    identity = Identity.from_env(authapi_base_url=authapi)
    assert identity.status().state == "ready"


def test_headers_are_built_for_the_current_task(identity: Identity, emu_env: Emulator) -> None:
    headers = identity.headers()
    assert set(headers) == {"Authorization", "ChatGPT-Account-ID"}
    assert headers["Authorization"].startswith("AgentAssertion ")
    assert headers["ChatGPT-Account-ID"] == identity.status().account_id
    emu_env.revoke_tasks()
    identity.recover_unauthorized()
    response = httpx.get(emu_env.echo_url, headers=identity.headers())
    assert response.json()["task_id"] == identity.status().task_id


def test_status_with_the_authapi_down_makes_no_request(emu_env: Emulator) -> None:
    identity = Identity.from_env()
    task_id = identity.status().task_id
    before = (emu_env.jwks_fetches, emu_env.registrations)
    for _ in range(5):
        status = identity.status()
    assert (emu_env.jwks_fetches, emu_env.registrations) == before
    emu_env.close()
    status = identity.status()
    assert status.state == "ready"
    assert status.task_id == task_id


def test_a_transient_outage_during_reload_keeps_the_identity_and_says_degraded(
    emu_env: Emulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("AGENT_IDENTITY_JWT")
    token_file = tmp_path / "token"
    token_file.write_text(emu_env.mint().token)
    token_file.chmod(0o600)
    identity = Identity.from_env(token_file=str(token_file))
    assert identity.degraded() is None
    task_id = identity.status().task_id
    # A rotated token to load, while the AuthAPI is down.
    token_file.write_text(emu_env.mint().token)
    emu_env.fail_next_registrations(100, 503)
    outcome = identity.reload()
    assert outcome.outcome == "kept_cached"
    assert isinstance(outcome.error, Unavailable)
    assert outcome.error.is_transient
    degraded = identity.degraded()
    assert degraded is not None
    assert isinstance(degraded.error, Unavailable)
    assert degraded.error.kind == "authapi_unavailable"
    assert identity.status().task_id == task_id
    emu_env.fail_next_registrations(0)
    response = httpx.get(emu_env.echo_url, headers=identity.headers())
    assert response.status_code == 200


def test_the_async_twins_work_from_asyncio(emu_env: Emulator) -> None:
    async def main() -> tuple[str, str]:
        identity = await Identity.from_env_async()
        outcome = await identity.reload_async()
        await identity.recover_unauthorized_async()
        return outcome.outcome, identity.status().state

    assert asyncio.run(main()) == ("unchanged", "ready")
    assert emu_env.registrations == 2


def test_an_async_failure_raises_its_class(emu_env: Emulator) -> None:
    emu_env.fail_next_registrations(100, 503)

    async def main() -> None:
        await Identity.from_env_async(max_registration_attempts=1)

    with pytest.raises(Unavailable) as raised:
        asyncio.run(main())
    assert raised.value.kind == "authapi_unavailable"


def test_many_threads_share_one_identity(identity: Identity, emu_env: Emulator) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=16) as pool:
        headers = list(pool.map(lambda _: identity.headers(), range(200)))
    with httpx.Client() as client:
        codes = {client.get(emu_env.echo_url, headers=h).status_code for h in headers[::20]}
    assert codes == {200}


def test_a_closed_emulator_refuses_with_a_clear_error() -> None:
    emulator = Emulator()
    emulator.close()
    emulator.close()
    with pytest.raises(AgentIdentityError) as raised:
        emulator.revoke_tasks()
    assert raised.value.kind == "emulator_closed"


def test_the_codex_aliases_are_read_as_the_cli_reads_them(
    emu_env: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = emu_env.mint().token
    authapi = emu_env.authapi_base_url
    monkeypatch.delenv("AGENT_IDENTITY_JWT")
    monkeypatch.delenv("AGENT_IDENTITY_AUTHAPI_BASE_URL")
    monkeypatch.setenv("CODEX_ACCESS_TOKEN", token)
    monkeypatch.setenv("CODEX_AUTHAPI_BASE_URL", authapi)
    identity = Identity.from_env()
    assert identity.status().state == "ready"
    assert emu_env.registrations == 1


def test_a_blocking_call_releases_the_gil_while_it_waits(emu_env: Emulator) -> None:
    """The key set is served by a Python thread: holding the GIL while waiting would deadlock."""
    import http.server
    import threading

    upstream = emu_env.jwks_url

    class KeySet(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            body = httpx.get(upstream).content
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), KeySet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        identity = Identity.from_env(jwks_url=f"http://127.0.0.1:{server.server_address[1]}/jwks")
        assert identity.status().state == "ready"
        assert emu_env.jwks_fetches == 1
    finally:
        server.shutdown()
        server.server_close()


def test_a_token_file_given_as_an_argument_beats_the_environments_token(
    emu_env: Emulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from_file = emu_env.mint()
    monkeypatch.setenv("AGENT_IDENTITY_JWT", emu_env.mint().token)
    token_file = tmp_path / "token"
    token_file.write_text(from_file.token)
    token_file.chmod(0o600)
    identity = Identity.from_env(token_file=str(token_file))
    assert identity.status().runtime_id == from_file.runtime_id
