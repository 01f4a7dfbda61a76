"""Shared fixtures: one throwaway database server per test session, a fresh database per test.

Set BSS_TEST_MONGODB_URI to run the suite against another server (e.g. a MongoDB replica set).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pymongo
import pytest

from adapters.embedded_db import EmbeddedMongo
from adapters.settings import Settings, load_settings

PUBLIC_BASE = "http://bss.test"


@pytest.fixture(scope="session")
def mongo_uri() -> Iterator[str]:
    given = os.environ.get("BSS_TEST_MONGODB_URI")
    if given:
        yield given
        return
    server = EmbeddedMongo(":memory:")
    yield server.start()
    server.stop()


@pytest.fixture
def database_name() -> str:
    return f"t_{uuid.uuid4().hex[:12]}"


@pytest.fixture
def db(mongo_uri: str, database_name: str) -> Iterator[Any]:
    from adapters.mongo import connect

    database = connect(mongo_uri, database_name)
    yield database
    database.client.drop_database(database_name)
    database.client.close()


def make_settings(mongo_uri: str, database_name: str, **overrides: Any) -> Settings:
    values = {
        "mongodb_uri": mongo_uri,
        "mongodb_database": database_name,
        "dispatcher": False,
        "jobs": False,  # tests run catalog jobs with JobRunner.run_once()
        "validate_responses": True,
        "public_base_url": PUBLIC_BASE,
        "demo_data": False,
        "network_latency_ms": 0,  # the simulated network answers at once
        "rate_limit_per_minute": 0,  # tests of rate limiting set their own
        # no tokens: every request acts as an operator with every scope (tests/e2e/
        # test_security.py runs the apps with auth="jwt")
        "auth": "dev",
    }
    values.update(overrides)
    return load_settings(values, environ={})


@pytest.fixture
def settings(mongo_uri: str, database_name: str) -> Settings:
    return make_settings(mongo_uri, database_name)


@pytest.fixture
def app(settings: Settings) -> Iterator[Any]:
    from app import create_app, stop_background

    application = create_app(settings)
    yield application
    stop_background(application)
    services = application.app.extensions["bss"]
    client: pymongo.MongoClient = services.extra["db"].client
    client.drop_database(settings.mongodb_database)
    client.close()


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()
