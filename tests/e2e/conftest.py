"""End-to-end fixtures: whole apps over HTTP (the connexion test client), each on its own database.

The `client` fixture of the root conftest gives a fresh app and database per test; the
module-scoped helpers here let read-only tests share one populated app.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from typing import Any

from app import create_app
from conftest import make_settings


def fresh_database_name() -> str:
    return f"e2e_{uuid.uuid4().hex[:12]}"


@contextlib.contextmanager
def running_app(mongo_uri: str, database_name: str, **overrides: Any) -> Iterator[Any]:
    """An app on `database_name`; stops its dispatcher and drops the database afterwards."""
    application = create_app(make_settings(mongo_uri, database_name, **overrides))
    try:
        yield application
    finally:
        services = application.app.extensions["bss"]
        dispatcher = services.extra.get("dispatcher")
        if dispatcher is not None:
            dispatcher.stop()
        mongo = services.extra["db"].client
        mongo.drop_database(database_name)
        mongo.close()


def database_of(application: Any) -> Any:
    """The pymongo database behind an app, to count what HTTP cannot show (outbox, hub)."""
    return application.app.extensions["bss"].extra["db"]
