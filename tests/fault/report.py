"""The fault suite (`pytest -m fault`): faults injected into the real stack, each counted.

Every fault test records one row with `fault_report.add(...)`; the table of all rows is printed at
the end of the run, so a reader sees at a glance that nothing was lost, applied twice or reordered.

A plugin (named in tests/conftest.py), not tests/fault/conftest.py: with pytest-xdist the process
that prints the summary collects nothing, so it never loads a conftest below tests/.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, cast

import pytest


@dataclass(frozen=True)
class FaultRow:
    fault: str
    events: int
    lost: int
    applied_twice: int
    out_of_order: int
    recovery_seconds: float


@dataclass
class FaultReport:
    rows: list[FaultRow]
    notes: list[str] = field(default_factory=list)
    """Figures a fault test measured besides its counts (throughput), printed under the table."""

    def note(self, line: str) -> None:
        self.notes.append(line)

    def add(
        self,
        fault: str,
        *,
        events: int,
        lost: int,
        applied_twice: int,
        out_of_order: int,
        recovery_seconds: float,
    ) -> FaultRow:
        row = FaultRow(fault, events, lost, applied_twice, out_of_order, recovery_seconds)
        self.rows.append(row)
        return row


_ROWS: list[FaultRow] = []
_NOTES: list[str] = []
_PROPERTY = "fault_row"
_NOTE = "fault_note"


@pytest.fixture
def fault_report(request: pytest.FixtureRequest) -> Iterator[FaultReport]:
    """Rows travel in the test's report, so that with pytest-xdist they reach the process that
    prints the table (`pytest_runtest_logreport` runs there, with or without workers)."""
    report = FaultReport([])
    yield report
    request.node.user_properties.extend((_PROPERTY, asdict(row)) for row in report.rows)
    request.node.user_properties.extend((_NOTE, note) for note in report.notes)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "teardown":
        rows = [row for name, row in report.user_properties if name == _PROPERTY]
        _ROWS.extend(FaultRow(**cast(dict[str, Any], row)) for row in rows)
        _NOTES.extend(str(note) for name, note in report.user_properties if name == _NOTE)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/fault/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.fault)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _ROWS:
        return
    header = ("fault", "events", "lost", "applied twice", "out of order", "recovery s")
    lines = [
        (
            r.fault,
            str(r.events),
            str(r.lost),
            str(r.applied_twice),
            str(r.out_of_order),
            f"{r.recovery_seconds:.2f}",
        )
        for r in _ROWS
    ]
    widths = [max(len(row[i]) for row in [header, *lines]) for i in range(len(header))]
    terminalreporter.section("fault table")
    for row in [header, *lines]:
        terminalreporter.write_line("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
    for note in _NOTES:
        terminalreporter.write_line(note)
