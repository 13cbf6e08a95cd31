"""The fault suite's fixture and table live in the `tests.fault.report` plugin."""

from tests.fault.report import FaultReport, FaultRow

__all__ = ["FaultReport", "FaultRow"]
