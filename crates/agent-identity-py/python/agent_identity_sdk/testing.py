"""The AgentIdentity emulator for your tests, and its pytest fixture.

``with Emulator() as emu:`` runs the Rust emulator in this process on a free loopback port:
a JWK Set, task registration and a protected endpoint (``emu.echo_url``), with fault knobs
(``fail_next_registrations``, ``fail_next_jwks``, ``set_latency``, ``drop_next_connections``,
``revoke_tasks``) and counters (``registrations``, ``assertions_accepted``, ...).
``emu.env(home)`` gives the variables that point ``Identity.from_env()`` at it.

The pytest fixture ``agent_identity_emulator`` is registered through the ``pytest11`` entry
point, so installing the package is enough.
"""

from __future__ import annotations

from typing import Iterator

from ._native import Emulator, Minted

__all__ = ["Emulator", "Minted", "agent_identity_emulator"]

try:
    import pytest
except ImportError:  # pragma: no cover - pytest is only needed for the fixture
    pass
else:

    @pytest.fixture
    def agent_identity_emulator() -> Iterator[Emulator]:
        """A fresh emulator for one test, stopped after it."""
        with Emulator() as emulator:
            yield emulator
