"""The README's OpenAI SDK example: the OpenAI client's requests sign as the agent.

Run against the emulator by the package's tests (``tests/test_openai_example.py``); in production,
point ``base_url`` at the API your agent calls and list its origin.
"""

from __future__ import annotations

from typing import Any

import httpx
from openai import OpenAI

from agent_identity_sdk import Identity


def client_for(identity: Identity, base_url: str, origin: str) -> OpenAI:
    """An OpenAI client whose requests to ``origin`` carry the agent's assertion."""
    auth = identity.httpx_auth(origins=[origin])
    # The SDK requires an API key and sends it as a bearer token; the assertion replaces it.
    # openai 3 annotates `http_client` as its own httpx fork's client, and accepts an
    # `httpx.Client` at run time (it checks for both).
    http_client = httpx.Client(auth=auth)
    return OpenAI(base_url=base_url, api_key="unused", http_client=http_client)  # type: ignore[arg-type]


def call_protected(client: OpenAI, path: str) -> Any:
    """A request through the OpenAI SDK's own HTTP layer, answered with JSON."""
    return client.post(path, cast_to=object, body={"input": "hello"})


if __name__ == "__main__":
    identity = Identity.from_env()
    client = client_for(identity, "https://api.openai.com/v1", "https://api.openai.com")
    print(client.models.list())
