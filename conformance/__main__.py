"""Command line: run the conformance suite against our app or any server, print the summary.

The run creates resources on the server it tests (and registers hub listeners with made-up
callback URLs): aim it at a test instance, never at production.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Any

import requests

from adapters.embedded_db import DatabaseUnavailable, EmbeddedMongo
from conformance.suite import APIS, Report, api_url, configure, our_app, prepare, run

DEFAULT_SEED = 629


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m conformance", description=__doc__)
    parser.add_argument("--base-url", help="server to test, e.g. http://127.0.0.1:8080")
    parser.add_argument("--api", choices=sorted(APIS), default="customer")
    parser.add_argument("--max-examples", type=int, default=50, help="per operation and phase")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args(argv)
    api = APIS[args.api]
    config = {"max_examples": args.max_examples, "seed": args.seed}
    try:
        if args.base_url:
            url = api_url(args.base_url, api)
            print(f"testing {url} against openapi/{api.spec}", flush=True)
            with requests.Session() as session:
                spec = prepare(session, url, api)
            report = run(spec, configure(**config, base_url=url))
        else:
            print(f"testing our app in-process against openapi/{api.spec}", flush=True)
            with _database() as mongo_uri, our_app(mongo_uri) as app:
                spec = prepare(app.test_client(), api_url("", api), api)
                report = run(spec, configure(**config), app=app)
    except (requests.RequestException, DatabaseUnavailable, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return _finish(report)


@contextlib.contextmanager
def _database() -> Iterator[str]:
    """MONGODB_URI when set, otherwise a throwaway embedded server."""
    given = os.environ.get("MONGODB_URI")
    if given:
        yield given
        return
    server = EmbeddedMongo(":memory:")
    try:
        yield server.start()
    finally:
        server.stop()


def _finish(report: Report) -> Any:
    print(report.summary())
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
