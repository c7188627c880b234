"""The exception hierarchy. The native module raises these, with the Rust error's stable kind."""

from __future__ import annotations


class AgentIdentityError(Exception):
    """Any failure of the agent identity.

    ``kind`` is the Rust error's stable snake_case name (``not_logged_in``, ``expired``,
    ``authapi_unavailable``, ...); ``is_transient`` says whether retrying later may succeed
    without anything changing on our side. The message never contains a token, a key or an
    assertion.
    """

    kind: str
    is_transient: bool

    def __init__(self, message: str, kind: str = "unknown", is_transient: bool = False) -> None:
        super().__init__(message)
        self.kind = kind
        self.is_transient = is_transient

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r}, kind={self.kind!r})"

    def __reduce__(self):  # type: ignore[no-untyped-def]
        # Pickled across processes (multiprocessing) with its kind and classification.
        return (type(self), (str(self), self.kind, self.is_transient))


class NotLoggedIn(AgentIdentityError):
    """No credentials are stored, and none were given."""


class Rejected(AgentIdentityError):
    """The identity itself is no good: invalid, expired or untrusted, or refused by the AuthAPI."""


class Unavailable(AgentIdentityError):
    """A transient failure (the key set or AuthAPI unreachable, a 5xx, a locked store)."""


class ConfigError(AgentIdentityError):
    """A setting is not usable (an ``http`` URL off loopback, an origin with a path, ...)."""
