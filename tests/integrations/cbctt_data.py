"""Where the CB-CTT benchmark files live (copied into the project, see bench/cb-ctt/SOURCE.md)."""

import csv
from functools import cache
from pathlib import Path

from integrations.ctt import Instance, read_instance

DATA = Path(__file__).resolve().parents[2] / "bench" / "cb-ctt"
INSTANCES = tuple(f"comp{n:02}" for n in range(1, 22))


@cache
def instance(name: str) -> Instance:
    return read_instance((DATA / f"{name}.ctt").read_text())


def best_known_rows() -> list[dict[str, str]]:
    with (DATA / "best_known.csv").open() as rows:
        return list(csv.DictReader(rows))
