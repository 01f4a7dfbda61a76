"""Two gaps in Connexion's routing, closed so that clients get the TMF answer, not a 500.

- A path holding a line feed (%0A) matches no API mount (Starlette's `.*` stops at it) yet
  still reaches the Flask view, without the operation context Connexion needs there. Such a
  path names no resource: 404.
- Connexion adds one route per operation, so the 405 Starlette raises for a wrong method has
  an `Allow` naming the methods of the first route whose path matched (GET, not POST, on
  /customer). RFC 9110 wants every method of the resource: we take them from the specs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from connexion.exceptions import ProblemException
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from handlers.specs import base_path

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


class RoutingGuard:
    def __init__(self, app: ASGIApp, specs: Iterable[Mapping[str, Any]]) -> None:
        self.app = app
        self._allow = [
            (_path_pattern(base_path(spec) + path), _allow_header(item))
            for spec in specs
            for path, item in spec["paths"].items()
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if "\n" in path:
            raise ProblemException(status=404, detail="no resource has a line feed in its path")
        try:
            await self.app(scope, receive, send)
        except HTTPException as error:
            allow = self.allowed_methods(path)
            if error.status_code != 405 or allow is None:
                raise
            headers = {**(error.headers or {}), "Allow": allow}
            raise HTTPException(405, error.detail, headers) from None

    def allowed_methods(self, path: str) -> str | None:
        return next((allow for pattern, allow in self._allow if pattern.fullmatch(path)), None)


def _path_pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"\{[^}/]+\}", template)
    return re.compile("[^/]+".join(re.escape(part) for part in parts))


def _allow_header(path_item: Mapping[str, Any]) -> str:
    methods = {method.upper() for method in path_item if method in HTTP_METHODS}
    if "GET" in methods:
        methods.add("HEAD")  # Starlette and Flask answer HEAD wherever there is a GET
    return ", ".join(sorted(methods))
