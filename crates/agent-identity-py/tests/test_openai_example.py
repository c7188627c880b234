"""The README's OpenAI SDK example, against the emulator's protected endpoint."""

from __future__ import annotations

import sys
from pathlib import Path

from agent_identity_sdk import Identity
from agent_identity_sdk.testing import Emulator

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))

import openai_agent  # noqa: E402


def test_openai_sdk_requests_reach_the_endpoint_with_a_valid_assertion(
    identity: Identity, emu_env: Emulator
) -> None:
    client = openai_agent.client_for(identity, emu_env.base_url, emu_env.base_url)
    answer = openai_agent.call_protected(client, "/echo")
    assert answer["task_id"] == identity.status().task_id
    assert emu_env.assertions_accepted == 1
    assert emu_env.assertions_rejected == 0
