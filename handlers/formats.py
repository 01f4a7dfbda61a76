"""The JSON Schema formats of our specs, checked on requests as strictly as clients check them.

jsonschema checks `uri` only when the rfc3987 package is installed; without it every string
passes, and the server stored and echoed an `@schemaLocation` (e.g. "") that a client
validating our responses against the TMF schema rejects.
"""

from __future__ import annotations

import copy
import re

from jsonschema import Draft4Validator

# RFC 3986 `URI` (absolute, fragment allowed): scheme ":" hier-part ["?" query] ["#" fragment].
_ALLOWED = r"A-Za-z0-9\-._~!$&'()*+,;="  # unreserved and sub-delims
_ENCODED = r"%[0-9A-Fa-f]{2}"
_PCHAR = rf"(?:[{_ALLOWED}:@]|{_ENCODED})"
_HOST = rf"(?:\[[0-9A-Fa-f:.vV{_ALLOWED}]+\]|(?:[{_ALLOWED}]|{_ENCODED})*)"
_AUTHORITY = rf"(?:(?:[{_ALLOWED}:]|{_ENCODED})*@)?{_HOST}(?::[0-9]*)?"
_HIER_PART = rf"(?://{_AUTHORITY}(?:/{_PCHAR}*)*|/?(?:{_PCHAR}+(?:/{_PCHAR}*)*)?)"
_URI = re.compile(
    rf"[A-Za-z][A-Za-z0-9+.\-]*:{_HIER_PART}(?:\?(?:{_PCHAR}|[/?])*)?(?:#(?:{_PCHAR}|[/?])*)?"
)


def is_uri(value: object) -> bool:
    return not isinstance(value, str) or _URI.fullmatch(value) is not None


FORMAT_CHECKER = copy.deepcopy(Draft4Validator.FORMAT_CHECKER)
FORMAT_CHECKER.checks("uri")(is_uri)
