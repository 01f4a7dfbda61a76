"""One schemathesis run of a TMF API against our OpenAPI document of it.

`python -m conformance` and the pytest suite next to it share everything here: the checks, the
seeded resources, the phases (examples, coverage, fuzzing, stateful) and the report.
"""

from __future__ import annotations

import contextlib
import copy
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import schemathesis
from schemathesis.engine import events, from_schema

from adapters.settings import load_settings
from conformance import tmf_checks  # noqa: F401 - registers the tmf_ checks
from conformance.report import Finding, Report, record
from handlers.specs import base_path, load_spec

# What the TMF rules demand of every response and of every malformed request; the tmf_ checks
# are ours (tmf_checks.py). Not checked: positive_data_acceptance, because TMF answers a
# schema-valid request that breaks a business rule (an illegal status transition, an
# undeclared attribute without a subtype @type, a patch of `id`) with 400; and the auth
# checks, because the spec declares no security.
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "missing_required_header",
    "unsupported_method",
    "allow_header_conformance",
    "use_after_free",
    "ensure_resource_availability",
    "tmf_error_status",
    "tmf_location_is_href",
)
ITEM = "/{id}"


Sample = Callable[[int], dict[str, Any]]  # a valid create body, numbered


@dataclass(frozen=True)
class ApiUnderTest:
    spec: str  # file in openapi/
    samples: Mapping[str, Sample]  # per collection path: how to create one of its items


def _customer(number: int) -> dict[str, Any]:
    return {
        "name": f"Conformance Customer {number}",
        "engagedParty": {
            "id": f"conformance-party-{number}",
            "name": f"Conformance Party {number}",
            "@referredType": "Individual",
        },
        "@type": "Customer",
    }


def _listener(number: int) -> dict[str, Any]:
    # .invalid never resolves (RFC 2606): a server that delivers events reaches no one
    return {"callback": f"http://listener-{number}.invalid/events", "query": "eventType=x"}


def _named(kind: str, **extra: Any) -> Sample:
    def sample(number: int) -> dict[str, Any]:
        return {"name": f"Conformance {kind} {number}", **extra}

    return sample


# An empty export document, uploaded inline: an import job that has nothing to import.
EMPTY_EXPORT = "data:application/json,%7B%22entities%22%3A%7B%7D%7D"

APIS = {
    "customer": ApiUnderTest("customer.yaml", {"/customer": _customer, "/hub": _listener}),
    "catalog": ApiUnderTest(
        "catalog.yaml",
        {
            "/catalog": _named("catalog"),
            "/category": _named("category"),
            "/productSpecification": _named("specification"),
            "/productOfferingPrice": _named("price", priceType="oneTime"),
            "/productOffering": _named("offering"),
            "/importJob": lambda number: {"url": EMPTY_EXPORT},
            "/exportJob": lambda number: {"path": "productOffering"},
            "/hub": _listener,
        },
    ),
}


class HttpClient(Protocol):
    """requests.Session or starlette's TestClient: all the seeding needs."""

    def post(self, url: str, *, json: Any) -> Any: ...


def prepare(client: HttpClient, api_url: str, api: ApiUnderTest) -> dict[str, Any]:
    """Our spec, plus what steers the run towards resources that exist on the server.

    Random bodies and ids rarely create or find anything, so for each collection with a sample:
    - its POST gets the sample as body example;
    - one item is created through the API itself (so this works on any server) for each
      operation on an item, and becomes that operation's `id` example: a DELETE never takes
      away the item a GET was meant to find;
    - the 201 of its POST links to the operations on the created item (`$response.body#/id`),
      which the stateful phase follows.
    """
    spec = load_spec(api.spec)
    for collection, sample in api.samples.items():
        create = spec["paths"][collection]["post"]
        for media_type in create["requestBody"]["content"].values():
            media_type["example"] = sample(0)
        targets = list(_operations(spec["paths"].get(collection + ITEM, {})))
        for number, operation in enumerate(targets, start=1):
            resource_id = _create(client, f"{api_url}{collection}", sample(number))
            operation["parameters"] = [
                _with_example(spec, parameter, resource_id) for parameter in operation["parameters"]
            ]
        create["responses"]["201"]["links"] = {
            target["operationId"]: {
                "operationId": target["operationId"],
                "parameters": {"id": "$response.body#/id"},
            }
            for target in targets
        }
    return spec


def _create(client: HttpClient, url: str, body: dict[str, Any]) -> str:
    response = client.post(url, json=body)
    if response.status_code != 201:
        status, text = response.status_code, response.text
        raise RuntimeError(f"cannot seed: POST {url} answered {status}: {text}")
    return str(response.json()["id"])


def _operations(path_item: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for method in ("get", "patch", "put", "delete"):
        if method in path_item:
            yield path_item[method]


def _with_example(spec: dict[str, Any], parameter: dict[str, Any], value: str) -> dict[str, Any]:
    ref = parameter.get("$ref", "")
    resolved = spec["components"]["parameters"][ref.rsplit("/", 1)[1]] if ref else parameter
    if resolved["in"] != "path" or resolved["name"] != "id":
        return parameter
    return {**copy.deepcopy(resolved), "example": value}


def configure(
    *, max_examples: int, seed: int | None = None, base_url: str | None = None
) -> schemathesis.Config:
    """Without a seed the inputs are derived from the spec alone: the same run every time.

    A seed draws other inputs (reproducible with the same seed): a way to explore further.
    """
    return schemathesis.Config.from_dict(
        {
            **({"seed": seed} if seed is not None else {}),
            "suppress-health-check": ["too_slow", "data_too_large", "filter_too_much"],
            "workers": 1,  # one request at a time, in a reproducible order
            "generation": {
                "max-examples": max_examples,
                "deterministic": seed is None,
                "database": "none",  # nothing written to .hypothesis/
            },
            "phases": {"examples": {"fill-missing": True}},
            "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
            **({"base-url": base_url} if base_url else {}),
        }
    )


def run(spec: dict[str, Any], config: schemathesis.Config, app: Any = None) -> Report:
    """All phases against `app` in-process (ASGI), or against the config's base URL."""
    schema = schemathesis.openapi.from_dict(spec, config=config)
    if app is not None:
        schema.app = app
    report = Report()
    started = time.monotonic()
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            record(report, event.recorder)
        elif isinstance(event, events.NonFatalError):
            report.errors.append(f"{event.label}: {event.info.format()}")
        elif isinstance(event, events.FatalError):
            report.errors.append(f"schemathesis failed: {event.exception!r}")
        elif isinstance(event, events.EngineFinished):
            for failure in event.failures:  # from checks that judge the whole run
                finding = Finding(failure.operation, "", failure.title, failure.message, "")
                report.findings.append(finding)
    report.seconds = time.monotonic() - started
    return report


@contextlib.contextmanager
def our_app(mongo_uri: str) -> Iterator[Any]:
    """Our app on a database of its own, dropped afterwards."""
    from app import create_app, stop_background  # the whole server, needed in-process only

    database = f"conformance_{uuid.uuid4().hex[:12]}"
    settings = load_settings(
        {
            "mongodb_uri": mongo_uri,
            "mongodb_database": database,
            "dispatcher": False,  # no event deliveries to the callbacks the run registers
            "jobs": False,
            "demo_data": False,
            # schemathesis validates every response and says what is wrong; the server's own
            # validation would turn the same finding into an anonymous 500
            "validate_responses": False,
            "log_level": "WARNING",
        },
        environ={},
    )
    app = create_app(settings)
    db = app.app.extensions["bss"].extra["db"]
    try:
        yield app
    finally:
        stop_background(app)
        db.client.drop_database(database)
        db.client.close()


def api_url(server_url: str, api: ApiUnderTest) -> str:
    """The API's base URL on a server: our spec's base path, unless the URL already ends with it."""
    path = base_path(load_spec(api.spec))
    url = server_url.rstrip("/")
    return url if url.endswith(path) else url + path
