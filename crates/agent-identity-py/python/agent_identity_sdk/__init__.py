"""Authenticate an AI agent runtime as an agent identity.

``Identity.from_env()`` sets up the identity as the ``agent-identity`` CLI would (the same
variables and precedence), verifies the token, registers a task, and signs requests:
``identity.headers()``, ``identity.httpx_auth(origins=[...])`` and
``identity.requests_auth(origins=[...])``. Everything runs in the Rust SDK; this package is a thin
binding over it. Log records go to the ``agent_identity_sdk`` logger.
"""

from __future__ import annotations

from ._errors import AgentIdentityError, ConfigError, NotLoggedIn, Rejected, Unavailable
from ._native import Degraded, Identity, ReloadOutcome, Status

__all__ = [
    "AgentIdentityError",
    "ConfigError",
    "Degraded",
    "Identity",
    "NotLoggedIn",
    "Rejected",
    "ReloadOutcome",
    "Status",
    "Unavailable",
]
