"""httpx and requests auth objects, around the native signer.

Whether a URL is signed, and whether its 401 calls for a recovery, is decided in Rust by the
signer (the SDK's ``Origins`` rule): this module only moves headers and retries once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, AsyncGenerator, Generator

if TYPE_CHECKING:
    import httpx
    import requests

    from ._native import OriginSigner

_UNAUTHORIZED = 401

try:
    import httpx as _httpx

    _HttpxBase: Any = _httpx.Auth
except ImportError:  # pragma: no cover - httpx is optional
    _HttpxBase = object

try:
    import requests.auth as _requests_auth

    _RequestsBase: Any = _requests_auth.AuthBase
except ImportError:  # pragma: no cover - requests is optional
    _RequestsBase = object


class HttpxAuth(_HttpxBase):  # type: ignore[misc]
    """An ``httpx.Auth`` signing requests to the identity's origins, for sync and async clients.

    A request to any other origin is sent unsigned. After a 401 from one of the origins, the
    identity recovers once (a new task) and the request is retried once with fresh headers.
    """

    requires_request_body = True

    def __init__(self, signer: OriginSigner) -> None:
        self._signer = signer

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        url = str(request.url)
        headers = self._signer.headers_for(url)
        if headers is None:
            yield request
            return
        request.headers.update(headers)
        response = yield request
        if response.status_code != _UNAUTHORIZED or not self._signer.recovers_for(url):
            return
        self._signer.recover_unauthorized()
        request.headers.update(self._signer.headers_for(url) or {})
        yield request

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        url = str(request.url)
        headers = self._signer.headers_for(url)
        if headers is None:
            yield request
            return
        request.headers.update(headers)
        response = yield request
        if response.status_code != _UNAUTHORIZED or not self._signer.recovers_for(url):
            return
        await self._signer.recover_unauthorized_async()
        request.headers.update(self._signer.headers_for(url) or {})
        yield request

    def __repr__(self) -> str:
        return f"HttpxAuth({self._signer!r})"


class RequestsAuth(_RequestsBase):  # type: ignore[misc]
    """A ``requests`` auth signing requests to the identity's origins only.

    After a 401 from one of them, the identity recovers once and the request is re-sent once.
    """

    def __init__(self, signer: OriginSigner) -> None:
        self._signer = signer

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        url = request.url or ""
        headers = self._signer.headers_for(url)
        if headers is None:
            return request
        request.headers.update(headers)
        request.register_hook("response", self._retry_once)  # type: ignore[no-untyped-call]
        return request

    def _retry_once(self, response: requests.Response, **kwargs: Any) -> requests.Response:
        url = response.request.url or ""
        if response.status_code != _UNAUTHORIZED or not self._signer.recovers_for(url):
            return response
        self._signer.recover_unauthorized()
        retry = response.request.copy()
        retry.headers.update(self._signer.headers_for(url) or {})
        # The copy keeps the hook: drop it so the retry is the only one.
        retry.hooks["response"] = [
            hook for hook in retry.hooks["response"] if hook != self._retry_once
        ]
        response.content  # noqa: B018 - read the body so the connection is released
        response.close()
        sent: requests.Response = response.connection.send(retry, **kwargs)
        sent.history.append(response)
        sent.request = retry
        return sent

    def __repr__(self) -> str:
        return f"RequestsAuth({self._signer!r})"
