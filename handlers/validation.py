"""Request checks beyond what Connexion does by default.

- JSON bodies: NaN/Infinity refused; merge patches validated with their nulls (deletions)
  taken out, since `null` means "remove" in RFC 7386.
- The resulting resource of a create or patch is checked against the resource schema.
- Bodies larger than the configured limit are refused with 413 before they are read whole.
"""

from __future__ import annotations

import json
from typing import Any

from connexion.datastructures import MediaTypeDict
from connexion.exceptions import BadRequestProblem, ProblemException
from connexion.json_schema import Draft4RequestValidator, format_error_with_path
from connexion.validators import VALIDATOR_MAP, JSONRequestBodyValidator
from jsonschema import Draft4Validator
from jsonschema.exceptions import ValidationError
from starlette.types import ASGIApp, Receive, Scope, Send

from domain.errors import InvalidRequest

MERGE_PATCH_TYPE = "application/merge-patch+json"


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


class StrictJSONBodyValidator(JSONRequestBodyValidator):
    async def _parse(self, stream: Any, scope: Scope) -> Any:
        text = b"".join([chunk async for chunk in stream]).decode(self._encoding)
        if not text:
            return None
        try:
            return json.loads(text, parse_constant=_refuse_constant)
        except ValueError as error:
            raise BadRequestProblem(detail=f"malformed JSON: {error}") from None


class MergePatchBodyValidator(StrictJSONBodyValidator):
    def _validate(self, body: Any) -> dict | None:
        return super()._validate(_without_nulls(body))


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    return value


VALIDATORS = {
    **VALIDATOR_MAP,
    "body": MediaTypeDict(
        {
            MERGE_PATCH_TYPE: MergePatchBodyValidator,
            "*/*json": StrictJSONBodyValidator,
            **{k: v for k, v in VALIDATOR_MAP["body"].items() if "json" not in k},
        }
    ),
}


class ResourceSchemaCheck:
    """SchemaCheck port: a whole resource against `#/components/schemas/<name>`."""

    def __init__(self, spec: dict[str, Any], schema_name: str) -> None:
        schema = {"$ref": f"#/components/schemas/{schema_name}", "components": spec["components"]}
        self._validator = Draft4RequestValidator(
            schema, format_checker=Draft4Validator.FORMAT_CHECKER
        )

    def __call__(self, resource: dict[str, Any]) -> None:
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
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                raise ProblemException(status=413, detail=self._message())
        received = 0

        async def limited_receive() -> Any:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                raise ProblemException(status=413, detail=self._message())
            return message

        await self.app(scope, limited_receive, send)

    def _message(self) -> str:
        return f"request body is larger than {self.max_bytes} bytes"
