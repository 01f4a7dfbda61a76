"""Who the current unit of work acts for: the principal of an API request (set by the
authentication middleware) or, in background work, SYSTEM for the partner of the resource
being worked on. The repository layer reads it to scope every query and stamp every write
(adapters/mongo.py): the one choke point of partner isolation."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import replace

from domain.security import SYSTEM, Principal

_principal: ContextVar[Principal] = ContextVar("principal", default=SYSTEM)


def principal() -> Principal:
    """The principal of the current request or unit of work (SYSTEM by default)."""
    return _principal.get()


def partner() -> str | None:
    """The partner the current work is for; None: every partner (operator or system)."""
    return _principal.get().partner


@contextmanager
def acting_as(who: Principal) -> Iterator[Principal]:
    token = _principal.set(who)
    try:
        yield who
    finally:
        _principal.reset(token)


@contextmanager
def acting_for(partner_id: str | None) -> Iterator[Principal]:
    """Background work on a resource of `partner_id`: as the current principal (SYSTEM in a
    worker), for that partner."""
    with acting_as(replace(_principal.get(), partner=partner_id)) as who:
        yield who
