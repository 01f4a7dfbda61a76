"""TMF620 importJob and exportJob over HTTP: the starter catalog exported from one server and
imported into an empty one yields identical entities; importing again changes nothing; a bad
entry fails the job, names the entry and leaves that entity out.

Jobs are run by calling the app's JobRunner.run_once() (the test apps start no runner thread).
"""

from __future__ import annotations

import base64
import functools
import json
import threading
from collections.abc import Iterator
from decimal import Decimal
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import simplejson

from adapters import seeding
from adapters.demo_catalog import starter_catalog
from adapters.mongo import OUTBOX
from tests.e2e.checks import INSTANT, assert_tmf_error
from tests.e2e.conftest import database_of, fresh_database_name, running_app

API = "/tmf-api/productCatalogManagement/v4"
PUBLIC_BASE = "http://bss.test"
COLLECTIONS = ("productSpecification", "productOfferingPrice", "category", "productOffering")
CATALOG_COLLECTIONS = (*COLLECTIONS, "catalog")
JOB_EVENTS = {"ImportJobCreateEvent", "ImportJobStateChangeEvent"}


def exact(response: Any) -> Any:
    """The JSON body with exact numbers, as the server wrote them."""
    return json.loads(response.content, parse_float=Decimal)


def run_jobs(application: Any) -> int:
    return application.app.extensions["bss"].extra["job_runner"].run_once()


def local(url: str) -> str:
    return url.removeprefix(PUBLIC_BASE)


def data_url(file: bytes) -> str:
    return f"data:application/json;base64,{base64.b64encode(file).decode()}"


def catalog_of(client: Any) -> dict[str, list[dict[str, Any]]]:
    """Every entity of every catalog collection, as the API shows it."""
    return {
        name: exact(client.get(f"{API}/{name}", params={"limit": 1000}))
        for name in CATALOG_COLLECTIONS
    }


def catalog_events(application: Any) -> int:
    return database_of(application)[OUTBOX].count_documents(
        {"eventType": {"$nin": sorted(JOB_EVENTS)}}
    )


def import_file(application: Any, url: str) -> dict[str, Any]:
    """POSTs an import job of `url`, runs it and returns it as it ended."""
    client = application.test_client()
    created = client.post(f"{API}/importJob", json={"url": url})
    assert created.status_code == 201, created.text
    assert created.json()["status"] == "Not Started"
    assert run_jobs(application) >= 1
    return client.get(f"{API}/importJob/{created.json()['id']}").json()


@pytest.fixture(scope="module")
def starter(mongo_uri: str) -> Iterator[Any]:
    """An app holding the starter catalog, shared by the tests of this module: they add
    jobs to it, never change its catalog."""
    with running_app(mongo_uri, fresh_database_name()) as application:
        seeding.load(application.app.extensions["bss"].resources, starter_catalog())
        yield application


@pytest.fixture
def client(starter: Any) -> Any:
    return starter.test_client()


@pytest.fixture(scope="module")
def exported(starter: Any) -> bytes:
    """The export file of the whole starter catalog, as served."""
    client = starter.test_client()
    created = client.post(f"{API}/exportJob", json={})
    assert created.status_code == 201
    assert run_jobs(starter) == 1
    job = client.get(f"{API}/exportJob/{created.json()['id']}").json()
    file = client.get(local(job["url"]))
    assert file.status_code == 200
    return file.content


@pytest.fixture
def empty_app(mongo_uri: str) -> Iterator[Any]:
    with running_app(mongo_uri, fresh_database_name()) as application:
        yield application


@pytest.fixture
def file_server(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A directory served over HTTP: (directory, its base URL)."""

    class QuietHandler(SimpleHTTPRequestHandler):
        def log_message(self, *_: Any) -> None:
            pass

    handler = functools.partial(QuietHandler, directory=str(tmp_path))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield tmp_path, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join()


class TestExportJob:
    def test_an_export_is_accepted_at_once_and_then_succeeds_with_its_file_url(
        self, starter, client
    ):
        created = client.post(f"{API}/exportJob", json={"status": "Succeeded"})

        assert created.status_code == 201
        job = created.json()
        assert job["status"] == "Not Started"
        assert INSTANT.match(job["creationDate"])
        assert created.headers["Location"] == job["href"]
        assert_tmf_error(client.get(f"{API}/exportJob/{job['id']}/file"), 409)

        run_jobs(starter)

        done = client.get(job["href"].removeprefix(PUBLIC_BASE)).json()
        assert done["status"] == "Succeeded"
        assert INSTANT.match(done["completionDate"])
        assert done["url"] == f"{job['href']}/file"
        listed = client.get(f"{API}/exportJob", params={"status": "Succeeded"}).json()
        assert done in listed
        assert all(j["status"] == "Succeeded" for j in listed)

    def test_the_file_holds_every_entity_as_the_api_shows_it_without_href(self, client, exported):
        file = json.loads(exported, parse_float=Decimal)

        shown = catalog_of(client)
        without_href = {
            name: [{k: v for k, v in e.items() if k != "href"} for e in entities]
            for name, entities in shown.items()
        }
        assert INSTANT.match(file["exportedAt"])
        assert file["entities"] == without_href
        assert len(file["entities"]["productOfferingPrice"]) == 26

    def test_a_query_exports_only_the_matching_entities(self, starter, client):
        created = client.post(f"{API}/exportJob", json={"query": "priceType=usage"})
        run_jobs(starter)

        file = client.get(f"{API}/exportJob/{created.json()['id']}/file").json()

        assert list(file["entities"]) == ["productOfferingPrice"]
        assert {p["priceType"] for p in file["entities"]["productOfferingPrice"]} == {"usage"}

    def test_an_export_that_cannot_be_done_is_a_400(self, client):
        response = client.post(f"{API}/exportJob", json={"path": "customer"})

        assert "path: 'customer'" in assert_tmf_error(response, 400)["message"]

    def test_the_file_of_an_unknown_job_is_a_404(self, client):
        assert_tmf_error(client.get(f"{API}/exportJob/nothing/file"), 404)

    def test_a_deleted_export_job_has_no_file(self, starter, client):
        job_id = client.post(f"{API}/exportJob", json={}).json()["id"]
        run_jobs(starter)

        assert client.delete(f"{API}/exportJob/{job_id}").status_code == 204

        assert_tmf_error(client.get(f"{API}/exportJob/{job_id}"), 404)
        assert_tmf_error(client.get(f"{API}/exportJob/{job_id}/file"), 404)

    def test_jobs_cannot_be_patched(self, client):
        job_id = client.post(f"{API}/exportJob", json={}).json()["id"]

        response = client.patch(f"{API}/exportJob/{job_id}", json={"status": "Failed"})

        assert_tmf_error(response, 405)


class TestImportJob:
    def test_the_starter_catalog_reimported_into_an_empty_server_is_identical(
        self, client, exported, empty_app
    ):
        job = import_file(empty_app, data_url(exported))

        assert job["status"] == "Succeeded", job.get("errorLog")
        assert INSTANT.match(job["completionDate"])
        assert "errorLog" not in job
        assert catalog_of(empty_app.test_client()) == catalog_of(client)

    def test_importing_the_same_file_again_changes_nothing(
        self, client, exported, empty_app, file_server
    ):
        directory, base_url = file_server
        (directory / "catalog.json").write_bytes(exported)
        import_file(empty_app, data_url(exported))
        before, events = catalog_of(empty_app.test_client()), catalog_events(empty_app)

        job = import_file(empty_app, f"{base_url}/catalog.json")

        assert job["status"] == "Succeeded", job.get("errorLog")
        assert catalog_of(empty_app.test_client()) == before
        assert catalog_events(empty_app) == events

    def test_a_file_with_a_bad_entry_fails_naming_it_and_imports_the_rest(
        self, exported, empty_app
    ):
        file = json.loads(exported, parse_float=Decimal)
        offerings = file["entities"]["productOffering"]
        index = next(i for i, o in enumerate(offerings) if o["id"] == "pos-intl-calls-100")
        offerings[index]["validFor"]["endDateTime"] = "2025-01-01T00:00:00.000Z"
        bad_file = simplejson.dumps(file, use_decimal=True).encode()

        job = import_file(empty_app, data_url(bad_file))

        assert job["status"] == "Failed"
        assert job["errorLog"] == (
            f"productOffering[{index}] (id 'pos-intl-calls-100'): validFor: endDateTime must "
            "be after startDateTime"
        )
        client = empty_app.test_client()
        assert_tmf_error(client.get(f"{API}/productOffering/pos-intl-calls-100"), 404)
        imported = catalog_of(client)
        assert len(imported["productOffering"]) == len(offerings) - 1
        assert sum(len(entities) for entities in imported.values()) == 48

    def test_a_file_that_cannot_be_read_fails_with_the_reason(self, starter):
        job = import_file(starter, f"{PUBLIC_BASE}{API}/exportJob/nothing/file")

        assert job["status"] == "Failed"
        assert "no export file of job 'nothing'" in job["errorLog"]

    def test_an_import_url_is_required(self, client):
        assert_tmf_error(client.post(f"{API}/importJob", json={}), 400)
