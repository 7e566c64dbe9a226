"""Who may talk to a sandbox server over HTTP: Host and Origin (DNS rebinding), JSON POSTs, a bearer token.

A web page can make a browser send requests to 127.0.0.1.  The MCP transport spec
says a server MUST check `Origin` and answer 403 to a foreign one; a rebinding page
also sends a foreign `Host`.  `AccessGuard` checks both, in front of every route
(REST and MCP alike), refuses POSTs that are not `application/json` (what a
cross-site form or `text/plain` fetch can send without a CORS preflight), and checks
the token per RFC 6750: a case-insensitive `Bearer` scheme, `WWW-Authenticate` on 401.
"""

import hmac
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from mcp.server.transport_security import TransportSecuritySettings
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from servers.errors import ServeRefused

__all__ = ["AccessGuard", "AccessPolicy", "is_loopback"]

_LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")


def is_loopback(host: str) -> bool:
    """Whether binding `host` serves this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class AccessPolicy:
    """The Host and Origin values a server answers, and its token.

    `allowed_hosts` None means any `Host`: only for a non-loopback bind guarded by a
    token, where clients reach the server under names it cannot know.  A pattern
    ending in `:*` allows any port.  A request without `Origin` (any non-browser
    client) passes; a browser's `Origin` must be allowed.
    """

    allowed_hosts: tuple[str, ...] | None
    allowed_origins: tuple[str, ...]
    token: str | None = None

    @classmethod
    def for_bind(
        cls,
        host: str,
        *,
        allowed_hosts: Sequence[str] = (),
        allowed_origins: Sequence[str] = (),
        token: str | None = None,
    ) -> "AccessPolicy":
        """The policy of a server bound to `host`; refuses what would leave it open to any web page."""
        if token is not None and not token.strip():
            raise ServeRefused("the token is empty: give a non-empty --token, --token-file or FUNREASON_TOKEN")
        if not is_loopback(host) and not allowed_hosts and token is None:
            raise ServeRefused(
                f"--host {host} is reachable from other machines and from any web page through DNS rebinding: "
                "give --allowed-hosts (the names clients use) or --token, or bind 127.0.0.1"
            )
        loopback_hosts = tuple(name for loopback in _LOOPBACK_HOSTS for name in (loopback, f"{loopback}:*"))
        loopback_origins = tuple(f"http://{name}" for name in loopback_hosts)
        hosts = None if not is_loopback(host) and not allowed_hosts else (*loopback_hosts, *allowed_hosts)
        return cls(hosts, (*loopback_origins, *allowed_origins), token)

    def transport_security(self) -> TransportSecuritySettings:
        """The same rules for the SDK's own check behind ours (it then never disagrees)."""
        if self.allowed_hosts is None:
            return TransportSecuritySettings(enable_dns_rebinding_protection=False)
        return TransportSecuritySettings(
            allowed_hosts=list(self.allowed_hosts), allowed_origins=list(self.allowed_origins)
        )


class AccessGuard:
    """ASGI middleware enforcing an `AccessPolicy` on every HTTP request, in this order:
    Host (421), Origin (403), token (401), a POST's content type (415)."""

    def __init__(self, app: ASGIApp, policy: AccessPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            refusal = self.refusal(Headers(scope=scope), scope.get("method", "GET"))
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def refusal(self, headers: Headers, method: str) -> JSONResponse | None:
        """The response refusing this request, or None when it may go on."""
        policy = self.policy
        if policy.allowed_hosts is not None and not _allowed(headers.get("host"), policy.allowed_hosts):
            return _refuse(421, "this server does not answer to that Host (see --allowed-hosts)")
        origin = headers.get("origin")
        if origin is not None and not _allowed(origin, policy.allowed_origins):
            return _refuse(403, "requests from that Origin are not allowed (see --allowed-origins)")
        if policy.token is not None:
            scheme, _, given = headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not given.strip():
                return _refuse(401, "a bearer token is required", {"WWW-Authenticate": 'Bearer realm="funreason"'})
            if not hmac.compare_digest(given.strip().encode(), policy.token.encode()):
                challenge = 'Bearer realm="funreason", error="invalid_token"'
                return _refuse(401, "wrong bearer token", {"WWW-Authenticate": challenge})
        media_type = headers.get("content-type", "").partition(";")[0].strip().lower()
        if method == "POST" and media_type != "application/json":
            return _refuse(415, "POST bodies must be 'Content-Type: application/json'")
        return None


def _allowed(value: str | None, patterns: Sequence[str]) -> bool:
    """`value` equals a pattern, or a pattern `base:*` matches `base:<port>`."""
    if not value:
        return False
    value = value.lower()
    for pattern in patterns:
        pattern = pattern.lower()
        if value == pattern:
            return True
        if pattern.endswith(":*"):
            base, _, port = value.rpartition(":")
            if base == pattern[:-2] and port.isdigit():
                return True
    return False


def _refuse(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)
