"""Runs catalog import and export jobs in the background, and keeps export files.

A JobRunner claims one job at a time with a lease in the `jobLease` collection (one document
per job, claimed atomically by find_one_and_update with upsert: the unique _id lets one
claimant win), so any number of processes can run jobs. Not Started jobs are claimed, and
Running ones whose lease expired (their runner crashed): running a job again is harmless,
since an import is idempotent and an export is written again. A long job renews its lease.
A job runs acting for its partner: it exports and imports that partner's catalog (and the
platform's shared entries it sees), and its export file is that partner's alone.
"""

from __future__ import annotations

import base64
import binascii
import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote_to_bytes, urlsplit

import httpx
import pymongo
import pymongo.errors
import simplejson
from pymongo.database import Database

from adapters.acting import acting_for
from adapters.leases import LeaseLost, Leases
from adapters.partners import PARTNER, own, owner, partner_of, scoped
from adapters.polling import PollingWorker
from domain.catalog_jobs import JOB_TYPES, NOT_STARTED, RUNNING, CatalogJobs
from domain.catalog_transfer import TransferFailed
from domain.patch import MAX_NESTING, nesting_depth

EXPORT_FILES = "exportFile"
LEASES = "jobLease"
FILE_SUFFIX = "/file"
JSON = "application/json"
log = logging.getLogger("bss.jobs")


class MongoExportFiles:
    """The ExportFiles port: one document per export job, the file under `document`."""

    def __init__(self, db: Database) -> None:
        self._files = db[EXPORT_FILES]

    def put(self, job_id: str, document: dict[str, Any]) -> None:
        try:
            self._files.replace_one(
                {"_id": job_id, **own()}, {"document": document, PARTNER: owner()}, upsert=True
            )
        except pymongo.errors.DocumentTooLarge:
            raise TransferFailed(
                "the export is larger than a stored file can be (16 MB): narrow it with path "
                "or query"
            ) from None

    def get(self, job_id: str) -> dict[str, Any] | None:
        found = self._files.find_one(scoped(EXPORT_FILES, {"_id": job_id}))
        return found["document"] if found else None

    def remove(self, job_id: str) -> None:
        self._files.delete_one({"_id": job_id, **own()})


class ImportSources:
    """The ImportSource port. `url` may be an export file URL of this server (read from the
    database, never over HTTP), a `data:` URL holding the file itself (an upload: the spec
    has no attribute for inline content) or an http(s) URL."""

    def __init__(
        self, files: MongoExportFiles, own_files: str, max_bytes: int, timeout: float = 30.0
    ) -> None:
        self._files = files
        self._own_files = own_files  # export file URLs of this server up to the job id
        self.max_bytes = max_bytes
        self.timeout = timeout

    def read(self, url: str) -> Any:
        job_id = self._own_job_id(url)
        if job_id is not None:
            document = self._files.get(job_id)
            if document is None:
                raise TransferFailed(f"{url}: this server has no export file of job '{job_id}'")
            return document
        scheme = urlsplit(url).scheme.lower()
        if scheme == "data":
            return parse_file(self._decode_data_url(url))
        if scheme in ("http", "https"):
            return parse_file(self._download(url))
        raise TransferFailed(
            f"url: the scheme '{scheme}' is not supported; give an http(s) URL, a data: URL "
            "or the URL of an export file of this server"
        )

    def _own_job_id(self, url: str) -> str | None:
        if not (url.startswith(self._own_files) and url.endswith(FILE_SUFFIX)):
            return None
        job_id = url[len(self._own_files) : -len(FILE_SUFFIX)]
        return job_id if job_id and "/" not in job_id else None

    def _decode_data_url(self, url: str) -> bytes:
        header, comma, payload = url[len("data:") :].partition(",")
        media_type, *parameters = header.split(";")
        if not comma or media_type.strip().lower() not in ("", JSON):
            raise TransferFailed(f"url: a data: URL of {JSON} is expected")
        raw = unquote_to_bytes(payload)
        if parameters and parameters[-1].strip().lower() == "base64":
            try:
                raw = base64.b64decode(raw, validate=True)
            except binascii.Error as error:
                raise TransferFailed(f"url: the data: URL is not valid base64: {error}") from None
        return raw

    def _download(self, url: str) -> bytes:
        deadline = time.monotonic() + self.timeout
        chunks: list[bytes] = []
        size = 0
        try:
            with (
                httpx.Client(timeout=self.timeout, follow_redirects=True, max_redirects=5) as http,
                http.stream("GET", url, headers={"Accept": JSON}) as response,
            ):
                if response.status_code != 200:
                    raise TransferFailed(f"GET {url}: HTTP {response.status_code}")
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise TransferFailed(f"GET {url}: larger than {self.max_bytes} bytes")
                    if time.monotonic() > deadline:
                        raise TransferFailed(f"GET {url}: took longer than {self.timeout:g} s")
                    chunks.append(chunk)
        except (httpx.HTTPError, httpx.InvalidURL) as error:
            raise TransferFailed(f"GET {url}: {type(error).__name__}: {error}") from None
        return b"".join(chunks)


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def parse_file(raw: bytes) -> Any:
    """A JSON document with exact numbers (Decimal, as requests are read)."""
    try:
        document = simplejson.loads(
            raw.decode("utf-8"), use_decimal=True, parse_constant=_refuse_constant
        )
    except UnicodeDecodeError as error:
        raise TransferFailed(f"the file is not UTF-8: {error}") from None
    except (ValueError, RecursionError) as error:
        raise TransferFailed(f"the file is not JSON: {error}") from None
    if nesting_depth(document) > MAX_NESTING + 2:  # entities -> list -> entity
        raise TransferFailed(f"the file nests entities deeper than {MAX_NESTING} levels")
    return document


class JobRunner(PollingWorker):
    thread_name = "catalog-job-runner"
    log = log
    idle_sleep = 1.0  # a job waits up to this long to start

    def __init__(self, db: Database, jobs: CatalogJobs, lease_seconds: float = 60.0) -> None:
        super().__init__()
        self._db = db
        self._jobs = jobs
        self.leases = Leases(db, LEASES, timedelta(seconds=lease_seconds))

    @property
    def lease(self) -> timedelta:
        return self.leases.duration

    def ensure_indexes(self) -> None:
        self.leases.ensure_indexes()

    # one pass -----------------------------------------------------------------------------

    def run_once(self) -> int:
        """Run every job that is waiting (oldest first); returns how many were run."""
        handled = 0
        while (claimed := self._claim_next()) is not None:
            path, job_id, partner = claimed
            with acting_for(partner):
                self._run(path, job_id)
            handled += 1
        return handled

    def _claim_next(self) -> tuple[str, str, str] | None:
        """The next job to run: (path, id, partner)."""
        now = _now()
        busy = self.leases.held(now)
        fields = {"_id": 0, "id": 1, "creationDate": 1, PARTNER: 1}
        waiting = sorted(
            (job.get("creationDate", ""), rtype.path, job["id"], partner_of(job))
            for rtype in JOB_TYPES
            for job in self._db[rtype.collection].find(
                scoped(rtype.collection, {"status": {"$in": [NOT_STARTED, RUNNING]}}), fields
            )
        )
        for _, path, job_id, partner in waiting:
            key = f"{path}/{job_id}"
            if key not in busy and self.leases.claim(key, now):
                return path, job_id, partner
        return None

    def _run(self, path: str, job_id: str) -> None:
        key = f"{path}/{job_id}"
        try:
            outcome = self._jobs.run(path, job_id, _Lease(self, key).renew)
        except LeaseLost:
            log.warning("%s: taken over by another runner", key)
            return
        except pymongo.errors.PyMongoError as error:
            log.warning("%s: database error, run again when its lease expires: %s", key, error)
            return
        except Exception:
            log.exception("%s failed", key)
            self._jobs.fail(path, job_id, "internal error: the job stopped before its end")
        else:
            if outcome:
                log.info("%s: %s", key, outcome)
        self.leases.release(key)

    def renew(self, key: str) -> None:
        self.leases.renew(key)


class _Lease:
    """The heartbeat of one running job: renews its lease once a third of it has passed."""

    def __init__(self, runner: JobRunner, key: str) -> None:
        self._runner = runner
        self._key = key
        self._renewed = _now()

    def renew(self) -> None:
        now = _now()
        if now - self._renewed >= self._runner.lease / 3:
            self._runner.renew(self._key)
            self._renewed = now


def _now() -> datetime:
    return datetime.now(UTC)
