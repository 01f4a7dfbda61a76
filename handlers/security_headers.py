"""Security headers on every response, error responses included (the middleware sits outside
the one that turns errors into TMF error bodies):

- `X-Content-Type-Options: nosniff`: a browser never runs a JSON body as a script or page;
- `X-Frame-Options: DENY` and `Content-Security-Policy` with `frame-ancestors 'none'`: no
  page may frame ours (clickjacking). API responses allow nothing else (`default-src
  'none'`); the Swagger UIs load their own scripts and styles and run one inline script,
  so their policy allows those, from this server only;
- `Referrer-Policy: no-referrer`: links followed from the Swagger UI carry no URL of ours;
- `Cache-Control: no-store` unless the response says otherwise: API answers hold personal
  data, which no browser or proxy should keep;
- `Strict-Transport-Security` when BSS_HSTS is set (clients reach us over HTTPS only).
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

API_POLICY = "default-src 'none'; frame-ancestors 'none'"
UI_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; frame-ancestors 'none'"
)
HSTS = "max-age=31536000"  # a year; subdomains are left to whoever runs the domain
ALWAYS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, hsts: bool) -> None:
        self.app = app
        self.headers = {**ALWAYS, **({"Strict-Transport-Security": HSTS} if hsts else {})}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = UI_POLICY if _swagger_ui(scope["path"]) else API_POLICY

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.update({**self.headers, "Content-Security-Policy": policy})
                if "cache-control" not in headers:
                    headers["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _swagger_ui(path: str) -> bool:
    """A page or file of an API's Swagger UI (<base path>/ui/...)."""
    return path.endswith("/ui") or "/ui/" in path
