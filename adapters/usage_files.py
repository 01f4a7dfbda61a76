"""CDR files: usage records read one at a time, never the whole file in memory.

Two formats, chosen by the file name:
- JSON lines (`.jsonl`, `.ndjson`, `.json`): one TMF635 Usage_Create object per line;
- CSV (`.csv`): a header row, then one record per row with the columns
  externalId, usageType, usageDate, msisdn, bytes, durationSeconds, messages, calledNumber,
  visitedCountry, visitedNetwork, description (any order; empty cells are left out).

A line that cannot be read (bad JSON, wrong column count) becomes a `Malformed` record: it is
reported with its line number and the rest of the file goes in.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

CHARACTERISTICS = (
    "msisdn",
    "bytes",
    "durationSeconds",
    "messages",
    "calledNumber",
    "visitedCountry",
    "visitedNetwork",
)
COUNTS = frozenset({"bytes", "durationSeconds", "messages"})
TOP_LEVEL = ("externalId", "usageType", "usageDate", "description")


@dataclass(frozen=True)
class Malformed:
    """A line that is not a record at all."""

    reason: str


def read_usage_file(path: Path) -> Iterator[Any]:
    """The file's records in order: Usage_Create bodies, or Malformed for unreadable lines."""
    if path.suffix.lower() == ".csv":
        return _csv(path)
    return _json_lines(path)


def _json_lines(path: Path) -> Iterator[Any]:
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                yield json.loads(line, parse_float=Decimal)
            except json.JSONDecodeError as error:
                yield Malformed(f"line {number}: not JSON ({error.msg})")


def _csv(path: Path) -> Iterator[Any]:
    with path.open(encoding="utf-8", newline="") as rows:
        reader = csv.DictReader(rows)
        for row in reader:
            if None in row or None in row.values():
                yield Malformed(f"line {reader.line_num}: wrong number of columns")
                continue
            yield usage_of_row(row)


def usage_of_row(row: dict[str, str]) -> dict[str, Any]:
    usage: dict[str, Any] = {key: row[key] for key in TOP_LEVEL if row.get(key)}
    characteristics = []
    for name in CHARACTERISTICS:
        value: Any = row.get(name)
        if not value:
            continue
        if name in COUNTS and value.isdigit():
            value = int(value)
        value_type = "integer" if isinstance(value, int) else "string"
        characteristics.append({"name": name, "value": value, "valueType": value_type})
    usage["usageCharacteristic"] = characteristics
    return usage
