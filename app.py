"""Composition root: wires adapters into domain services and serves the TMF APIs.

python app.py serve    start the database if needed, load demo data, serve the APIs
python app.py worker   run the event dispatcher and the catalog job runner as their own process
python app.py rate-usage FILE...   rate CDR files (JSON lines or CSV) through bulk ingestion
python app.py bill-run [--at INSTANT] [--account ID]...   bill the accounts whose period began
python app.py dunning [--at INSTANT]   remind overdue bills, suspend lines if configured
python app.py revenue-assurance --period YYYY-MM   check every account was billed what it owes
python app.py token [--partner ID] [--scope S]... [--operator]   print a development token
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import re
import socket
import sys
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

# Connexion imports Starlette's test client at import time, which warns about httpx.
warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")

import connexion
import pymongo.errors
from connexion.exceptions import ProblemException
from connexion.middleware import MiddlewarePosition
from connexion.options import SwaggerUIOptions
from connexion.resolver import RelativeResolver
from pymongo.database import Database
from starlette.exceptions import HTTPException

from adapters import acting, tokens
from adapters.acting import acting_for
from adapters.bill_document import BillDocuments
from adapters.billing import COUNTERS, Billing, BillRunner
from adapters.clock import SystemClock
from adapters.dispatcher import DeliveryPolicy, Dispatcher, HttpSender
from adapters.dispatcher import ensure_indexes as ensure_dispatch_indexes
from adapters.dunning import Dunning
from adapters.embedded_db import DatabaseUnavailable, EmbeddedMongo
from adapters.fulfilment_runner import CatalogCache, FulfilmentRunner
from adapters.jobs import EXPORT_FILES, ImportSources, JobRunner, MongoExportFiles
from adapters.mongo import HUB, OUTBOX, MongoResources, connect
from adapters.network import SimulatedNetwork
from adapters.partners import DEMO_PARTNER, SHARED, adopt_unowned
from adapters.payment_gateway import SimulatedGateway
from adapters.payments import MongoPayments
from adapters.rating import MongoRatingDirectory, RatingRunner, UsageRating
from adapters.resource_pools import NUMBERS, SIMS, MongoNumberPool, MongoSimStock
from adapters.revenue_assurance import RevenueAssurance, report_text
from adapters.settings import InvalidSettings, Settings, is_loopback, load_settings
from adapters.subscriptions import MongoSubscriptions
from domain.account import ACCOUNT_TYPES
from domain.audit import AUDIT_ENTRY
from domain.bill import BILL_TYPES, SYSTEM_CUSTOMER_BILL
from domain.catalog import CATALOG_TYPES
from domain.catalog_jobs import EXPORT_JOB, JOB_TYPES, CatalogJobs
from domain.customer import CUSTOMER
from domain.dunning import DunningPolicy
from domain.errors import DomainError
from domain.fulfilment import Fulfilment
from domain.hub import HubService
from domain.inventory import PRODUCT, SYSTEM_PRODUCT
from domain.ordering import ORDERING_TYPES, SYSTEM_CANCEL, SYSTEM_ORDER
from domain.payment import PAYMENT_TYPES, SYSTEM_PAYMENT, SYSTEM_REFUND
from domain.query import PageLimits
from domain.resource import Lookup, ResourceType
from domain.security import OPERATOR
from domain.service import HrefFor, ResourceService
from domain.usage import USAGE_BATCH, USAGE_CONSUMPTION, USAGE_SPECIFICATION, usage_resource
from handlers import errors
from handlers.auth import AuthMiddleware, middlewares
from handlers.rate_limit import ClientRates, RateLimitMiddleware
from handlers.routing import RoutingGuard
from handlers.security_headers import SecurityHeadersMiddleware
from handlers.specs import base_path, load_spec
from handlers.tmf import Services, href
from handlers.validation import VALIDATORS, BodyLimitMiddleware, ResourceSchemaCheck
from handlers.wire import CONTENT_TYPE, JSONIFIER, WireJsonProvider

log = logging.getLogger("bss")


USAGE = usage_resource(SystemClock().now, acting.partner)


@dataclass(frozen=True)
class Api:
    spec: str  # file in openapi/
    handlers: str  # module holding its operationIds
    name: str  # path segment of its base path, e.g. customerManagement
    resources: tuple[ResourceType, ...]
    # the schema every stored resource is checked against ({} = the resource name); the
    # create schema where clients write whole resources, the resource schema where the
    # server writes most of it (orders, products)
    stored_schema: str = "{}_Create"


APIS = (
    Api("customer.yaml", "handlers.customer", "customerManagement", (CUSTOMER,)),
    Api(
        "catalog.yaml",
        "handlers.catalog",
        "productCatalogManagement",
        (*CATALOG_TYPES, *JOB_TYPES),
    ),
    Api(
        "ordering.yaml",
        "handlers.ordering",
        "productOrderingManagement",
        ORDERING_TYPES,
        stored_schema="{}",
    ),
    Api("inventory.yaml", "handlers.inventory", "productInventory", (PRODUCT,), "{}"),
    Api("account.yaml", "handlers.account", "accountManagement", ACCOUNT_TYPES),
    Api(
        "usage.yaml",
        "handlers.usage",
        "usageManagement",
        (USAGE, USAGE_SPECIFICATION, USAGE_CONSUMPTION, USAGE_BATCH),
        stored_schema="{}",
    ),
    Api(
        "bill.yaml",
        "handlers.bill",
        "customerBillManagement",
        BILL_TYPES,
        stored_schema="{}",
    ),
    Api(
        "payment.yaml",
        "handlers.payment",
        "paymentManagement",
        PAYMENT_TYPES,
        stored_schema="{}",
    ),
    Api("audit.yaml", "handlers.audit", "auditManagement", (AUDIT_ENTRY,), "{}"),
)
# What order fulfilment writes: the same resources without the limits put on clients.
SYSTEM_TYPES = {
    "productOrder": SYSTEM_ORDER,
    "cancelProductOrder": SYSTEM_CANCEL,
    "product": SYSTEM_PRODUCT,
    "customerBill": SYSTEM_CUSTOMER_BILL,
    "payment": SYSTEM_PAYMENT,
    "refund": SYSTEM_REFUND,
}


# where partners' documents are kept besides the APIs' resources (adapters/partners.py)
PARTNER_COLLECTIONS = (NUMBERS, SIMS, OUTBOX, HUB, EXPORT_FILES)

# the background workers of an API process in dev (settings.jobs) and of `worker`
BACKGROUND = ("job_runner", "fulfilment_runner", "rating_runner", "bill_runner")


class UuidIds:
    def new_id(self) -> str:
        return str(uuid.uuid4())


def build_services(settings: Settings) -> Services:
    if not settings.mongodb_uri:
        raise DatabaseUnavailable("MONGODB_URI is not set and no embedded database was started")
    db = connect(settings.mongodb_uri, settings.mongodb_database)
    try:
        db.command("ping")
    except pymongo.errors.PyMongoError as error:
        reason = str(error).split(" (configured timeouts")[0].split(", Timeout")[0]
        where = re.sub(r"//[^@/]*@", "//***@", settings.mongodb_uri)  # never print credentials
        raise DatabaseUnavailable(f"database at {where} unreachable: {reason}") from None
    resource_collections = [rtype.collection for api in APIS for rtype in api.resources]
    adopt_unowned(db, [*resource_collections, *PARTNER_COLLECTIONS], COUNTERS)
    repository = MongoResources(db)
    subscriptions = MongoSubscriptions(db)
    subscriptions.ensure_indexes()
    ensure_dispatch_indexes(db)
    public_base = settings.public_base_url or f"http://{settings.host}:{settings.port}"

    def href_for(rtype: ResourceType, resource_id: str) -> str:
        return href(public_base, rtype, resource_id)

    resources: dict[str, ResourceService] = {}
    system: dict[str, ResourceService] = {}
    hubs: dict[str, HubService] = {}
    for api in APIS:
        spec = load_spec(api.spec)
        hubs[api.name] = HubService(api.name, subscriptions, UuidIds())
        for rtype in api.resources:
            repository.ensure_indexes(rtype)
            check = ResourceSchemaCheck(spec, api.stored_schema.format(rtype.name))
            resources[rtype.path] = ResourceService(
                rtype, repository, SystemClock(), UuidIds(), href_for, check
            )
            if rtype.path in SYSTEM_TYPES:
                system[rtype.path] = ResourceService(
                    SYSTEM_TYPES[rtype.path], repository, SystemClock(), UuidIds(), href_for, check
                )
    limits = PageLimits(settings.page_default_limit, settings.page_max_limit)
    services = Services(resources, hubs, limits, settings.public_base_url)
    jobs = _catalog_jobs(settings, db, resources, href_for)
    runner = JobRunner(db, jobs)
    runner.ensure_indexes()
    fulfilment = _fulfilment_runner(settings, db, repository, system)
    directory = MongoRatingDirectory(db, CatalogCache(repository), SystemClock())
    rating = UsageRating(
        db, repository, resources, directory, SystemClock(), chunk=settings.rating_chunk
    )
    rating_runner = RatingRunner(db, rating)
    rating_runner.ensure_indexes()
    gateway = SimulatedGateway(settings.payment_failure_percent)
    payments = MongoPayments(db, repository, resources, system, gateway, href_for)
    billing = Billing(
        db,
        repository,
        system["customerBill"],
        resources["customerBillOnDemand"],
        SystemClock(),
        lambda bill_id: f"{href_for(SYSTEM_TYPES['customerBill'], bill_id)}/document",
        apply_credit=payments.apply_credit,
    )
    dunning = Dunning(
        db,
        system["customerBill"],
        resources["productOrder"],
        SystemClock(),
        DunningPolicy(settings.dunning_reminder_days, settings.dunning_suspend_days),
    )
    interval = timedelta(seconds=settings.bill_run_interval_seconds)
    bill_runner = BillRunner(db, billing, interval, dunning)
    bill_runner.ensure_indexes()
    services.extra.update(
        db=db,
        subscriptions=subscriptions,
        catalog_jobs=jobs,
        job_runner=runner,
        fulfilment_runner=fulfilment,
        usage_rating=rating,
        rating_runner=rating_runner,
        payments=payments,
        system=system,
        billing=billing,
        bill_runner=bill_runner,
        dunning=dunning,
        bill_documents=BillDocuments(db, settings),
        revenue_assurance=RevenueAssurance(db, repository, SystemClock()),
    )
    return services


def _fulfilment_runner(
    settings: Settings,
    db: Database,
    repository: MongoResources,
    system: dict[str, ResourceService],
) -> FulfilmentRunner:
    numbers = MongoNumberPool(db, quarantine=timedelta(days=settings.number_quarantine_days))
    sims = MongoSimStock(db)
    network = SimulatedNetwork(
        db,
        latency=timedelta(milliseconds=settings.network_latency_ms),
        failure_percent=settings.network_failure_percent,
    )
    numbers.ensure_indexes()
    sims.ensure_indexes()
    fulfilment = Fulfilment(
        system["productOrder"],
        system["cancelProductOrder"],
        system["product"],
        numbers,
        sims,
        network,
        SystemClock(),
        lookup=Lookup(CatalogCache(repository)),
    )
    runner = FulfilmentRunner(db, repository, fulfilment)
    runner.ensure_indexes()
    return runner


def _catalog_jobs(
    settings: Settings, db: Database, resources: dict[str, ResourceService], href_for: HrefFor
) -> CatalogJobs:
    files = MongoExportFiles(db)
    # an import may read a file as large as 16 request bodies
    sources = ImportSources(files, href_for(EXPORT_JOB, ""), settings.max_body_bytes * 16)

    def file_url(job_id: str) -> str:
        return f"{href_for(EXPORT_JOB, job_id)}/file"

    return CatalogJobs(resources, files, sources, SystemClock(), file_url)


def configure_logging(level: str) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Connexion logs every client mistake (and a content-type notice per request) as if it
    # were ours; our error handlers already answer those with a TMF error body.
    for noisy in ("connexion.operations", "connexion.decorators", "connexion.middleware"):
        logging.getLogger(noisy).setLevel(logging.CRITICAL if level != "DEBUG" else logging.DEBUG)


def create_app(config: Settings | dict[str, Any] | None = None) -> connexion.FlaskApp:
    settings = config if isinstance(config, Settings) else load_settings(config)
    configure_logging(settings.log_level)
    verifier = tokens.verifier(settings)  # fails here, in one line, on a key it cannot use
    if verifier is None:
        log.warning(
            "AUTHENTICATION IS OFF (BSS_AUTH=dev): every request acts as an operator with "
            "every scope; for development on %s only",
            settings.host,
        )
    services = build_services(settings)
    app = connexion.FlaskApp(
        __name__,
        jsonifier=JSONIFIER,
        validator_map=VALIDATORS,
        validate_responses=settings.validate_responses,
        swagger_ui_options=SwaggerUIOptions(swagger_ui=True),
        middlewares=middlewares(),
    )
    flask_app = app.app
    flask_app.json = WireJsonProvider(flask_app)
    flask_app.extensions["bss"] = services
    for api in APIS:
        app.add_api(
            load_spec(api.spec),
            resolver=RelativeResolver(api.handlers),
            resolver_error=501,
            name=api.name,
        )
    _add_error_handlers(app)
    _add_operational_routes(app, services)
    app.add_middleware(
        BodyLimitMiddleware, MiddlewarePosition.BEFORE_SWAGGER, max_bytes=settings.max_body_bytes
    )
    specs = [load_spec(api.spec) for api in APIS]
    app.add_middleware(RoutingGuard, MiddlewarePosition.BEFORE_SWAGGER, specs=specs)
    app.add_middleware(AuthMiddleware, MiddlewarePosition.BEFORE_ROUTING, verifier=verifier)
    if settings.rate_limit_per_minute:  # after authentication, which names the client
        rates = ClientRates(settings.rate_limit_per_minute)
        app.add_middleware(RateLimitMiddleware, MiddlewarePosition.BEFORE_VALIDATION, rates=rates)
    # outermost: error responses get the headers too
    app.add_middleware(
        SecurityHeadersMiddleware, MiddlewarePosition.BEFORE_EXCEPTION, hsts=settings.hsts
    )
    if settings.dispatcher:
        dispatcher = _dispatcher(settings, services)
        dispatcher.start()
        services.extra["dispatcher"] = dispatcher
    if settings.jobs:
        for name in BACKGROUND:
            services.extra[name].start()
    return app


def stop_background(app: connexion.FlaskApp) -> None:
    """Stops the event dispatcher and job runner threads an app started (tests, shutdown)."""
    services = app.app.extensions["bss"]
    for name in ("dispatcher", *BACKGROUND):
        worker = services.extra.get(name)
        if worker is not None:
            worker.stop()


def _dispatcher(settings: Settings, services: Services) -> Dispatcher:
    policy = DeliveryPolicy(
        max_attempts=settings.event_max_attempts, max_backoff=settings.event_max_backoff_seconds
    )
    return Dispatcher(services.extra["db"], services.extra["subscriptions"], HttpSender(), policy)


def _add_error_handlers(app: connexion.FlaskApp) -> None:
    app.add_error_handler(ProblemException, errors.problem_handler)
    app.add_error_handler(HTTPException, errors.http_handler)
    app.add_error_handler(DomainError, errors.domain_handler)
    app.add_error_handler(Exception, errors.internal_handler)

    def flask_domain_error(error: DomainError) -> Any:
        body, status = errors.domain_error_body(error)
        return body, status

    app.app.register_error_handler(DomainError, flask_domain_error)

    def json_with_charset(response: Any) -> Any:
        if response.mimetype == "application/json":
            response.headers["Content-Type"] = CONTENT_TYPE
        return response

    app.app.after_request(json_with_charset)


def _add_operational_routes(app: connexion.FlaskApp, services: Services) -> None:
    def health() -> Any:
        return {"status": "up"}

    def ready() -> Any:
        try:
            services.extra["db"].command("ping")
        except pymongo.errors.PyMongoError as error:
            log.warning("not ready: database unreachable: %s", error)  # hosts: for us only
            return errors.error_body(503, "database unreachable"), 503
        return {"status": "ready"}

    def index() -> Any:
        apis = []
        for api in APIS:
            path = base_path(load_spec(api.spec))
            apis.append({"name": api.name, "basePath": path, "swaggerUi": f"{path}/ui/"})
        return {"service": "mvno-bss", "apis": apis}

    app.add_url_rule("/health", "health", health)
    app.add_url_rule("/ready", "ready", ready)
    app.add_url_rule("/", "index", index)


def asgi() -> connexion.FlaskApp:
    """Factory for uvicorn workers: configuration from the environment only."""
    return create_app()


# command line --------------------------------------------------------------------------


def _fail(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(1)


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def _database(settings: Settings) -> tuple[Settings, EmbeddedMongo | None]:
    if settings.mongodb_uri:
        return settings, None
    embedded = EmbeddedMongo(Path(settings.data_dir) / "db")
    uri = embedded.start()
    os.environ["MONGODB_URI"] = uri  # uvicorn workers read it
    return load_settings(), embedded


def serve(settings: Settings) -> None:
    import uvicorn

    if not _port_free(settings.host, settings.port):
        _fail(f"port {settings.port} on {settings.host} is in use (set BSS_PORT to another)")
    settings = _dev_secret(settings)
    tokens.verifier(settings)  # fails here, in one line, on a key it cannot use
    settings, embedded = _database(settings)
    try:
        services = build_services(settings)  # fails here, in one line, if the DB is unreachable
        if settings.demo_data:
            created = _load_demo(services, settings)
            log.info("demo data: %d records created, the others were already there", created)
        print(f"serving on http://{settings.host}:{settings.port}/ (APIs listed there)", flush=True)
        print(_how_to_call(settings), flush=True)
        uvicorn.run(
            "app:asgi",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=settings.workers,
            log_level=settings.log_level.lower(),
            access_log=False,
            server_header=False,  # what runs us is nobody's business
        )
    finally:
        if embedded:
            embedded.stop()


def _load_demo(services: Services, settings: Settings) -> int:
    """Loads what is missing of the demo data; returns how many records it created. The
    starter catalog, billing cycles and usage specifications are the platform's (shared by
    every partner); customers, accounts, numbers, SIMs, products and bills the demo
    partner's."""
    from adapters import seeding
    from adapters.demo_billing import seed_billing
    from adapters.demo_catalog import starter_catalog
    from adapters.demo_data import demo_records
    from adapters.resource_pools import seed_demo_pools

    records = {**starter_catalog(), **demo_records()}
    shared = {path: bodies for path, bodies in records.items() if path in SHARED}
    created = seeding.load(services.resources, shared)
    with acting_for(DEMO_PARTNER):
        own = {path: bodies for path, bodies in records.items() if path not in SHARED}
        created += seeding.load(services.resources, own)
        db = services.extra["db"]
        created += seed_demo_pools(db, settings.demo_numbers, settings.demo_sims)
        created += seed_billing(services, services.extra["system"], SystemClock().now())
    return created


def _dev_secret(settings: Settings) -> Settings:
    """Out of the box on loopback: with no token key configured, tokens are signed with a
    development secret kept in the data directory (made on first start)."""
    if settings.auth != "jwt" or tokens.key_configured(settings) or not is_loopback(settings.host):
        return settings
    path = tokens.ensure_dev_secret(Path(settings.data_dir))
    os.environ["BSS_JWT_SECRET_FILE"] = str(path)  # uvicorn workers read it
    return load_settings()


def _how_to_call(settings: Settings) -> str:
    """What `serve` prints under its address: how to call the APIs with these settings."""
    url = f"http://{settings.host}:{settings.port}/tmf-api/customerManagement/v4/customer"
    if settings.auth == "dev":
        return f"AUTHENTICATION IS OFF (BSS_AUTH=dev), no token needed: curl {url}"
    if settings.jwt_secret_file != str(Path(settings.data_dir) / tokens.DEV_SECRET_FILE):
        return f"bearer tokens of {settings.jwt_issuer} for audience {settings.jwt_audience}"
    token = tokens.sign_token(settings, DEMO_PARTNER, tokens.partner_scopes())
    return (
        f"tokens: signed with the development secret in {settings.jwt_secret_file} (README, "
        f"Security: your identity provider instead)\ndemo token (partner {DEMO_PARTNER}, every "
        "scope but operator, valid 24 hours; others: python app.py token --help):\n"
        f'  export TOKEN={token}\n  curl -H "Authorization: Bearer $TOKEN" {url}'
    )


def token(settings: Settings, partner: str | None, scopes: list[str], operator: bool) -> None:
    """Prints a token signed with the shared secret (the development one unless configured):
    for `partner` (default the demo partner; none for an operator) with `scopes` (default
    every scope of the APIs but operator), plus the operator scope if asked."""
    settings = _dev_secret(settings)
    granted = set(scopes or tokens.partner_scopes()) | ({OPERATOR} if operator else set())
    if partner is None and not operator:
        partner = DEMO_PARTNER
    print(tokens.sign_token(settings, partner, granted), flush=True)


def worker(settings: Settings) -> None:
    settings, embedded = _database(settings)
    try:
        services = build_services(settings)
        runners = [services.extra[name] for name in BACKGROUND]
        for runner in runners:
            runner.start()
        print(
            "event dispatcher, catalog jobs, order fulfilment, usage rating and bill runs "
            "running; Ctrl-C to stop",
            flush=True,
        )
        try:
            with contextlib.suppress(KeyboardInterrupt):
                _dispatcher(settings, services).run_forever()
        finally:
            for runner in runners:
                runner.stop()
    finally:
        if embedded:
            embedded.stop()


@contextlib.contextmanager
def _command(settings: Settings, stopped: str) -> Iterator[Services]:
    """The services of a command, on the configured database or the embedded one, closed
    after; a database or domain error ends the command saying `stopped` (a format string
    of `error`)."""
    settings, embedded = _database(settings)
    try:
        services = build_services(settings)
        with services.extra["db"].client:
            try:
                yield services
            except (pymongo.errors.PyMongoError, DomainError) as error:
                _fail(stopped.format(error=error))
    finally:
        if embedded:
            embedded.stop()


def rate_usage(settings: Settings, files: list[str]) -> None:
    """Ingests CDR files (JSON lines or CSV) through bulk rating and prints each report."""
    from adapters.usage_files import read_usage_file

    paths = [Path(name) for name in files]
    for path in paths:
        if not path.is_file():
            _fail(f"{path}: no such file")
    stopped = (
        "rating stopped ({error}); what was stored is kept: send the files again, records "
        "already received are skipped"
    )
    with _command(settings, stopped) as services:
        for path in paths:
            batch = services.extra["usage_rating"].ingest(read_usage_file(path), source=path.name)
            counts = ", ".join(
                f"{batch[key]} {key}"
                for key in ("total", "rated", "rejected", "duplicate", "malformed")
            )
            print(f"{path}: {counts} (usageBatch {batch['id']})", flush=True)
            for error in batch.get("error") or []:
                print(f"  record {error['index']}: {error['reason']}")


def bill_run(settings: Settings, at: str | None, accounts: list[str]) -> None:
    """Bills the accounts (all, or the given ones) for their period holding `at` (default
    now) and prints what the run did; a run stopped halfway is resumed by running it again."""
    moment = _instant_option(at)
    with _command(settings, "bill run stopped ({error}); run it again to resume") as services:
        summary = services.extra["billing"].run(moment, accounts or None).as_dict()
    print(
        f"bill run at {summary['at']}: {summary['billed']} billed, "
        f"{summary['alreadyBilled']} already billed, {summary['nothingToBill']} with "
        f"nothing to bill, {len(summary['failed'])} failed",
        flush=True,
    )
    for failure in summary["failed"]:
        print(f"  account {failure['account']}: {failure['reason']}")


def run_dunning(settings: Settings, at: str | None) -> None:
    """Takes the dunning steps due at `at` (default now) and prints what was done; the
    bill runner does the same after each bill run."""
    moment = _instant_option(at)
    with _command(settings, "dunning stopped ({error}); run it again to resume") as services:
        report = services.extra["dunning"].run(moment)
    print(
        f"dunning at {report.at}: {report.reminded} bills reminded, {report.suspended} "
        f"bills at the suspension step ({len(report.orders)} suspension orders), "
        f"{len(report.failed)} failed",
        flush=True,
    )
    for failure in report.failed:
        print(f"  bill {failure['bill']}: {failure['reason']}")


def revenue_assurance(settings: Settings, period: str | None) -> None:
    """Prints the revenue assurance report of a month: totals, then each discrepancy and
    what is pending or to follow up."""
    from domain.revenue_assurance import Month

    try:
        month = str(Month.parse(period or ""))
    except DomainError as error:
        _fail(f"revenue-assurance --{error}")
    with _command(settings, "revenue assurance stopped: {error}") as services:
        report = services.extra["revenue_assurance"].report(month)
    print(report_text(report), flush=True)


def _instant_option(text: str | None) -> Any:
    """An --at option: an ISO 8601 instant, or None (now)."""
    from domain.instants import parse_instant

    try:
        return parse_instant(text) if text else None
    except DomainError as error:
        _fail(f"--at: {error}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "command",
        nargs="?",
        default="serve",
        choices=[
            "serve",
            "worker",
            "rate-usage",
            "bill-run",
            "dunning",
            "revenue-assurance",
            "token",
        ],
    )
    parser.add_argument("files", nargs="*", help="rate-usage: CDR files (.jsonl or .csv)")
    parser.add_argument(
        "--at",
        help="bill-run: the instant whose periods to bill; dunning: the instant bills are "
        "overdue at (default now)",
    )
    parser.add_argument(
        "--account", action="append", default=[], help="bill-run: only this account (repeatable)"
    )
    parser.add_argument("--period", help="revenue-assurance: the month to check, YYYY-MM")
    parser.add_argument("--partner", help="token: the partner it acts for (default demo)")
    parser.add_argument(
        "--scope", action="append", default=[], help="token: a scope (repeatable; default all)"
    )
    parser.add_argument(
        "--operator", action="store_true", help="token: with the operator scope (no partner)"
    )
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
        configure_logging(settings.log_level)
        if args.command == "rate-usage":
            rate_usage(settings, args.files)
        elif args.command == "bill-run":
            bill_run(settings, args.at, args.account)
        elif args.command == "dunning":
            run_dunning(settings, args.at)
        elif args.command == "revenue-assurance":
            revenue_assurance(settings, args.period)
        elif args.command == "token":
            token(settings, args.partner, args.scope, args.operator)
        else:
            {"serve": serve, "worker": worker}[args.command](settings)
    except (InvalidSettings, DatabaseUnavailable) as error:
        _fail(str(error))


if __name__ == "__main__":
    main()
