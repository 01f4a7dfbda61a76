"""SecantusDB as a child process: the default database when MONGODB_URI is unset.

SecantusDB is GPL-2.0, so we run its server and never import it. The child is stopped on
exit, on Ctrl-C and, through PR_SET_PDEATHSIG, when the parent dies without cleaning up.
"""

from __future__ import annotations

import atexit
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pymongo
import pymongo.errors

SERVER_COMMAND = "secantusd-py"
STOP_GRACE_SECONDS = 20


class DatabaseUnavailable(RuntimeError):
    """The database cannot be started or reached; the message is one line for a human."""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def _die_with_parent() -> None:
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    pr_set_pdeathsig = 1
    libc.prctl(pr_set_pdeathsig, signal.SIGTERM)


class EmbeddedMongo:
    def __init__(self, storage_path: str | Path, host: str = "127.0.0.1") -> None:
        self.storage_path = str(storage_path)
        self.host = host
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._log_path = (
            Path(self.storage_path).with_suffix(".log")
            if self.storage_path != ":memory:"
            else Path(os.environ.get("TMPDIR", "/tmp")) / f"secantus-{os.getpid()}.log"
        )

    @property
    def uri(self) -> str:
        return f"mongodb://{self.host}:{self.port}/?directConnection=true"

    def start(self, timeout: float = 60.0) -> str:
        executable = shutil.which(SERVER_COMMAND, path=str(Path(sys.executable).parent))
        executable = executable or shutil.which(SERVER_COMMAND)
        if executable is None:
            raise DatabaseUnavailable(f"{SERVER_COMMAND} not found: install the SecantusDB package")
        if self.storage_path != ":memory:":
            Path(self.storage_path).mkdir(parents=True, exist_ok=True)
        self.port = free_port(self.host)
        command = [executable, "--host", self.host, "--port", str(self.port)]
        command += ["--storage-path", self.storage_path, "--log-level", "WARNING"]
        # Standalone: no oplog. As a single-node replica set it keeps one (for change
        # streams, which we do not use) and, past its 100,000-entry cap, decodes and deletes
        # the oldest entries on every commit: bulk rating spent half the server's time there.
        # Transactions work the same either way.
        command += ["--standalone"]
        log = open(self._log_path, "ab")  # noqa: SIM115 - handed to the child
        self._process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C reaches us; we stop the child cleanly
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )
        log.close()
        atexit.register(self.stop)
        self._wait_until_up(timeout)
        return self.uri

    def _wait_until_up(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        client: pymongo.MongoClient = pymongo.MongoClient(self.uri, serverSelectionTimeoutMS=500)
        try:
            while time.monotonic() < deadline:
                assert self._process is not None
                if self._process.poll() is not None:
                    raise DatabaseUnavailable(self._why_it_died())
                try:
                    client.admin.command("ping")
                    return
                except pymongo.errors.PyMongoError:
                    time.sleep(0.1)
        finally:
            client.close()
        self.stop()
        raise DatabaseUnavailable(f"embedded database did not answer within {timeout:.0f}s")

    def _why_it_died(self) -> str:
        tail = self._log_path.read_text(errors="replace").strip().splitlines()[-1:] or [""]
        last = tail[0]
        if "resource busy" in last or "Resource busy" in last:
            return (
                f"database directory {self.storage_path} is in use by another process "
                "(is the server already running?)"
            )
        return f"embedded database exited at start: {last or 'no output'} (log: {self._log_path})"

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
