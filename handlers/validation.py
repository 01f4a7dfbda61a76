"""Request checks beyond what Connexion does by default.

- JSON bodies: UTF-8 only (RFC 8259), NaN/Infinity refused, at most MAX_NESTING levels deep,
  no array of more than MAX_ITEMS entries, a Content-Type required; merge patches (also
  `application/json` on PATCH, TMF630) validated with their nulls (deletions) taken out,
  since `null` means "remove" in RFC 7386.
- The resulting resource of a create or patch is checked against the resource schema.
- Bodies larger than the configured limit are refused with 413 before they are read whole.
"""

from __future__ import annotations

import json
from typing import Any

import jsonschema_rs
from connexion.datastructures import MediaTypeDict
from connexion.exceptions import (
    BadRequestProblem,
    ProblemException,
    UnsupportedMediaTypeProblem,
)
from connexion.json_schema import Draft4RequestValidator, format_error_with_path
from connexion.validators import VALIDATOR_MAP, JSONRequestBodyValidator
from jsonschema.exceptions import ValidationError
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from domain.errors import InvalidRequest
from domain.patch import MAX_NESTING, size_problem
from handlers.formats import FORMAT_CHECKER, is_uri

MERGE_PATCH_TYPE = "application/merge-patch+json"


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


class StrictJSONBodyValidator(JSONRequestBodyValidator):
    @property
    def _validator(self) -> Draft4RequestValidator:
        return Draft4RequestValidator(self._schema, format_checker=FORMAT_CHECKER)

    async def _parse(self, stream: Any, scope: Scope) -> Any:
        raw = b"".join([chunk async for chunk in stream])
        if not raw:
            return None
        if "content-type" not in Headers(scope=scope):
            # Connexion would guess JSON here, but Flask then hands the handler raw bytes.
            raise UnsupportedMediaTypeProblem(detail="Content-Type is missing")
        too_deep = f"JSON nested deeper than {MAX_NESTING} levels"
        try:
            body = json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
        except UnicodeDecodeError as error:
            raise BadRequestProblem(detail=f"body is not UTF-8: {error}") from None
        except RecursionError:
            raise BadRequestProblem(detail=too_deep) from None
        except ValueError as error:
            raise BadRequestProblem(detail=f"malformed JSON: {error}") from None
        problem = size_problem(body)
        if problem:
            raise BadRequestProblem(detail=problem)
        return body


class MergePatchBodyValidator(StrictJSONBodyValidator):
    def _validate(self, body: Any) -> dict | None:
        return super()._validate(_without_nulls(body))


class PlainJSONBodyValidator(StrictJSONBodyValidator):
    """`application/json`: a merge patch when it is the body of a PATCH (TMF630)."""

    async def _parse(self, stream: Any, scope: Scope) -> Any:
        self._merge_patch = scope.get("method") == "PATCH"
        return await super()._parse(stream, scope)

    def _validate(self, body: Any) -> dict | None:
        return super()._validate(_without_nulls(body) if self._merge_patch else body)


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    return value


VALIDATORS = {
    **VALIDATOR_MAP,
    "body": MediaTypeDict(
        {
            MERGE_PATCH_TYPE: MergePatchBodyValidator,
            "application/json": PlainJSONBodyValidator,
            "*/*json": StrictJSONBodyValidator,
            **{k: v for k, v in VALIDATOR_MAP["body"].items() if "json" not in k},
        }
    ),
}


class ResourceSchemaCheck:
    """SchemaCheck port: a whole resource against `#/components/schemas/<name>`.

    A resource the (compiled, about 20x faster) jsonschema_rs validator finds valid is
    valid: it checks formats at least as strictly. Anything else, or what it cannot read (a
    Decimal), goes to the jsonschema validator connexion uses for requests, which decides
    and words the error as a request's would be.
    """

    def __init__(self, spec: dict[str, Any], schema_name: str) -> None:
        schema = {"$ref": f"#/components/schemas/{schema_name}", "components": spec["components"]}
        self._validator = Draft4RequestValidator(schema, format_checker=FORMAT_CHECKER)
        self._fast = jsonschema_rs.Draft4Validator(
            schema, validate_formats=True, formats={"uri": is_uri}
        )

    def __call__(self, resource: dict[str, Any]) -> None:
        try:
            if self._fast.is_valid(resource):
                return
        except ValueError:  # a value JSON does not have (Decimal): the slow path decides
            pass
        error = next(iter(self._validator.iter_errors(resource)), None)
        if error is not None:
            raise InvalidRequest(f"{error.message}{_where(error)}")


def _where(error: ValidationError) -> str:
    return format_error_with_path(exception=error)


class BodyLimitMiddleware:
    """413 for bodies over `max_bytes`, whether announced by Content-Length or streamed."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        length = headers.get(b"content-length", b"")
        if length.isdigit() and int(length) > self.max_bytes:
            raise ProblemException(status=413, detail=self._message())
        if b"content-length" not in headers and b"transfer-encoding" in headers:
            scope, receive = await self._with_length(scope, receive)
        received = 0

        async def limited_receive() -> Any:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                raise ProblemException(status=413, detail=self._message())
            return message

        await self.app(scope, limited_receive, send)

    async def _with_length(self, scope: Scope, receive: Receive) -> tuple[Scope, Receive]:
        """A chunked body, read whole (up to the limit) and passed on with its length:
        Connexion takes a request without Content-Length for one without a body."""
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.max_bytes:
                raise ProblemException(status=413, detail=self._message())
        headers = [(k, v) for k, v in scope["headers"] if k != b"transfer-encoding"]
        headers.append((b"content-length", str(len(body)).encode()))
        replayed = False

        async def replay() -> Any:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        return {**scope, "headers": headers}, replay

    def _message(self) -> str:
        return f"request body is larger than {self.max_bytes} bytes"
