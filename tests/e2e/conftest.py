"""End-to-end fixtures: whole apps over HTTP (the connexion test client).

Building an app costs far more than a request, so the e2e tier overrides the root `app` and
`client` fixtures: every test that asks for them gets one app with default test settings,
shared by the session, and an empty database (every collection emptied before the test;
indexes stay). A test that needs other settings builds its own with `running_app`.

A test client is used as a context manager: it then keeps one event loop for all its
requests instead of starting one per request, which makes a request about ten times cheaper.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from app import create_app, stop_background
from conftest import make_settings


def fresh_database_name() -> str:
    return f"e2e_{uuid.uuid4().hex[:12]}"


@contextlib.contextmanager
def running_app(mongo_uri: str, database_name: str, **overrides: Any) -> Iterator[Any]:
    """An app on `database_name`; stops its threads and drops the database afterwards."""
    application = create_app(make_settings(mongo_uri, database_name, **overrides))
    try:
        yield application
    finally:
        stop_background(application)
        mongo = application.app.extensions["bss"].extra["db"].client
        mongo.drop_database(database_name)
        mongo.close()


def database_of(application: Any) -> Any:
    """The pymongo database behind an app, to count what HTTP cannot show (outbox, hub)."""
    return application.app.extensions["bss"].extra["db"]


@pytest.fixture(scope="session")
def shared_app(mongo_uri: str) -> Iterator[Any]:
    with running_app(mongo_uri, fresh_database_name()) as application:
        yield application


@pytest.fixture(scope="session")
def shared_client(shared_app: Any) -> Iterator[Any]:
    with shared_app.test_client() as test_client:
        yield test_client


@pytest.fixture
def app(shared_app: Any) -> Any:
    """The shared app, its database as good as new."""
    db = database_of(shared_app)
    for name in db.list_collection_names():
        db[name].delete_many({})
    return shared_app


@pytest.fixture
def client(app: Any, shared_client: Any) -> Any:
    return shared_client
