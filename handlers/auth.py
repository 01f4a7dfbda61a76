"""Authentication and authorization of every API: one ASGI middleware in front of routing.

A request under /tmf-api/ needs `Authorization: Bearer <JWT>` (checked by adapters/tokens.py)
granting the scope its API and method need (domain.security.required_scope). The principal the
token names is the current principal (adapters/acting.py) while the request is handled: the
repository scopes every read and write by its partner. An operator may act for one partner
with `X-Partner: <id>`.

Refusals are TMF error bodies (raised as ProblemException, answered by handlers/errors.py) with
the RFC 6750 challenge: 401 and `WWW-Authenticate: Bearer realm=...` for a missing token (no
error code, as the RFC asks), with `error="invalid_token"` for an invalid one; 403 with
`error="insufficient_scope"` and the scope needed. The Swagger UIs and OpenAPI documents are
served before this middleware runs (connexion's SwaggerUIMiddleware); /, /health and /ready
are outside /tmf-api: none of them needs a token.

Connexion's own SecurityMiddleware is left out of the stack (middlewares()): the specs'
securitySchemes document the rules enforced here, and connexion would otherwise demand a
function of its own per scheme and answer without the challenge.
"""

from __future__ import annotations

from dataclasses import replace

import anyio.to_thread
from connexion.exceptions import ProblemException
from connexion.middleware.main import ConnexionMiddleware
from connexion.middleware.security import SecurityMiddleware
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from adapters.acting import acting_as
from adapters.tokens import InvalidToken, KeysUnavailable, TokenVerifier, partner_scopes
from domain.security import OPERATOR, SCOPES, Principal, is_partner_id, required_scope

API_PREFIX = "/tmf-api/"
REALM = "mvno-bss"
PARTNER_HEADER = "X-Partner"
# who every request is in dev mode (no tokens): an operator with every scope
DEV_PRINCIPAL = Principal("dev", "dev", None, partner_scopes() | {OPERATOR})


def middlewares() -> list[type]:
    """Connexion's middleware stack without its SecurityMiddleware; a new list for each app,
    since connexion inserts the app's own middlewares into it."""
    return [m for m in ConnexionMiddleware.default_middlewares if m is not SecurityMiddleware]


class AuthMiddleware:
    def __init__(self, app: ASGIApp, verifier: TokenVerifier | None) -> None:
        self.app = app
        self.verifier = verifier  # None: dev mode

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(API_PREFIX):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        who = await self._authenticate(headers.get("authorization"))
        who = _acting_for(who, headers.get(PARTNER_HEADER))
        _authorize(who, scope["path"], scope["method"])
        with acting_as(who):
            await self.app(scope, receive, send)

    async def _authenticate(self, authorization: str | None) -> Principal:
        if self.verifier is None:
            return DEV_PRINCIPAL
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _unauthorized("a bearer token is required (Authorization: Bearer <JWT>)")
        try:
            # in a thread: fetching an identity provider's keys blocks
            return await anyio.to_thread.run_sync(self.verifier.principal, token.strip())
        except InvalidToken as error:
            raise _unauthorized(str(error), error="invalid_token") from None
        except KeysUnavailable as error:
            raise ProblemException(status=503, detail=str(error)) from None


def _acting_for(who: Principal, partner: str | None) -> Principal:
    """The principal acting for the partner an X-Partner header names: only an operator may
    name another partner than its own."""
    if partner is None:
        return who
    if not is_partner_id(partner):
        raise ProblemException(status=400, detail=f"{PARTNER_HEADER} is not a partner id")
    if who.operator:
        return replace(who, partner=partner)
    if partner != who.partner:
        detail = f"only an operator may act for another partner ({PARTNER_HEADER})"
        raise ProblemException(status=403, detail=detail)
    return who


def _authorize(who: Principal, path: str, method: str) -> None:
    api = path[len(API_PREFIX) :].split("/", 1)[0]
    if api not in SCOPES:  # an API without scopes is closed, not open
        raise ProblemException(status=404, detail=f"no API at {API_PREFIX}{api}")
    needed = required_scope(api, method)
    if needed not in who.scopes:
        raise ProblemException(
            status=403,
            detail=f"the token does not grant the scope {needed}",
            headers={"WWW-Authenticate": _challenge(error="insufficient_scope", scope=needed)},
        )


def _unauthorized(message: str, error: str | None = None) -> ProblemException:
    """401: the bare challenge for a missing token (RFC 6750 3.1), the reason for a bad one."""
    params = {"error": error, "error_description": message} if error else {}
    headers = {"WWW-Authenticate": _challenge(**params)}
    return ProblemException(status=401, detail=message, headers=headers)


def _challenge(**params: str) -> str:
    quoted = "".join(
        f', {name}="{value.replace(chr(34), chr(39))}"' for name, value in params.items()
    )
    return f'Bearer realm="{REALM}"{quoted}'
