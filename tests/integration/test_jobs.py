"""Catalog jobs against the real database: imports written by MongoResources (given
lastUpdate and version kept, one transaction per entity with its events), export files,
where import files are read from, and the JobRunner's leases."""

from __future__ import annotations

import base64
import http.server
import json
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import pytest

from adapters.jobs import LEASES, ImportSources, JobRunner, LeaseLost, MongoExportFiles
from adapters.mongo import OUTBOX, VERSION, MongoResources
from adapters.partners import PARTNER
from domain.catalog import CATALOG_TYPES
from domain.catalog_jobs import EXPORT_JOB, IMPORT_JOB, JOB_TYPES, CatalogJobs
from domain.catalog_transfer import TransferFailed
from domain.patch import MERGE, Patch
from domain.resource import ResourceType
from domain.security import PLATFORM
from domain.service import CREATED, UNCHANGED, UPDATED, ResourceService

BASE = "http://bss.test"
START = "2026-01-01T00:00:00.000Z"
EARLIER = "2026-02-01T08:30:00.000Z"


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class UuidIds:
    def new_id(self) -> str:
        return str(uuid.uuid4())


def href_for(rtype: ResourceType, resource_id: str) -> str:
    return f"{BASE}/tmf-api/{rtype.api}/v4/{rtype.path}/{resource_id}"


def file_url(job_id: str) -> str:
    return f"{href_for(EXPORT_JOB, job_id)}/file"


class Server:
    """Catalog and job services on one database, wired as app.build_services does."""

    def __init__(self, db: Any, source: Any = None) -> None:
        self.db = db
        repository = MongoResources(db)
        self.services: dict[str, ResourceService] = {}
        for rtype in (*CATALOG_TYPES, *JOB_TYPES):
            repository.ensure_indexes(rtype)
            self.services[rtype.path] = ResourceService(
                rtype, repository, SystemClock(), UuidIds(), href_for
            )
        self.files = MongoExportFiles(db)
        self.sources = ImportSources(self.files, href_for(EXPORT_JOB, ""), 64 * 1024, timeout=5)
        jobs = CatalogJobs(
            self.services, self.files, source or self.sources, SystemClock(), file_url
        )
        self.jobs = jobs
        self.runner = JobRunner(db, jobs, lease_seconds=30)
        self.runner.ensure_indexes()

    def job(self, rtype: ResourceType, **body: Any) -> str:
        return self.services[rtype.path].create(body)["id"]

    def get(self, rtype: ResourceType, job_id: str) -> dict[str, Any]:
        return self.services[rtype.path].get(job_id)

    def events(self, resource: str) -> list[str]:
        found = self.db[OUTBOX].find({"resource": resource}).sort("seq", 1)
        return [entry["eventType"] for entry in found]


def spec(id_: str, **attributes: Any) -> dict[str, Any]:
    return {
        "id": id_,
        "@type": "ProductSpecification",
        "name": f"Specification {id_}",
        "lifecycleStatus": "Launched",
        "version": "2.3",
        "lastUpdate": EARLIER,
        "validFor": {"startDateTime": START},
        **attributes,
    }


def price(id_: str, **attributes: Any) -> dict[str, Any]:
    return spec(
        id_,
        **{
            "@type": "ProductOfferingPrice",
            "priceType": "oneTime",
            "isBundle": False,
            "price": {"unit": "EUR", "value": Decimal("8.13")},
            "tax": [
                {
                    "taxCategory": "VAT",
                    "taxRate": Decimal("23"),
                    "taxAmount": {"unit": "EUR", "value": Decimal("1.87")},
                }
            ],
            **attributes,
        },
    )


def export_file(**entities: list[dict[str, Any]]) -> dict[str, Any]:
    return {"exportedAt": EARLIER, "entities": entities}


@pytest.fixture
def server(db: Any) -> Server:
    return Server(db)


class FileServer:
    """A local HTTP server answering GET /<name> with what `serve` was given."""

    def __init__(self) -> None:
        self.bodies: dict[str, tuple[int, bytes]] = {}
        files = self.bodies

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status, body = files.get(self.path, (404, b"not here"))
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def serve(self, name: str, body: bytes, status: int = 200) -> str:
        self.bodies[f"/{name}"] = (status, body)
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{name}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def file_server() -> Iterator[FileServer]:
    files = FileServer()
    yield files
    files.close()


class TestImportWrites:
    def test_a_new_entity_is_stored_as_given_with_its_create_event(self, server, db):
        assert server.services["productOfferingPrice"].put(price("pop-1")) == CREATED

        stored = db["productOfferingPrice"].find_one({"id": "pop-1"}, {"_id": 0})
        assert stored == {**price("pop-1"), VERSION: 1, PARTNER: PLATFORM}  # an operator's
        assert server.events("productOfferingPrice/pop-1") == ["ProductOfferingPriceCreateEvent"]

    def test_putting_it_again_writes_nothing(self, server, db):
        prices = server.services["productOfferingPrice"]
        prices.put(price("pop-1"))

        assert prices.put(price("pop-1")) == UNCHANGED

        assert db["productOfferingPrice"].find_one({"id": "pop-1"})[VERSION] == 1
        assert db[OUTBOX].count_documents({}) == 1

    def test_a_changed_entity_is_replaced_with_its_event(self, server, db):
        specs = server.services["productSpecification"]
        specs.put(spec("ps-1"))
        changed = spec("ps-1", description="5G", version="2.4", lastUpdate=START)

        assert specs.put(changed) == UPDATED

        stored = db["productSpecification"].find_one({"id": "ps-1"}, {"_id": 0})
        assert stored == {**changed, VERSION: 2, PARTNER: PLATFORM}
        assert server.events("productSpecification/ps-1") == [
            "ProductSpecificationCreateEvent",
            "ProductSpecificationAttributeValueChangeEvent",
        ]

    def test_a_refused_entity_leaves_nothing_behind(self, server, db):
        wrong_tax = price("pop-1")
        wrong_tax["tax"][0]["taxAmount"]["value"] = Decimal("1.00")
        file = export_file(productOfferingPrice=[wrong_tax, price("pop-2")])
        server.files.put("exp-1", file)
        job_id = server.job(IMPORT_JOB, url=file_url("exp-1"))

        server.runner.run_once()

        job = server.get(IMPORT_JOB, job_id)
        assert job["status"] == "Failed"
        assert job["errorLog"] == (
            "productOfferingPrice[0] (id 'pop-1'): tax[0].taxAmount: 1.00 should be 1.87 (23 %)"
        )
        assert db["productOfferingPrice"].find_one({"id": "pop-1"}) is None
        assert server.events("productOfferingPrice/pop-1") == []
        assert server.events("productOfferingPrice/pop-2") == ["ProductOfferingPriceCreateEvent"]


class TestExportFiles:
    def test_a_file_keeps_exact_numbers(self, server):
        file = export_file(productOfferingPrice=[price("pop-1")])

        server.files.put("exp-1", file)

        assert server.files.get("exp-1") == file
        assert server.files.get("exp-1")["entities"]["productOfferingPrice"][0]["price"] == {
            "unit": "EUR",
            "value": Decimal("8.13"),
        }

    def test_a_removed_file_is_gone(self, server):
        server.files.put("exp-1", export_file())

        server.files.remove("exp-1")

        assert server.files.get("exp-1") is None

    def test_a_file_larger_than_a_document_can_be_is_refused(self, server):
        huge = export_file(productSpecification=[spec("ps-1", description="x" * 17_000_000)])

        with pytest.raises(TransferFailed, match="larger than a stored file can be"):
            server.files.put("exp-1", huge)


class TestImportSources:
    def test_an_export_url_of_this_server_is_read_from_the_database(self, server):
        server.files.put("exp-1", export_file())

        assert server.sources.read(file_url("exp-1")) == export_file()

    def test_an_export_url_of_this_server_without_a_file_cannot_be_read(self, server):
        with pytest.raises(TransferFailed, match="no export file of job 'exp-9'"):
            server.sources.read(file_url("exp-9"))

    def test_a_data_url_carries_the_file_itself(self, server):
        text = json.dumps(export_file(productOfferingPrice=[{"id": "p", "percentage": 12.5}]))
        encoded = base64.b64encode(text.encode()).decode()

        for url in (f"data:application/json;base64,{encoded}", f"data:,{quote(text)}"):
            document = server.sources.read(url)
            assert document["entities"]["productOfferingPrice"][0]["percentage"] == Decimal("12.5")

    @pytest.mark.parametrize(
        ("url", "reason"),
        [
            ("data:text/csv,a;b", "a data: URL of application/json is expected"),
            ("data:application/json;base64,@@@", "not valid base64"),
            ("data:application/json,%7B", "the file is not JSON"),
            ("data:application/json,%FF", "the file is not UTF-8"),
            ("data:application/json,NaN", "NaN is not valid JSON"),
            ("ftp://files.test/catalog.json", "scheme 'ftp' is not supported"),
            ("file:///etc/passwd", "scheme 'file' is not supported"),
        ],
    )
    def test_what_cannot_be_read_says_why(self, server, url, reason):
        with pytest.raises(TransferFailed, match=reason):
            server.sources.read(url)

    def test_an_http_url_is_downloaded(self, server, file_server):
        url = file_server.serve("catalog.json", json.dumps(export_file()).encode())

        assert server.sources.read(url) == export_file()

    def test_an_http_error_says_which(self, server, file_server):
        url = file_server.serve("gone.json", b"{}", status=410)

        with pytest.raises(TransferFailed, match=r"GET .*/gone.json: HTTP 410"):
            server.sources.read(url)

    def test_a_file_over_the_size_limit_is_not_read_whole(self, server, file_server):
        url = file_server.serve("big.json", b" " * (64 * 1024 + 1) + b"{}")

        with pytest.raises(TransferFailed, match="larger than 65536 bytes"):
            server.sources.read(url)

    def test_an_unreachable_server_is_a_reason(self, server, file_server):
        url = file_server.serve("x.json", b"{}")
        file_server.close()

        with pytest.raises(TransferFailed, match="ConnectError"):
            server.sources.read(url)


def claim_for_another_runner(db: Any, key: str, until: datetime) -> None:
    db[LEASES].insert_one({"_id": key, "leaseUntil": until, "owner": "someone else"})


class TestJobRunner:
    def test_runs_a_waiting_export_and_releases_its_lease(self, server, db):
        server.services["productSpecification"].put(spec("ps-1"))
        job_id = server.job(EXPORT_JOB)

        assert server.runner.run_once() == 1

        job = server.get(EXPORT_JOB, job_id)
        assert (job["status"], job["url"]) == ("Succeeded", file_url(job_id))
        assert server.files.get(job_id)["entities"]["productSpecification"] == [spec("ps-1")]
        assert db[LEASES].count_documents({}) == 0
        assert server.events(f"exportJob/{job_id}") == [
            "ExportJobCreateEvent",
            "ExportJobStateChangeEvent",
            "ExportJobStateChangeEvent",
        ]

    def test_runs_jobs_oldest_first_so_an_import_can_read_an_earlier_export(self, server):
        server.services["productSpecification"].put(spec("ps-1"))
        export_id = server.job(EXPORT_JOB)
        import_id = server.job(IMPORT_JOB, url=file_url(export_id))

        assert server.runner.run_once() == 2

        assert server.get(IMPORT_JOB, import_id)["status"] == "Succeeded"

    def test_a_job_another_runner_holds_is_left_alone(self, server, db):
        job_id = server.job(EXPORT_JOB)
        later = datetime.now(UTC) + timedelta(minutes=5)
        claim_for_another_runner(db, f"exportJob/{job_id}", later)

        assert server.runner.run_once() == 0

        assert server.get(EXPORT_JOB, job_id)["status"] == "Not Started"

    def test_a_running_job_whose_lease_expired_is_run_again(self, server, db):
        job_id = server.job(EXPORT_JOB)
        server.services[EXPORT_JOB.path].patch(job_id, Patch(MERGE, {"status": "Running"}))
        earlier = datetime.now(UTC) - timedelta(seconds=1)
        claim_for_another_runner(db, f"exportJob/{job_id}", earlier)

        assert server.runner.run_once() == 1

        assert server.get(EXPORT_JOB, job_id)["status"] == "Succeeded"

    def test_runners_racing_run_each_job_once(self, db):
        servers = [Server(db) for _ in range(3)]
        job_ids = [servers[0].job(EXPORT_JOB) for _ in range(6)]
        threads = [threading.Thread(target=s.runner.run_once) for s in servers]

        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)

        state_changes = Counter(
            entry["resource"]
            for entry in db[OUTBOX].find({"eventType": "ExportJobStateChangeEvent"})
        )
        assert state_changes == {f"exportJob/{job_id}": 2 for job_id in job_ids}

    def test_a_job_that_breaks_ends_failed(self, db):
        class BrokenSource:
            def read(self, url: str) -> Any:
                raise RuntimeError("a bug")

        server = Server(db, source=BrokenSource())
        job_id = server.job(IMPORT_JOB, url="http://files.test/catalog.json")

        assert server.runner.run_once() == 1

        job = server.get(IMPORT_JOB, job_id)
        assert (job["status"], job["errorLog"]) == (
            "Failed",
            "internal error: the job stopped before its end",
        )

    def test_a_lease_taken_over_cannot_be_renewed(self, server, db):
        job_id = server.job(EXPORT_JOB)
        key = f"exportJob/{job_id}"
        claim_for_another_runner(db, key, datetime.now(UTC) + timedelta(minutes=5))

        with pytest.raises(LeaseLost):
            server.runner.renew(key)

    def test_a_started_runner_picks_up_a_new_job(self, server):
        server.runner.start(idle_sleep=0.05)
        try:
            job_id = server.job(EXPORT_JOB)
            for _ in range(200):
                if server.get(EXPORT_JOB, job_id)["status"] == "Succeeded":
                    break
                threading.Event().wait(0.05)
        finally:
            server.runner.stop()

        assert server.get(EXPORT_JOB, job_id)["status"] == "Succeeded"
