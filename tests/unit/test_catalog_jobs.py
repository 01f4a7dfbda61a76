"""Catalog export and import (domain/catalog_transfer.py) and the jobs that run them
(domain/catalog_jobs.py), against in-memory fakes."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from domain import catalog_transfer
from domain.catalog import CATALOG_TYPES
from domain.catalog_jobs import EXPORT_JOB, IMPORT_JOB, JOB_TYPES, CatalogJobs
from domain.catalog_transfer import (
    ExportSelection,
    TransferFailed,
    build_export,
    import_document,
)
from domain.errors import Conflict, InvalidRequest, NotFound
from domain.patch import MERGE, Patch
from domain.resource import ResourceType
from domain.service import ResourceService
from tests.unit.fakes import (
    FakeClock,
    FakeExportFiles,
    FakeImportSource,
    FakeRepository,
    SequentialIds,
)

NOW = datetime(2026, 11, 25, 10, 0, 0, tzinfo=UTC)
NOW_TEXT = "2026-11-25T10:00:00.000Z"
EARLIER = "2026-02-01T08:30:00.000Z"
START = "2026-01-01T00:00:00.000Z"
FILE_URL = "http://files.test/catalog.json"


def href_for(rtype: ResourceType, resource_id: str) -> str:
    return f"http://bss.test/tmf-api/{rtype.api}/v4/{rtype.path}/{resource_id}"


class Server:
    """The catalog and job services of one server, on a fake repository."""

    def __init__(self) -> None:
        self.repository = FakeRepository()
        self.clock = FakeClock(NOW)
        self.services = {
            rtype.path: ResourceService(
                rtype, self.repository, self.clock, SequentialIds(f"{rtype.path}-"), href_for
            )
            for rtype in (*CATALOG_TYPES, *JOB_TYPES)
        }
        self.files = FakeExportFiles()
        self.source = FakeImportSource()
        self.jobs = CatalogJobs(
            self.services, self.files, self.source, self.clock, lambda i: f"http://bss.test/f/{i}"
        )

    def seed(self, collection: str, *entities: dict[str, Any]) -> None:
        for entity in entities:
            self.repository.put(collection, entity)

    def stored(self, collection: str, entity_id: str) -> dict[str, Any] | None:
        return self.repository.stored(collection, entity_id)

    def event_types(self) -> list[str]:
        return [event.event_type for event in self.repository.events]


def entity(type_: str, id_: str, state: str = "Launched", **attributes: Any) -> dict[str, Any]:
    return {
        "id": id_,
        "@type": type_,
        "name": f"{type_} {id_}",
        "lifecycleStatus": state,
        "version": "1.3",
        "lastUpdate": EARLIER,
        "validFor": {"startDateTime": START},
        **attributes,
    }


def ref(id_: str) -> dict[str, str]:
    return {"id": id_}


def spec(id_: str, state: str = "Launched", **attributes: Any) -> dict[str, Any]:
    return entity("ProductSpecification", id_, state, **attributes)


def price(id_: str, state: str = "Launched", **attributes: Any) -> dict[str, Any]:
    recurring = {
        "priceType": "recurring",
        "isBundle": False,
        "price": {"unit": "EUR", "value": Decimal("10.00")},
        "recurringChargePeriodType": "month",
        "recurringChargePeriodLength": 1,
    }
    return entity("ProductOfferingPrice", id_, state, **{**recurring, **attributes})


def offering(
    id_: str, spec_id: str, price_ids: list[str], category_id: str, **attributes: Any
) -> dict[str, Any]:
    return entity(
        "ProductOffering",
        id_,
        attributes.pop("state", "Launched"),
        **{
            "isBundle": False,
            "isSellable": True,
            "productSpecification": ref(spec_id),
            "productOfferingPrice": [ref(p) for p in price_ids],
            "category": [ref(category_id)],
            **attributes,
        },
    )


def category(id_: str, **attributes: Any) -> dict[str, Any]:
    return entity("Category", id_, isRoot=not attributes.get("parentId"), **attributes)


def catalog(id_: str, category_ids: list[str]) -> dict[str, Any]:
    return entity("Catalog", id_, category=[ref(c) for c in category_ids])


def small_catalog() -> dict[str, list[dict[str, Any]]]:
    """Export-file entities: a catalog with one category, two offerings, their specs and prices."""
    return {
        "productSpecification": [spec("ps-1"), spec("ps-2")],
        "productOfferingPrice": [price("pop-1"), price("pop-2")],
        "category": [category("cat-1")],
        "productOffering": [
            offering("po-1", "ps-1", ["pop-1"], "cat-1"),
            offering("po-2", "ps-2", ["pop-2"], "cat-1"),
        ],
        "catalog": [catalog("cl-1", ["cat-1"])],
    }


def export_file(entities: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    return {"exportedAt": EARLIER, "entities": copy.deepcopy(entities)}


def seeded(entities: dict[str, list[dict[str, Any]]]) -> Server:
    server = Server()
    for collection, items in entities.items():
        server.seed(collection, *items)
    return server


def catalog_services(server: Server) -> dict[str, ResourceService]:
    return {rtype.path: server.services[rtype.path] for rtype in CATALOG_TYPES}


def export(server: Server, path: str | None = None, query: str | None = None) -> dict[str, Any]:
    selection = ExportSelection.parse(path, query)
    return build_export(catalog_services(server), selection, NOW_TEXT)


def imported(server: Server, document: Any, **options: Any) -> catalog_transfer.ImportReport:
    return import_document(document, catalog_services(server), **options)


def ids(entities: list[dict[str, Any]]) -> list[str]:
    return [e["id"] for e in entities]


@pytest.fixture
def source() -> Server:
    return seeded(small_catalog())


@pytest.fixture
def target() -> Server:
    return Server()


class TestExport:
    def test_exports_every_catalog_collection_as_stored(self, source):
        document = export(source)

        assert document == {"exportedAt": NOW_TEXT, "entities": small_catalog()}

    def test_a_path_exports_one_collection(self, source):
        assert export(source, "productOfferingPrice")["entities"] == {
            "productOfferingPrice": small_catalog()["productOfferingPrice"]
        }

    def test_a_query_filters_each_collection(self, source):
        source.seed("productSpecification", spec("ps-draft", "In Design"))
        source.seed("productOffering", offering("po-draft", "ps-1", [], "cat-1", state="Active"))

        entities = export(source, query="lifecycleStatus=Launched")["entities"]

        assert entities == small_catalog()

    def test_collections_that_cannot_be_filtered_by_the_query_are_left_out(self, source):
        source.seed("productOfferingPrice", price("pop-once", priceType="oneTime"))

        entities = export(source, query="priceType=oneTime")["entities"]

        assert {name: ids(items) for name, items in entities.items()} == {
            "productOfferingPrice": ["pop-once"]
        }

    def test_every_page_of_a_large_collection_is_exported(self, source, monkeypatch):
        monkeypatch.setattr(catalog_transfer, "PAGE", 2)
        source.seed("productOfferingPrice", *(price(f"pop-{n}") for n in range(3, 8)))

        entities = export(source, "productOfferingPrice")["entities"]

        assert ids(entities["productOfferingPrice"]) == [f"pop-{n}" for n in range(1, 8)]

    def test_a_catalog_path_exports_what_the_catalog_reaches(self, source):
        source.seed("productSpecification", spec("ps-sub"), spec("ps-other"))
        source.seed(
            "productOfferingPrice",
            price("pop-part"),
            price("pop-bundle", isBundle=True, bundledPopRelationship=[ref("pop-part")]),
            price("pop-other"),
        )
        source.seed(
            "category",
            category("cat-1", subCategory=[ref("cat-sub")]),
            category("cat-sub", parentId="cat-1"),
            category("cat-other"),
        )
        source.seed(
            "productOffering",
            offering("po-sub", "ps-sub", ["pop-bundle"], "cat-sub"),
            offering("po-in-bundle", "ps-other", ["pop-other"], "cat-other"),
            offering(
                "po-bundle",
                "ps-1",
                [],
                "cat-1",
                isBundle=True,
                bundledProductOffering=[ref("po-in-bundle")],
            ),
            offering("po-elsewhere", "ps-other", ["pop-other"], "cat-other"),
        )
        source.seed("catalog", catalog("cl-other", ["cat-other"]))

        entities = export(source, "catalog/cl-1")["entities"]

        assert {name: sorted(ids(items)) for name, items in entities.items()} == {
            "productSpecification": ["ps-1", "ps-2", "ps-other", "ps-sub"],
            "productOfferingPrice": ["pop-1", "pop-2", "pop-bundle", "pop-other", "pop-part"],
            "category": ["cat-1", "cat-sub"],
            "productOffering": ["po-1", "po-2", "po-bundle", "po-in-bundle", "po-sub"],
            "catalog": ["cl-1"],
        }

    def test_a_catalog_path_with_a_query_filters_what_the_catalog_reaches(self, source):
        entities = export(source, "catalog/cl-1", "id=po-2,ps-1")["entities"]

        assert {name: ids(items) for name, items in entities.items() if items} == {
            "productSpecification": ["ps-1"],
            "productOffering": ["po-2"],
        }

    def test_an_unknown_catalog_fails_the_export(self, source):
        with pytest.raises(TransferFailed, match="catalog 'cl-9' does not exist"):
            export(source, "catalog/cl-9")


class TestExportSelection:
    @pytest.mark.parametrize(
        ("path", "query", "message"),
        [
            ("customer", None, "path: 'customer' is not one of"),
            ("catalog/", None, "catalog/<id>"),
            ("catalog/a/b", None, "catalog/<id>"),
            (None, "colour=red", "can be filtered by colour"),
            ("catalog", "priceType=usage", "can be filtered by priceType"),
            (None, "isSellable=maybe", "not a boolean"),
            (None, "fields=name", "'fields' has no meaning in an export"),
        ],
    )
    def test_a_selection_that_cannot_be_exported_is_refused(self, path, query, message):
        with pytest.raises(InvalidRequest, match=message):
            ExportSelection.parse(path, query)

    def test_ranges_and_derived_filters_are_understood(self):
        selection = ExportSelection.parse(None, "sellableAt=2026-06-01T00:00:00.000Z")

        assert selection.collections == ("productOffering",)
        ranged = ExportSelection.parse(None, "lastUpdate.gte=2026-01-01T00:00:00.000Z")
        assert len(ranged.collections) == 5


class TestImportIntoAnEmptyServer:
    def test_creates_every_entity_exactly_as_exported(self, source, target):
        report = imported(target, export(source))

        assert (report.created, report.errors) == (8, [])
        assert export(target) == export(source)

    def test_each_entity_gets_its_create_event(self, source, target):
        imported(target, export(source))

        assert sorted(target.event_types()) == sorted(
            ["ProductSpecificationCreateEvent"] * 2
            + ["ProductOfferingPriceCreateEvent"] * 2
            + ["CategoryCreateEvent", "CatalogCreateEvent"]
            + ["ProductOfferingCreateEvent"] * 2
        )

    def test_references_are_imported_first_whatever_the_file_order(self, target):
        entities = small_catalog()
        reversed_file = {name: entities[name] for name in reversed(list(entities))}

        report = imported(target, export_file(reversed_file))

        assert (report.created, report.errors) == (8, [])

    def test_an_offering_bundling_one_later_in_the_file_is_imported_on_a_second_round(self, target):
        entities = small_catalog()
        bundle = offering(
            "po-bundle", "ps-1", [], "cat-1", isBundle=True, bundledProductOffering=[ref("po-1")]
        )
        entities["productOffering"].insert(0, bundle)

        report = imported(target, export_file(entities))

        assert report.errors == []
        assert target.stored("productOffering", "po-bundle") == bundle

    def test_only_the_collection_of_a_path_is_imported(self, source, target):
        report = imported(target, export(source), collections=("productSpecification",))

        assert report.created == 2
        assert target.stored("productOfferingPrice", "pop-1") is None

    def test_missing_server_attributes_start_as_on_a_create(self, target):
        bare = {k: v for k, v in spec("ps-1").items() if k not in ("version", "lastUpdate")}

        imported(target, export_file({"productSpecification": [bare]}))

        stored = target.stored("productSpecification", "ps-1")
        assert (stored["version"], stored["lastUpdate"]) == ("1.0", NOW_TEXT)


class TestPuttingOneEntity:
    def test_an_entity_without_an_id_is_refused(self, target):
        with pytest.raises(InvalidRequest, match="id: a non-empty string is required"):
            target.services["productSpecification"].put({"name": "No id"})

    def test_the_href_of_another_server_is_not_kept(self, target):
        exported = {**spec("ps-1"), "href": "http://elsewhere.test/productSpecification/ps-1"}

        target.services["productSpecification"].put(exported)

        assert target.stored("productSpecification", "ps-1") == spec("ps-1")


class TestImportingAgain:
    def test_the_same_file_changes_nothing(self, source, target):
        document = export(source)
        imported(target, document)
        writes, events = target.repository.writes, len(target.repository.events)

        report = imported(target, document)

        assert (report.created, report.updated, report.unchanged) == (0, 0, 8)
        assert (target.repository.writes, len(target.repository.events)) == (writes, events)
        assert target.repository.version("productOffering", "po-1") == 1

    def test_a_changed_entity_is_replaced_with_an_attribute_value_change_event(self, source):
        document = export(source)
        changed = document["entities"]["productSpecification"][0]
        changed.update(description="Now with 5G", version="1.4", lastUpdate=NOW_TEXT)
        source.repository.events.clear()

        report = imported(source, document)

        assert (report.updated, report.unchanged) == (1, 7)
        assert source.stored("productSpecification", "ps-1") == changed
        [event] = source.repository.events
        assert event.event_type == "ProductSpecificationAttributeValueChangeEvent"
        assert event.envelope["fieldPath"] == "description,lastUpdate,version"

    def test_a_state_change_also_emits_a_state_change_event(self, source):
        document = export(source, "productOffering")
        document["entities"]["productOffering"][0]["lifecycleStatus"] = "Retired"
        source.repository.events.clear()

        imported(source, document)

        assert source.event_types() == ["ProductOfferingStateChangeEvent"]

    def test_an_entity_is_never_moved_back_in_its_lifecycle(self, source):
        document = export(source, "productSpecification")
        document["entities"]["productSpecification"][0]["lifecycleStatus"] = "In Study"

        report = imported(source, document)

        assert report.errors == [
            "productSpecification[0] (id 'ps-1'): lifecycleStatus: In Study cannot be "
            "reached from Launched"
        ]
        assert source.stored("productSpecification", "ps-1")["lifecycleStatus"] == "Launched"

    def test_a_price_of_a_launched_offering_cannot_change_in_place(self, source):
        document = export(source, "productOfferingPrice")
        document["entities"]["productOfferingPrice"][0]["price"]["value"] = Decimal("12.00")

        report = imported(source, document)

        [error] = report.errors
        assert error.startswith("productOfferingPrice[0] (id 'pop-1'): price cannot change")
        assert source.stored("productOfferingPrice", "pop-1")["price"]["value"] == Decimal("10.00")

    def test_a_price_retired_with_its_offering_may_change_in_the_same_file(self, source):
        document = export(source)
        entities = document["entities"]
        entities["productOfferingPrice"][0].update(lifecycleStatus="Retired", version="2.0")
        entities["productOfferingPrice"][0]["price"]["value"] = Decimal("12.00")
        entities["productOffering"][0]["lifecycleStatus"] = "Retired"

        report = imported(source, document)

        assert report.errors == []
        assert source.stored("productOfferingPrice", "pop-1")["price"]["value"] == Decimal("12.00")


class TestBadEntries:
    def test_a_bad_entry_is_logged_and_left_out_while_the_others_are_imported(self, target):
        entities = small_catalog()
        entities["productOffering"][1]["validFor"]["endDateTime"] = "2025-01-01T00:00:00.000Z"

        report = imported(target, export_file(entities))

        assert report.errors == [
            "productOffering[1] (id 'po-2'): validFor: endDateTime must be after startDateTime"
        ]
        assert report.created == 7
        assert target.stored("productOffering", "po-2") is None
        assert "ProductOfferingCreateEvent" in target.event_types()
        assert all("po-2" not in e.resource_id for e in target.repository.events)

    def test_a_launched_entity_whose_reference_is_missing_names_it(self, target):
        entities = small_catalog()
        del entities["productOfferingPrice"][1]

        report = imported(target, export_file(entities))

        assert report.errors == [
            "productOffering[1] (id 'po-2'): cannot launch: productOfferingPrice 'pop-2' "
            "does not exist"
        ]
        assert target.stored("productOffering", "po-2") is None

    def test_entries_that_are_not_entities_are_named_by_position(self, target):
        document = export_file(
            {
                "productSpecification": [spec("ps-1"), "ps-2", {"name": "no id"}, spec("ps-1")],
                "customer": [{"id": "c-1"}],
                "category": {"id": "cat-1"},
            }
        )

        report = imported(target, document)

        assert report.errors == [
            "productSpecification[1]: an object is expected",
            "productSpecification[2]: id: a non-empty string is required",
            "productSpecification[3] (id 'ps-1'): same id as productSpecification[0]",
            "entities.customer: not one of productSpecification, productOfferingPrice, "
            "category, productOffering, catalog",
            "entities.category: a list of entities is expected",
        ]
        assert report.created == 1

    def test_an_attribute_the_resource_does_not_declare_is_refused(self, target):
        document = export_file({"productSpecification": [spec("ps-1", colour="red")]})

        [error] = imported(target, document).errors

        assert "unknown attribute(s) colour" in error

    @pytest.mark.parametrize("document", [[], {"entities": []}, {"catalog": []}, "text"])
    def test_a_document_that_is_not_an_export_file_fails(self, target, document):
        with pytest.raises(TransferFailed, match="not an export file"):
            imported(target, document)

    def test_the_error_log_is_capped(self):
        report = catalog_transfer.ImportReport(errors=[f"e{n}" for n in range(205)])

        lines = report.error_log().splitlines()

        assert lines[-1] == "... and 5 more"
        assert len(lines) == 201


def create_job(server: Server, rtype: ResourceType, **body: Any) -> dict[str, Any]:
    return server.services[rtype.path].create(body)


def job(server: Server, rtype: ResourceType, job_id: str) -> dict[str, Any]:
    return server.services[rtype.path].get(job_id)


class TestJobs:
    def test_a_new_job_is_not_started_whatever_the_client_says(self, source):
        created = create_job(
            source,
            EXPORT_JOB,
            status="Succeeded",
            completionDate=NOW_TEXT,
            errorLog="none",
            url="http://elsewhere.test/file",
        )

        assert created == {
            "id": "exportJob-1",
            "@type": "ExportJob",
            "status": "Not Started",
            "creationDate": NOW_TEXT,
            "contentType": "application/json",
        }
        assert source.event_types() == ["ExportJobCreateEvent"]

    @pytest.mark.parametrize(
        ("rtype", "body", "message"),
        [
            (EXPORT_JOB, {"path": "customer"}, "path: 'customer'"),
            (EXPORT_JOB, {"query": "colour=red"}, "colour"),
            (IMPORT_JOB, {"url": FILE_URL, "path": "catalog/cl-1"}, "path: 'catalog/cl-1'"),
            (IMPORT_JOB, {"url": FILE_URL, "contentType": "text/csv"}, "application/json"),
        ],
    )
    def test_a_job_that_cannot_be_done_is_refused_at_once(self, source, rtype, body, message):
        with pytest.raises(InvalidRequest, match=message):
            create_job(source, rtype, **body)

    def test_an_export_job_ends_succeeded_with_the_url_of_its_file(self, source):
        created = create_job(source, EXPORT_JOB, path="catalog/cl-1")
        source.repository.events.clear()
        source.clock.advance(seconds=2)

        assert source.jobs.run(EXPORT_JOB.path, created["id"]) == "Succeeded"

        done = job(source, EXPORT_JOB, created["id"])
        assert done["status"] == "Succeeded"
        assert done["url"] == f"http://bss.test/f/{created['id']}"
        assert done["completionDate"] == "2026-11-25T10:00:02.000Z"
        assert source.jobs.export_file(created["id"]) == {
            "exportedAt": "2026-11-25T10:00:02.000Z",
            "entities": small_catalog(),
        }
        states = [e.envelope["event"]["exportJob"]["status"] for e in source.repository.events]
        assert source.event_types() == ["ExportJobStateChangeEvent"] * 2
        assert states == ["Running", "Succeeded"]

    def test_an_export_that_fails_says_why(self, source):
        created = create_job(source, EXPORT_JOB, path="catalog/cl-9")

        source.jobs.run(EXPORT_JOB.path, created["id"])

        done = job(source, EXPORT_JOB, created["id"])
        assert (done["status"], done["errorLog"]) == ("Failed", "catalog 'cl-9' does not exist")
        assert "url" not in done
        with pytest.raises(Conflict, match="is Failed"):
            source.jobs.export_file(created["id"])

    def test_an_export_too_large_to_keep_fails(self, source):
        source.files.refusal = "the export is larger than a stored file can be"
        created = create_job(source, EXPORT_JOB)

        source.jobs.run(EXPORT_JOB.path, created["id"])

        assert job(source, EXPORT_JOB, created["id"])["errorLog"] == source.files.refusal

    def test_the_file_of_an_unfinished_or_unknown_export_is_not_served(self, source):
        created = create_job(source, EXPORT_JOB)

        with pytest.raises(Conflict, match="is Not Started"):
            source.jobs.export_file(created["id"])
        with pytest.raises(NotFound):
            source.jobs.export_file("nothing")

    def test_deleting_an_export_job_deletes_its_file(self, source):
        created = create_job(source, EXPORT_JOB)
        source.jobs.run(EXPORT_JOB.path, created["id"])

        source.jobs.delete_export_job(created["id"])

        assert source.files.files == {}
        assert "ExportJobDeleteEvent" not in source.event_types()

    def test_an_import_job_ends_succeeded(self, source, target):
        target.source.documents[FILE_URL] = export(source)
        created = create_job(target, IMPORT_JOB, url=FILE_URL)

        outcome = target.jobs.run(IMPORT_JOB.path, created["id"])

        assert outcome == "Succeeded: 8 created, 0 updated, 0 unchanged, 0 refused"
        done = job(target, IMPORT_JOB, created["id"])
        assert (done["status"], done["completionDate"]) == ("Succeeded", NOW_TEXT)
        assert "errorLog" not in done
        assert export(target) == export(source)

    def test_an_import_job_with_a_bad_entry_fails_naming_it(self, target):
        entities = small_catalog()
        entities["productSpecification"][0]["lifecycleStatus"] = "Launchd"
        target.source.documents[FILE_URL] = export_file(entities)
        created = create_job(target, IMPORT_JOB, url=FILE_URL)

        target.jobs.run(IMPORT_JOB.path, created["id"])

        done = job(target, IMPORT_JOB, created["id"])
        assert done["status"] == "Failed"
        assert done["errorLog"].splitlines()[0] == (
            "productSpecification[0] (id 'ps-1'): lifecycleStatus: 'Launchd' is not a known state"
        )
        assert target.stored("productSpecification", "ps-1") is None
        assert target.stored("productSpecification", "ps-2") is not None

    def test_an_import_job_whose_file_cannot_be_read_fails_with_the_reason(self, target):
        created = create_job(target, IMPORT_JOB, url="http://files.test/missing.json")

        target.jobs.run(IMPORT_JOB.path, created["id"])

        done = job(target, IMPORT_JOB, created["id"])
        assert done["status"] == "Failed"
        assert done["errorLog"] == "GET http://files.test/missing.json: HTTP 404"

    def test_a_finished_job_is_not_run_again(self, source):
        created = create_job(source, EXPORT_JOB)
        source.jobs.run(EXPORT_JOB.path, created["id"])
        events = len(source.repository.events)

        assert source.jobs.run(EXPORT_JOB.path, created["id"]) is None
        assert source.jobs.run(EXPORT_JOB.path, "nothing") is None
        assert len(source.repository.events) == events

    def test_a_job_left_running_by_a_crash_is_run_to_its_end(self, source):
        created = create_job(source, EXPORT_JOB)
        source.services[EXPORT_JOB.path].patch(created["id"], Patch(MERGE, {"status": "Running"}))

        assert source.jobs.run(EXPORT_JOB.path, created["id"]) == "Succeeded"

    def test_a_job_that_stopped_before_its_end_can_be_failed(self, source):
        created = create_job(source, IMPORT_JOB, url=FILE_URL)
        source.services[IMPORT_JOB.path].patch(created["id"], Patch(MERGE, {"status": "Running"}))

        source.jobs.fail(IMPORT_JOB.path, created["id"], "internal error")

        done = job(source, IMPORT_JOB, created["id"])
        assert (done["status"], done["errorLog"]) == ("Failed", "internal error")

    def test_an_export_deleted_while_it_runs_leaves_no_file(self, source):
        created = create_job(source, EXPORT_JOB)
        source.files.on_put = lambda: source.services[EXPORT_JOB.path].delete(created["id"])

        assert source.jobs.run(EXPORT_JOB.path, created["id"]) is None
        assert source.files.files == {}

    def test_a_job_deleted_before_it_starts_is_not_run(self, source):
        created = create_job(source, EXPORT_JOB)
        jobs = source.services[EXPORT_JOB.path]
        source.repository.after_next_get(lambda: jobs.delete(created["id"]))

        assert source.jobs.run(EXPORT_JOB.path, created["id"]) is None
        assert source.files.files == {}
