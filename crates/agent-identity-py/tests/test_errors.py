"""Errors map to their classes and kinds, and no secret reaches a message, repr or log."""

from __future__ import annotations

import logging
import traceback
from pathlib import Path

import httpx
import pytest

from agent_identity_sdk import (
    AgentIdentityError,
    ConfigError,
    Identity,
    NotLoggedIn,
    Rejected,
    Unavailable,
)
from agent_identity_sdk.testing import Emulator

SENTINEL = "SENTINELsecretSENTINEL"


def everything_shown(error: BaseException) -> str:
    return "\n".join(
        [str(error), repr(error), "".join(traceback.format_exception(error))]
    )


def test_nothing_stored_is_not_logged_in(emu_env: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AGENT_IDENTITY_JWT")
    with pytest.raises(NotLoggedIn) as raised:
        Identity.from_env()
    assert raised.value.kind == "not_logged_in"
    assert not raised.value.is_transient
    assert emu_env.registrations == 0


def test_a_token_from_another_issuer_key_is_rejected(
    emu_env: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Emulator() as other:
        monkeypatch.setenv("AGENT_IDENTITY_JWT", other.mint().token)
    with pytest.raises(Rejected) as raised:
        Identity.from_env()
    assert not raised.value.is_transient
    assert raised.value.kind != "not_logged_in"
    assert emu_env.registrations == 0


def test_an_authapi_outage_at_startup_is_unavailable(emu_env: Emulator) -> None:
    emu_env.fail_next_registrations(100, 503)
    with pytest.raises(Unavailable) as raised:
        Identity.from_env(max_registration_attempts=1)
    assert raised.value.is_transient
    assert raised.value.kind == "authapi_unavailable"


def test_a_clear_text_key_set_url_off_loopback_is_a_config_error(emu_env: Emulator) -> None:
    with pytest.raises(ConfigError) as raised:
        Identity.from_env(jwks_url="http://keys.example.com/jwks")
    assert raised.value.kind == "config"


def test_an_origin_with_a_path_or_in_clear_text_is_a_config_error(identity: Identity) -> None:
    for origin in ["https://api.example.com/v1", "http://api.example.com"]:
        with pytest.raises(ConfigError):
            identity.httpx_auth(origins=[origin])
        with pytest.raises(ConfigError):
            identity.requests_auth(origins=[origin])


def test_every_class_is_an_agent_identity_error() -> None:
    for cls in (NotLoggedIn, Rejected, Unavailable, ConfigError):
        assert issubclass(cls, AgentIdentityError)


def test_a_secret_never_appears_in_errors_or_logs(
    emu_env: Emulator,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.DEBUG, logger="agent_identity_sdk")
    token = emu_env.mint().token
    monkeypatch.delenv("AGENT_IDENTITY_JWT")
    bad_token = f"eyJ{SENTINEL}.eyJ{SENTINEL}.{SENTINEL}"
    token_file = tmp_path / "token"
    token_file.write_text(bad_token)
    token_file.chmod(0o600)
    shown = []
    for settings in [{"token": bad_token}, {"token_file": str(token_file)},
                     {"jwks_url": f"http://{SENTINEL}.example.com/"},
                     {"issuer": bad_token, "token": bad_token}]:
        with pytest.raises(AgentIdentityError) as raised:
            Identity.from_env(**settings)  # type: ignore[arg-type]
        shown.append(everything_shown(raised.value))
    # A working identity: its token, assertion and key stay out of every repr and record.
    identity = Identity.from_env(token=token)
    secret_headers = identity.headers()
    auth = identity.httpx_auth(origins=[emu_env.base_url])
    emu_env.revoke_tasks()
    assert httpx.get(emu_env.echo_url, auth=auth).status_code == 200
    emu_env.fail_next_registrations(100, 503)
    identity.reload()
    shown += [repr(identity), repr(identity.status()), repr(auth), repr(emu_env.mint()),
              repr(identity.reload()), repr(identity.degraded())]
    shown += [record.getMessage() for record in caplog.records]
    text = "\n".join(shown)
    assert SENTINEL not in text
    assert token not in text
    assert secret_headers["Authorization"].split(" ", 1)[1] not in text
    assert caplog.records, "the failures above were logged"


def test_sdk_events_reach_python_logging_at_matching_levels(
    emu_env: Emulator, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="agent_identity_sdk")
    with Emulator() as other:
        monkeypatch.setenv("AGENT_IDENTITY_JWT", other.mint().token)
    with pytest.raises(Rejected):
        Identity.from_env()
    ours = [record for record in caplog.records if record.name == "agent_identity_sdk"]
    assert any(record.levelno == logging.WARNING for record in ours), ours
