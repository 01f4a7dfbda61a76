"""TMF620 ImportJob and ExportJob: requests for work, accepted at once and run later.

A job is created Not Started (a status sent by the client is ignored, as are its
completionDate and errorLog), goes Running when a runner picks it up and ends Succeeded or
Failed with errorLog. Each change of status goes through the job's ResourceService, so it
emits <Job>StateChangeEvent; jobs emit no other events after their CreateEvent.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from domain import events as ev
from domain.catalog_transfer import (
    ExportSelection,
    Heartbeat,
    TransferFailed,
    build_export,
    import_collections,
    import_document,
)
from domain.errors import Conflict, InvalidRequest, NotFound
from domain.instants import format_instant
from domain.lifecycle import Lifecycle
from domain.patch import MERGE, Patch
from domain.ports import Clock, ExportFiles, ImportSource
from domain.query import AttrType
from domain.resource import Lookup, ResourceType, Rules
from domain.service import ResourceService

NOT_STARTED, RUNNING, SUCCEEDED, FAILED = "Not Started", "Running", "Succeeded", "Failed"
JSON = "application/json"

JOB_LIFECYCLE = Lifecycle(
    attribute="status",
    transitions={
        NOT_STARTED: frozenset({RUNNING}),
        RUNNING: frozenset({SUCCEEDED, FAILED}),
        SUCCEEDED: frozenset(),
        FAILED: frozenset(),
    },
    initial=NOT_STARTED,
    creatable=frozenset({NOT_STARTED}),
)
JOB_ATTRIBUTES = frozenset(
    {"completionDate", "contentType", "creationDate", "errorLog", "path", "url", "status"}
)
SERVER_WRITTEN = frozenset({"status", "completionDate", "errorLog"})


def _check_content_type(job: dict[str, Any]) -> None:
    content_type = job.setdefault("contentType", JSON)
    if content_type.split(";")[0].strip() != JSON:
        raise InvalidRequest(f"contentType: only {JSON} files are supported")


class ImportJobRules(Rules):
    def on_create(self, resource: dict[str, Any], lookup: Lookup) -> None:
        _check_content_type(resource)
        import_collections(resource.get("path"))


class ExportJobRules(Rules):
    def on_create(self, resource: dict[str, Any], lookup: Lookup) -> None:
        _check_content_type(resource)
        ExportSelection.parse(resource.get("path"), resource.get("query"))


def _job_type(
    name: str, path: str, attributes: frozenset[str], ignored: frozenset[str], rules: Rules
) -> ResourceType:
    return ResourceType(
        name=name,
        api="productCatalogManagement",
        path=path,
        attributes=attributes,
        filters={"id": AttrType.STRING, "status": AttrType.STRING},
        instant_keys=frozenset({"creationDate", "completionDate"}),
        create_dates=("creationDate",),
        lifecycle=JOB_LIFECYCLE,
        rules=rules,
        ignored_on_create=ignored,
        event_kinds=frozenset({ev.CREATE, ev.STATE_CHANGE}),
    )


IMPORT_JOB = _job_type("ImportJob", "importJob", JOB_ATTRIBUTES, SERVER_WRITTEN, ImportJobRules())
# An export job's url is where the server puts its file: a value sent is ignored.
EXPORT_JOB = _job_type(
    "ExportJob",
    "exportJob",
    JOB_ATTRIBUTES | {"query"},
    SERVER_WRITTEN | {"url"},
    ExportJobRules(),
)
JOB_TYPES = (IMPORT_JOB, EXPORT_JOB)


def _nothing() -> None:
    """A heartbeat that does nothing."""


class CatalogJobs:
    """Runs import and export jobs and serves export files."""

    def __init__(
        self,
        services: Mapping[str, ResourceService],
        files: ExportFiles,
        source: ImportSource,
        clock: Clock,
        file_url: Callable[[str], str],
    ) -> None:
        self._services = services
        self._files = files
        self._source = source
        self._clock = clock
        self._file_url = file_url

    def run(self, path: str, job_id: str, heartbeat: Heartbeat = _nothing) -> str | None:
        """Run the job (or run it again after a crash left it Running); returns how it
        ended, or None when there was nothing to do (unknown job, already finished)."""
        if path == EXPORT_JOB.path:
            return self._export(job_id, heartbeat)
        return self._import(job_id, heartbeat)

    def fail(self, path: str, job_id: str, reason: str) -> None:
        """End a job that could not run to its end."""
        self._end(path, job_id, FAILED, {"errorLog": reason})

    def export_file(self, job_id: str) -> dict[str, Any]:
        job = self._services[EXPORT_JOB.path].get(job_id)
        if job["status"] != SUCCEEDED:
            raise Conflict(f"ExportJob {job_id} is {job['status']}: it has a file once Succeeded")
        document = self._files.get(job_id)
        if document is None:
            raise NotFound(f"the file of ExportJob {job_id} is gone")
        return document

    def delete_export_job(self, job_id: str) -> None:
        self._services[EXPORT_JOB.path].delete(job_id)
        self._files.remove(job_id)

    def _export(self, job_id: str, heartbeat: Heartbeat) -> str | None:
        job = self._begin(EXPORT_JOB.path, job_id)
        if job is None:
            return None
        try:
            selection = ExportSelection.parse(job.get("path"), job.get("query"))
            catalog = self._catalog_services()
            document = build_export(catalog, selection, self._now(), heartbeat)
            self._files.put(job_id, document)
        except (TransferFailed, InvalidRequest) as error:
            return self._end(EXPORT_JOB.path, job_id, FAILED, {"errorLog": str(error)})
        return self._end(EXPORT_JOB.path, job_id, SUCCEEDED, {"url": self._file_url(job_id)})

    def _import(self, job_id: str, heartbeat: Heartbeat) -> str | None:
        job = self._begin(IMPORT_JOB.path, job_id)
        if job is None:
            return None
        try:
            collections = import_collections(job.get("path"))
            document = self._source.read(job["url"])
            report = import_document(document, self._catalog_services(), collections, heartbeat)
        except (TransferFailed, InvalidRequest) as error:
            return self._end(IMPORT_JOB.path, job_id, FAILED, {"errorLog": str(error)})
        counts = (
            f"{report.created} created, {report.updated} updated, "
            f"{report.unchanged} unchanged, {len(report.errors)} refused"
        )
        if report.errors:
            self._end(IMPORT_JOB.path, job_id, FAILED, {"errorLog": report.error_log()})
            return f"{FAILED}: {counts}"
        self._end(IMPORT_JOB.path, job_id, SUCCEEDED, {})
        return f"{SUCCEEDED}: {counts}"

    def _catalog_services(self) -> dict[str, ResourceService]:
        return {path: self._services[path] for path in import_collections(None)}

    def _begin(self, path: str, job_id: str) -> dict[str, Any] | None:
        """The job, Running; None when it is gone or has already ended."""
        service = self._services[path]
        try:
            job = service.get(job_id)
            if job["status"] == NOT_STARTED:
                return service.patch(job_id, Patch(MERGE, {"status": RUNNING}))
        except NotFound:
            return None
        return job if job["status"] == RUNNING else None

    def _end(self, path: str, job_id: str, status: str, changes: dict[str, Any]) -> str | None:
        change = {"status": status, "completionDate": self._now(), **changes}
        try:
            self._services[path].patch(job_id, Patch(MERGE, change))
        except NotFound:  # deleted while it ran
            if path == EXPORT_JOB.path:
                self._files.remove(job_id)
            return None
        return status

    def _now(self) -> str:
        return format_instant(self._clock.now())
