"""The pytest plugin that makes each unit of a report's plan file one test item (refdropout.reports.units).

    python -m pytest -p refdropout.reports.units_plugin [-n N | --tx SPEC ...] RECORDS/units.json

collects the plan file ``units.json`` as one item per unit, its ID ``NAME-seedSEED``; pytest-xdist
distributes the items over its workers. An item calls its report's ``run_unit(name, seed, profile=,
clauses=)`` (with the plan's ``declared``, where it has any) and writes the record beside the plan
file, whole; an item whose record is there already is skipped, saying so. An item whose run raises
fails, leaving what it raised in ``NAME-SEED.error`` for the report to name.
"""

from __future__ import annotations

import importlib
import traceback
from collections.abc import Iterator
from typing import Any

import pytest

from .units import PLAN, Plan, Unit, read_plan, record_path, recorded, write_json

__all__ = ["PlanFile", "UnitItem", "pytest_collect_file"]


def pytest_collect_file(file_path: Any, parent: pytest.Collector) -> pytest.Collector | None:
    """The plan file is collected as its units; nothing else is this plugin's."""
    return PlanFile.from_parent(parent, path=file_path) if file_path.name == PLAN else None


class PlanFile(pytest.File):
    """A plan file: one item per unit, in the plan's order."""

    def collect(self) -> Iterator[pytest.Item]:
        plan = read_plan(self.path)
        for unit in plan.units:
            yield UnitItem.from_parent(self, name=f"{unit.name}-seed{unit.seed}", plan=plan, unit=unit)


class UnitItem(pytest.Item):
    """One unit: its run, its record written whole; skipped where its record exists."""

    def __init__(self, *, plan: Plan, unit: Unit, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.plan, self.unit = plan, unit

    def runtest(self) -> None:
        directory = self.path.parent
        record, error = record_path(directory, self.unit), record_path(directory, self.unit, ".error")
        if recorded(self.plan, directory, self.unit) is not None:
            pytest.skip(f"{self.unit}: done already, {record} holds its record")
        run_unit = importlib.import_module(f"refdropout.reports.{self.plan.report}").run_unit
        key, unit = self.plan.key(self.unit), self.unit
        try:
            result = run_unit(unit.name, unit.seed, profile=self.plan.profile, clauses=list(unit.clauses),
                              **self.plan.declared)
        except Exception as raised:  # any error of the unit is its failure, named to the report
            write_json(error, {"unit": key, "error": traceback.format_exception_only(raised)[-1].strip()})
            raise
        write_json(record, {"unit": key, "record": result})
        error.unlink(missing_ok=True)

    def reportinfo(self) -> tuple[Any, int | None, str]:
        return self.path, None, f"{self.plan.report} unit {self.unit}"
