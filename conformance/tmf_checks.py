"""TMF630 rules that no OpenAPI document can state, as schemathesis checks.

Importing this module registers them; suite.CHECKS enables them by name.
"""

from __future__ import annotations

import schemathesis
from schemathesis import Case, CheckContext, Response


def _json_object(response: Response) -> dict | None:
    try:
        body = response.json()
    except ValueError:  # not JSON, or not UTF-8
        return None  # content_type_conformance and response_schema_conformance say so
    return body if isinstance(body, dict) else None


@schemathesis.check
def tmf_error_status(ctx: CheckContext, response: Response, case: Case) -> bool | None:
    """An error body's `status` is the HTTP status of its response, as text."""
    body = _json_object(response) if response.status_code >= 400 else None
    if body is not None and "status" in body and body["status"] != str(response.status_code):
        raise AssertionError(
            f"error body has status {body['status']!r}, the response {response.status_code}"
        )
    return None


@schemathesis.check
def tmf_location_is_href(ctx: CheckContext, response: Response, case: Case) -> bool | None:
    """A 201 names the created resource twice: `Location` header and `href`; both must agree."""
    if response.status_code != 201:
        return None
    body = _json_object(response)
    location = response.headers.get("location")
    if body is not None and "href" in body and location and location[0] != body["href"]:
        raise AssertionError(f"Location {location[0]!r} is not the href {body['href']!r}")
    return None
