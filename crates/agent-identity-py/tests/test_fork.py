"""Fork safety: in a `fork` child, an inherited identity fails clearly and a new one works."""

from __future__ import annotations

import multiprocessing
from typing import Any

import httpx

from agent_identity_sdk import AgentIdentityError, Identity
from agent_identity_sdk.testing import Emulator


def child(identity: Identity, echo_url: str, results: Any) -> None:
    try:
        identity.headers()
        results.put(("inherited", "worked"))
    except AgentIdentityError as error:
        results.put(("inherited", error.kind))
    fresh = Identity.from_env()
    results.put(("fresh", httpx.get(echo_url, headers=fresh.headers()).status_code))


def test_a_fork_child_refuses_the_inherited_identity_and_makes_a_new_one(
    identity: Identity, emu_env: Emulator
) -> None:
    identity.headers()
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    process = context.Process(target=child, args=(identity, emu_env.echo_url, results))
    process.start()
    got = dict(results.get(timeout=60) for _ in range(2))
    process.join(timeout=60)
    assert process.exitcode == 0
    assert got == {"inherited": "forked", "fresh": 200}
    # The parent is untouched by its child.
    assert httpx.get(emu_env.echo_url, headers=identity.headers()).status_code == 200
