"""The package README's pytest example, as written there, through the plugin's fixture."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from agent_identity_sdk import Identity
from agent_identity_sdk.testing import Emulator


def test_my_agent_survives_a_revocation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, agent_identity_emulator: Emulator
) -> None:
    emu = agent_identity_emulator
    for name, value in emu.env(tmp_path).items():
        monkeypatch.setenv(name, value)
    identity = Identity.from_env()
    emu.revoke_tasks()
    auth = identity.httpx_auth(origins=[emu.base_url])
    assert httpx.get(emu.echo_url, auth=auth).status_code == 200
    assert emu.registrations == 2


def test_my_agent_survives_an_authapi_outage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, agent_identity_emulator: Emulator
) -> None:
    emu = agent_identity_emulator
    for name, value in emu.env(tmp_path).items():
        monkeypatch.setenv(name, value)
    identity = Identity.from_env()
    auth = identity.httpx_auth(origins=[emu.base_url])
    emu.fail_next_registrations(100, 503)
    # The task is still valid: requests keep working while the AuthAPI is down.
    assert httpx.get(emu.echo_url, auth=auth).status_code == 200
    assert identity.reload().outcome == "unchanged"
