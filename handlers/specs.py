"""Our OpenAPI documents: one per API, plus the shared components merged into each."""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path
from typing import Any

import yaml

SPEC_DIR = Path(__file__).resolve().parent.parent / "openapi"
COMMON = "common.yaml"


@cache
def _read(name: str) -> dict[str, Any]:
    with open(SPEC_DIR / name, encoding="utf-8") as file:
        return yaml.safe_load(file)


def load_spec(name: str) -> dict[str, Any]:
    """The complete document of one API, as served and as tested."""
    spec = copy.deepcopy(_read(name))
    common = _read(COMMON)["components"]
    components = spec.setdefault("components", {})
    for section, entries in common.items():
        merged = components.setdefault(section, {})
        for key, value in entries.items():
            if key in merged:
                raise ValueError(f"{name}: components.{section}.{key} is already in {COMMON}")
            merged[key] = copy.deepcopy(value)
    return spec


def base_path(spec: dict[str, Any]) -> str:
    return str(spec["servers"][0]["url"]).rstrip("/")
