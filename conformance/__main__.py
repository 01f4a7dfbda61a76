"""Run the conformance suite against our app (in-process) or any server; print a summary.

Exit status: 0 when every check passed, 1 when some failed, 2 when the run could not start.
Against a server, the run creates customers, places orders and registers hub listeners (with
callbacks on the unresolvable .invalid domain) there: aim it at a test instance, never at
production. For --api account it creates billing accounts of a demo customer on a demo bill
cycle, which needs the server's demo data. For --api inventory, usage and bill it orders mobile
lines for a customer of its own, which needs the server's demo data (starter catalog, number
and SIM pools) and order fulfilment running; --api usage then sends usage batches: records of
such a line (rated) and of a number no line has (rejected); --api bill rates roaming usage of
such a line and asks for bills on demand of it (real bills, with bill numbers, on that server).
For --api payment it opens billing accounts of a demo customer and records payments (bank
transfers, kept as credit) and refunds on them. A server that checks bearer tokens needs one
with every scope of the API (--token, or BSS_TOKEN; `make run` prints one): every request
carries it, and each operation is also called once without it and once with a made-up one,
which must fail.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator

import requests

from adapters.embedded_db import DatabaseUnavailable, EmbeddedMongo
from conformance.report import Report
from conformance.suite import (
    APIS,
    Server,
    api_url,
    bearer,
    configure,
    our_app,
    prepare,
    run,
    server_url,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m conformance",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--base-url",
        help="server to test, e.g. http://127.0.0.1:8080 (the API's base path is added)",
    )
    parser.add_argument("--api", choices=sorted(APIS), default="customer")
    parser.add_argument(
        "--token",
        default=os.environ.get("BSS_TOKEN"),
        help="bearer token for --base-url (default $BSS_TOKEN)",
    )
    parser.add_argument(
        "--max-examples", type=int, default=50, help="generated requests per operation and phase"
    )
    parser.add_argument(
        "--seed",
        type=int,
        help="draw other inputs than the default, reproducible run (explore with a few seeds)",
    )
    args = parser.parse_args(argv)
    try:
        report = _run(args)
    except (requests.RequestException, DatabaseUnavailable, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(report.summary())
    return 0 if report.passed else 1


def _run(args: argparse.Namespace) -> Report:
    api = APIS[args.api]
    if args.base_url:
        url = api_url(args.base_url, api)
        print(f"testing {url} against openapi/{api.spec}", flush=True)
        with requests.Session() as session:
            session.headers.update(bearer(args.token) if args.token else {})
            spec = prepare(Server.remote(session, server_url(url, api)), api)
        config = configure(
            api, max_examples=args.max_examples, seed=args.seed, base_url=url, token=args.token
        )
        return run(spec, config)
    print(f"testing our app in-process against openapi/{api.spec}", flush=True)
    with _database() as mongo_uri, our_app(mongo_uri, api) as (app, token):
        spec = prepare(Server.in_process(app, token), api)
        config = configure(api, max_examples=args.max_examples, seed=args.seed, token=token)
        return run(spec, config, app=app)


@contextlib.contextmanager
def _database() -> Iterator[str]:
    """MONGODB_URI when set (our_app uses a database of its own there), else a throwaway one."""
    given = os.environ.get("MONGODB_URI")
    if given:
        yield given
        return
    server = EmbeddedMongo(":memory:")
    try:
        yield server.start()
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
