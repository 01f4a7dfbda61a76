"""State machines of TMF resources (status, lifecycleStatus, state)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from domain.errors import IllegalTransition, InvalidRequest


@dataclass(frozen=True)
class Lifecycle:
    attribute: str
    transitions: Mapping[str, frozenset[str]]
    initial: str
    creatable: frozenset[str]

    def initial_state(self, requested: str | None) -> str:
        if requested is None:
            return self.initial
        if requested not in self.creatable:
            allowed = ", ".join(sorted(self.creatable))
            raise InvalidRequest(f"{self.attribute}: a new resource can start in {allowed} only")
        return requested

    def path(self, current: str, target: str) -> list[str]:
        """The shortest chain of allowed transitions from current to target (both excluded
        and included respectively); raises IllegalTransition when there is none."""
        routes: dict[str, list[str]] = {current: []}
        frontier = [current]
        while frontier:
            state = frontier.pop(0)
            if state == target:
                return routes[state]
            for following in sorted(self.transitions.get(state, frozenset())):
                if following not in routes:
                    routes[following] = [*routes[state], following]
                    frontier.append(following)
        raise IllegalTransition(f"{self.attribute}: {target} cannot be reached from {current}")

    def check(self, current: str, target: str) -> None:
        if target == current:
            return
        if target not in self.transitions:
            raise InvalidRequest(f"{self.attribute}: '{target}' is not a known state")
        allowed = self.transitions.get(current, frozenset())
        if target not in allowed:
            choices = ", ".join(sorted(allowed)) or "none (final state)"
            raise IllegalTransition(
                f"{self.attribute}: {current} -> {target} is not allowed; from {current}: {choices}"
            )
