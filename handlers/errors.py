"""The one error path: every failure becomes a TMF error body."""

from __future__ import annotations

import logging
from typing import Any

from connexion.exceptions import ProblemException
from connexion.lifecycle import ConnexionRequest, ConnexionResponse
from starlette.exceptions import HTTPException

from domain.errors import Conflict, DomainError, Forbidden, NotFound, Unprocessable
from handlers.wire import dumps

log = logging.getLogger("bss.http")

BY_STATUS = {
    400: ("ERR_VALIDATION", "Invalid request"),
    401: ("ERR_UNAUTHORIZED", "Authentication required"),
    403: ("ERR_FORBIDDEN", "Not allowed"),
    404: ("ERR_NOT_FOUND", "Resource not found"),
    405: ("ERR_METHOD_NOT_ALLOWED", "Method not allowed"),
    406: ("ERR_NOT_ACCEPTABLE", "Response media type not available"),
    409: ("ERR_CONFLICT", "Conflict with the current state"),
    413: ("ERR_PAYLOAD_TOO_LARGE", "Request body too large"),
    415: ("ERR_UNSUPPORTED_MEDIA_TYPE", "Unsupported media type"),
    422: ("ERR_UNPROCESSABLE", "Request cannot be processed"),
    429: ("ERR_TOO_MANY_REQUESTS", "Too many requests"),
    500: ("ERR_INTERNAL", "Internal error"),
    503: ("ERR_UNAVAILABLE", "Service unavailable"),
}


def status_of(error: DomainError) -> int:
    if isinstance(error, NotFound):
        return 404
    if isinstance(error, Forbidden):
        return 403
    if isinstance(error, Conflict):
        return 409
    if isinstance(error, Unprocessable):
        return 422
    return 400


def error_body(status: int, message: str, code: str | None = None, reason: str | None = None):
    default_code, default_reason = BY_STATUS.get(status, ("ERR_HTTP", "Request failed"))
    return {
        "code": code or default_code,
        "reason": reason or default_reason,
        "message": message,
        "status": str(status),
        "@type": "Error",
    }


def domain_error_body(error: DomainError) -> tuple[dict[str, Any], int]:
    status = status_of(error)
    return error_body(status, error.message, error.code, error.reason), status


def _response(status: int, body: dict[str, Any], headers: Any = None) -> ConnexionResponse:
    return ConnexionResponse(
        status_code=status,
        mimetype="application/json",
        content_type="application/json;charset=utf-8",
        body=dumps(body).encode(),
        headers=dict(headers or {}),
    )


def problem_handler(_request: ConnexionRequest, error: ProblemException) -> ConnexionResponse:
    message = str(error.detail or error.title or "")
    return _response(error.status, error_body(error.status, message), error.headers)


def http_handler(_request: ConnexionRequest, error: HTTPException) -> ConnexionResponse:
    status = error.status_code
    return _response(status, error_body(status, str(error.detail)), error.headers)


def domain_handler(_request: ConnexionRequest, error: DomainError) -> ConnexionResponse:
    body, status = domain_error_body(error)
    return _response(status, body)


def internal_handler(_request: ConnexionRequest, error: Exception) -> ConnexionResponse:
    log.error("unhandled error", exc_info=error)
    return _response(500, error_body(500, "The server failed to handle the request"))
