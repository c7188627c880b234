"""Shared fixtures: an identity configured through environment variables alone."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from agent_identity_sdk import Identity
from agent_identity_sdk.testing import Emulator


@pytest.fixture
def emu_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, agent_identity_emulator: Emulator
) -> Iterator[Emulator]:
    """The emulator, with the process environment pointing `Identity.from_env()` at it."""
    home = tmp_path / "home"
    for name, value in agent_identity_emulator.env(home).items():
        monkeypatch.setenv(name, value)
    yield agent_identity_emulator


@pytest.fixture
def identity(emu_env: Emulator) -> Identity:
    return Identity.from_env()
