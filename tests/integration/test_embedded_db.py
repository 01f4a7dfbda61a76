"""The embedded SecantusDB child process: start, persist, stop, and refuse a shared directory.

Each test starts its own servers on a temporary directory; a start takes about a second and
a clean stop about two, so this file stays to the few behaviours that need a real process.
"""

from __future__ import annotations

from pathlib import Path

import pymongo
import pymongo.errors
import pytest

from adapters.embedded_db import DatabaseUnavailable, EmbeddedMongo


def processes_serving(storage: Path) -> list[int]:
    """Pids of live processes whose command line names this storage directory."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            arguments = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if str(storage).encode() in arguments:
            pids.append(int(entry.name))
    return pids


def answers(uri: str) -> bool:
    client: pymongo.MongoClient = pymongo.MongoClient(uri, serverSelectionTimeoutMS=300)
    try:
        client.admin.command("ping")
        return True
    except pymongo.errors.PyMongoError:
        return False
    finally:
        client.close()


@pytest.fixture
def storage(tmp_path: Path) -> Path:
    return tmp_path / "db"


@pytest.fixture
def server(storage: Path):
    running = EmbeddedMongo(storage)
    yield running
    running.stop()


class TestEmbeddedMongo:
    def test_data_written_survives_a_stop_and_a_start(self, storage, server):
        with pymongo.MongoClient(server.start()) as client:
            client.bss.customer.insert_one({"id": "c1", "name": "Ada"})
        server.stop()

        again = EmbeddedMongo(storage)
        try:
            with pymongo.MongoClient(again.start()) as client:
                found = client.bss.customer.find_one({"id": "c1"}, {"_id": 0})
        finally:
            again.stop()

        assert found == {"id": "c1", "name": "Ada"}

    def test_stop_ends_the_server_process(self, storage, server):
        uri = server.start()
        running = processes_serving(storage)

        server.stop()

        assert len(running) == 1
        assert processes_serving(storage) == []
        assert not answers(uri)

    def test_a_second_server_on_the_same_directory_is_refused_in_one_line(self, storage, server):
        uri = server.start()

        with pytest.raises(DatabaseUnavailable) as refused:
            EmbeddedMongo(storage).start(timeout=20)

        message = str(refused.value)
        assert "\n" not in message
        assert str(storage) in message
        assert "in use" in message
        assert answers(uri)
        assert len(processes_serving(storage)) == 1

    def test_stopping_a_server_that_is_not_running_is_harmless(self, storage):
        idle = EmbeddedMongo(storage)

        idle.stop()
        idle.stop()

        assert processes_serving(storage) == []
