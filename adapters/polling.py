"""The background loop of the workers that poll the database for work (the event dispatcher,
the catalog job runner): run a pass, sleep when it found nothing, until stopped."""

from __future__ import annotations

import logging
import threading

import pymongo.errors


class PollingWorker:
    """Subclasses implement run_once(), returning how much work it did."""

    thread_name = "poller"
    log = logging.getLogger("bss")
    idle_sleep = 0.2  # seconds between passes that found nothing

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> int:
        raise NotImplementedError

    def start(self, idle_sleep: float | None = None) -> None:
        self._thread = threading.Thread(
            target=self.run_forever, args=(idle_sleep,), name=self.thread_name, daemon=True
        )
        self._thread.start()

    def run_forever(self, idle_sleep: float | None = None) -> None:
        idle_sleep = self.idle_sleep if idle_sleep is None else idle_sleep
        while not self._stop.is_set():
            try:
                handled = self.run_once()
            except pymongo.errors.PyMongoError as error:
                self.log.warning("%s: database error, retrying: %s", self.thread_name, error)
                handled = 0
            if not handled:
                self._stop.wait(idle_sleep)

    @property
    def stopping(self) -> bool:
        """True once stop() was called: long passes end early."""
        return self._stop.is_set()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
