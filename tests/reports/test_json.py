"""JSON reports: valid against the shipped schema, stable keys, both report types."""

from __future__ import annotations

import dataclasses
import json

import pytest

from octavia_upgrade.reports import execution_report, model, plan_report, render
from octavia_upgrade.reports.json import schema_path, validate
from octavia_upgrade.reports.model import SCHEMA_VERSION
from reports import scenarios


@pytest.mark.parametrize("name", sorted(scenarios.SCENARIOS))
def test_execution_report_json_is_valid(stored, name) -> None:  # type: ignore[no-untyped-def]
    doc = json.loads(render(execution_report(**stored(name)), "json"))
    assert doc["type"] == "execution" and doc["schema_version"] == SCHEMA_VERSION == 2
    assert validate(doc) == []


def test_plan_report_json_is_valid() -> None:
    doc = json.loads(render(plan_report(scenarios.plan(), runbook=scenarios.runbook()), "json"))
    assert doc["type"] == "plan"
    assert validate(doc) == []
    assert list(doc)[:2] == ["type", "schema_version"]


def test_schema_rejects_wrong_shapes() -> None:
    doc = json.loads(render(plan_report(scenarios.plan()), "json"))
    doc["type"] = "execution"  # the discriminator selects the other shape
    assert validate(doc)
    doc = json.loads(render(plan_report(scenarios.plan()), "json"))
    del doc["estimate"]
    assert any("estimate" in e for e in validate(doc))
    doc = json.loads(render(plan_report(scenarios.plan()), "json"))
    doc["procedure"][0]["phase"] = "later"
    assert any("procedure" in e for e in validate(doc))


def test_schema_covers_every_model_field() -> None:
    """The schema and the dataclasses cannot drift apart silently."""
    schema = json.loads(schema_path().read_text(encoding="utf-8"))
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"].endswith("report.schema.json")
    # The model is split over model_*.py modules; model.py re-exports every part.
    classes = {name: cls for name, cls in vars(model).items()
               if dataclasses.is_dataclass(cls)
               and cls.__module__.startswith(f"{model.__name__}_")}
    assert {"PlanReport", "ExecutionReport", "Attempt", "CommandSent", "RunInfo",
            "EvidenceSet"} <= set(classes)
    assert set(classes) == set(schema["$defs"])
    for name, cls in classes.items():
        fields = [f.name for f in dataclasses.fields(cls)]
        assert schema["$defs"][name]["required"] == fields, name
