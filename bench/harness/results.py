"""Raw samples of one benchmark run, their medians and ratios, and JSON."""
from __future__ import annotations

import json
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .loops import LOOPS, PEERS

__all__ = ["LOOPS", "PEERS", "Cell", "Row", "Results"]


@dataclass
class Cell:
    """One loop on one workload: a sample per successful round."""

    ops: list[float] = field(default_factory=list)      # operations per second
    cpu: list[float] = field(default_factory=list)      # CPU per operation (row's cpu_unit)
    extra: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def add(self, ops: float, cpu: float, extra: dict[str, Any] | None = None) -> None:
        self.ops.append(ops)
        self.cpu.append(cpu)
        self.extra.append(extra or {})

    def median_ops(self) -> float | None:
        return statistics.median(self.ops) if self.ops else None

    def median_cpu(self) -> float | None:
        return statistics.median(self.cpu) if self.cpu else None


@dataclass
class Row:
    group: str       # "echo", "http" or "micro"
    name: str
    cpu_unit: str    # "us" or "ns" per operation
    cells: dict[str, Cell] = field(default_factory=dict)

    def cell(self, loop: str) -> Cell:
        return self.cells.setdefault(loop, Cell())

    def median(self, metric: str, loop: str) -> float | None:
        cell = self.cells.get(loop)
        if cell is None:
            return None
        return cell.median_ops() if metric == "ops" else cell.median_cpu()

    def ratio(self, metric: str, num: str, den: str) -> float | None:
        x, y = self.median(metric, num), self.median(metric, den)
        return x / y if x is not None and y else None

    def best_peer(self, metric: str) -> str | None:
        """The peer (PEERS) with the lowest CPU per operation, or the highest
        throughput, on this row; None when no peer has a number."""
        measured = [(value, peer) for peer in PEERS
                    if (value := self.median(metric, peer)) is not None]
        if not measured:
            return None
        pick = max if metric == "ops" else min
        return pick(measured)[1]


@dataclass
class Results:
    env: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    rows: list[Row] = field(default_factory=list)
    idle: dict[str, dict[str, Any]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)   # anomalies: stderr output, unclean exits
    seconds: float = 0.0

    def row(self, group: str, name: str, cpu_unit: str = "us") -> Row:
        for row in self.rows:
            if row.group == group and row.name == name:
                return row
        row = Row(group, name, cpu_unit)
        self.rows.append(row)
        return row

    def failures(self) -> list[tuple[Row, str, str]]:
        return [(row, loop, err) for row in self.rows
                for loop, cell in row.cells.items() for err in cell.errors]

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=1) + "\n")

    @classmethod
    def load(cls, path: Path) -> "Results":
        """A saved run, to draw its report again without measuring."""
        data = json.loads(path.read_text())
        rows = [Row(r["group"], r["name"], r["cpu_unit"],
                    {loop: Cell(**cell) for loop, cell in r["cells"].items()})
                for r in data.pop("rows")]
        return cls(rows=rows, **data)
