"""schemas: the published JSON Schemas and positioned, readable validation errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from octavia_upgrade import model, schemas, yamlpos
from octavia_upgrade.flavors import ACTIONS

CORPUS = Path(__file__).parent / "corpus"
RUNBOOKS = Path(__file__).parent.parent / "runbooks"


def validate(text: str, name: str = "runbook") -> list[str]:
    return [str(d) for d in schemas.validate(yamlpos.loads(text, "rb.yaml"), name)]


def properties(node: object, path: str = "#"):
    """Every (path, schema) under a ``properties`` keyword."""
    if isinstance(node, dict):
        for key, sub in (node.get("properties") or {}).items():
            yield f"{path}/properties/{key}", sub
        for key, sub in node.items():
            yield from properties(sub, f"{path}/{key}")
    elif isinstance(node, list):
        for i, sub in enumerate(node):
            yield from properties(sub, f"{path}/{i}")


@pytest.mark.parametrize("name", schemas.NAMES)
def test_schema_is_valid_draft_2020_12_with_id(name: str) -> None:
    schema = schemas.load_schema(name)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == f"https://octavia-upgrade.dev/schemas/v1/{name}.schema.json"


@pytest.mark.parametrize("name", schemas.NAMES)
def test_every_property_has_a_title_and_description_for_editors(name: str) -> None:
    missing = [p for p, sub in properties(schemas.load_schema(name))
               if "/if/" not in p and "/then/" not in p
               and not (sub.get("title") and sub.get("description"))]
    assert missing == []


@pytest.mark.parametrize("name", schemas.NAMES)
def test_every_object_refuses_unknown_fields(name: str) -> None:
    def objects(node):
        if isinstance(node, dict):
            if "properties" in node:
                yield node
            for key, sub in node.items():
                if key not in ("if", "then"):  # conditions, not object definitions
                    yield from objects(sub)
        elif isinstance(node, list):
            for sub in node:
                yield from objects(sub)

    schema = schemas.load_schema(name)
    for obj in objects(schema):
        # The step's `with` is typed per kind by the if/then chain.
        if obj is schema.get("$defs", {}).get("step", {}).get("properties", {}).get("with"):
            continue
        assert obj.get("additionalProperties") is False, obj.get("title")


def test_runbook_schema_matches_the_model() -> None:
    defs = schemas.load_schema("runbook")["$defs"]
    step = defs["step"]
    assert step["properties"]["kind"]["enum"] == list(model.STEP_KINDS)
    assert step["properties"]["on_failure"]["enum"] == list(model.FAILURE_POLICIES)
    targets = step["properties"]["targets"]["properties"]
    assert targets["roles"]["items"]["enum"] == list(model.ROLES)
    assert defs["with_service"]["properties"]["services"]["items"]["enum"] == list(model.SERVICES)
    kinds = [b["if"]["properties"]["kind"]["const"] for b in step["allOf"]]
    assert kinds == list(model.STEP_KINDS)
    for kind in model.STEP_KINDS:
        assert defs[f"with_{kind}"]["additionalProperties"] is False


def test_inventory_and_flavor_schemas_match_the_model() -> None:
    inv = schemas.load_schema("inventory")
    host = inv["properties"]["hosts"]["additionalProperties"]
    assert host["properties"]["roles"]["items"]["enum"] == list(model.ROLES)
    flavor = schemas.load_schema("flavor")["properties"]
    assert flavor["services"]["required"] == list(model.SERVICES)
    assert flavor["actions"]["required"] == list(ACTIONS)


def test_published_schema_and_fast_validation_agree_on_every_corpus_runbook() -> None:
    """Editors use the published schema; lint validates step by step. Same verdicts."""
    published = Draft202012Validator(schemas.load_schema("runbook"))
    files = sorted((CORPUS / "bad").glob("*.yaml")) + sorted((CORPUS / "good").glob("*.yaml"))
    files += sorted(RUNBOOKS.glob("*.yaml"))
    checked = 0
    for f in files:
        try:
            doc = yamlpos.load(f)
        except Exception:  # noqa: BLE001 - YAML-level refusals are not schema business
            continue
        if doc.data.get("kind") != "Runbook":
            continue
        ours = {(d.line, d.col) for d in schemas.validate(doc, "runbook")}
        theirs = list(published.iter_errors(doc.data))
        assert bool(ours) == bool(theirs), f
        checked += 1
    assert checked >= 40


@pytest.mark.parametrize(("text", "expected"), [
    ("steps:\n  - id: a\n    kind: sleep\n    tiemout: 5s\n    with: {duration: 1s}\n",
     "rb.yaml:4:5: unknown-field: unknown field 'tiemout' in step (did you mean 'timeout'?)"),
    ("steps:\n  - id: a\n    kind: service\n    with: {action: stop, servces: [api]}\n",
     "rb.yaml:4:26: unknown-field: unknown field 'servces' in 'with' of a service step "
     "(did you mean 'services'?)"),
    ("finally:\n  - id: a\n    kind: sleep\n    bogus: 1\n    with: {duration: 1s}\n",
     "rb.yaml:4:5: unknown-field: unknown field 'bogus' in finally step"),
    ("steps:\n  - id: a\n    kind: command\n    with: {ok_rc: [0]}\n",
     "rb.yaml:4:11: missing-field: missing required field 'command' in 'with' of a command step"),
    ("steps:\n  - id: a\n    kind: approval\n",
     "rb.yaml:2:5: missing-field: missing required field 'with' in step "
     "(an approval step needs it)"),
    ("steps:\n  - id: a\n    kind: sleep\n    with: {duration: soon}\n",
     "rb.yaml:4:22: duration: 'soon' is not a duration: use e.g. 30s, 5m, 1h, 250ms "
     "or a number of seconds"),
    ("steps:\n  - id: a\n    kind: sleep\n    timeout: 5 min\n    with: {duration: 1s}\n",
     "rb.yaml:4:14: duration: '5 min' is not a duration: use e.g. 30s, 5m, 1h, 250ms "
     "or a number of seconds"),
    ("steps:\n  - id: a\n    kind: sleeep\n",
     "rb.yaml:3:11: unknown-kind: unknown step kind 'sleeep' (did you mean 'sleep'?); valid "
     "kinds: " + ", ".join(model.STEP_KINDS)),
    ("metadata: {revision: two}\n",
     "rb.yaml:1:22: wrong-type: wrong type for 'revision': expected integer, got string ('two')"),
    ("steps:\n  - id: a\n    kind: wait\n    with: {timeout: 5s}\n",
     "rb.yaml:4:11: wait-target: a wait step needs exactly one of http, tcp or command"),
    ("steps:\n  - id: a\n    kind: sleep\n    serial: [1, 0]\n    with: {duration: 1s}\n",
     "rb.yaml:4:13: serial: serial must be a host count >= 1, a percentage such as \"30%\", "
     "or a list of them"),
])
def test_errors_are_positioned_and_readable(text: str, expected: str) -> None:
    header = "apiVersion: octavia-upgrade/v1\nkind: Runbook\n"
    found = validate(header + text)
    shifted = expected.replace("rb.yaml:", "rb.yaml:", 1)
    line = int(shifted.split(":")[1]) + 2
    shifted = f"rb.yaml:{line}:" + shifted.split(":", 2)[2]
    assert shifted in found


def test_required_points_at_the_mapping_and_names_the_field() -> None:
    found = validate("apiVersion: octavia-upgrade/v1\nkind: Runbook\nsteps: []\n")
    assert "rb.yaml:1:1: missing-field: missing required field 'metadata' in runbook" in found


def test_inventory_host_name_error_points_at_the_key() -> None:
    text = ("apiVersion: octavia-upgrade/v1\nkind: Inventory\ndeployment: d\nflavor: deb\n"
            "hosts:\n  ok: {address: a, roles: [api]}\n  'bad name': {address: b, roles: [api]}\n")
    assert validate(text, "inventory") == [
        "rb.yaml:7:3: host-name: host name 'bad name' must use letters, digits, '.', '-' and '_'"]


def test_validation_of_identical_steps_is_reused_but_positions_are_per_document() -> None:
    text = ("apiVersion: octavia-upgrade/v1\nkind: Runbook\nsteps:\n"
            "  - {id: a, kind: sleep, with: {duration: x}}\n")
    first = [d for d in validate(text) if "duration" in d]
    second = [d for d in validate("# moved down\n" + text) if "duration" in d]
    assert first[0].split(":", 3)[3] == second[0].split(":", 3)[3]
    assert first[0].split(":")[1] == "4" and second[0].split(":")[1] == "5"


@pytest.mark.parametrize("kind", sorted(model.STEP_KINDS))
def test_step_arguments_and_their_schema_agree(kind: str) -> None:
    """Each kind's ``with:`` keys, required keys and defaults are stated once, in
    steps/args.py; the published schema must say the same."""
    import dataclasses

    from octavia_upgrade.steps.args import ARGS

    cls = ARGS[kind]
    schema = json.loads((RUNBOOKS.parent / "schemas" / "runbook.schema.json").read_text()
                        )["$defs"][f"with_{kind}"]
    fields = {f.name: f for f in dataclasses.fields(cls)}
    assert set(schema["properties"]) == set(fields)
    without_default = {n for n, f in fields.items() if f.default is dataclasses.MISSING
                       and f.default_factory is dataclasses.MISSING}
    assert set(schema.get("required", ())) == without_default
    for name, f in fields.items():
        if name in without_default:
            assert "default" not in schema["properties"][name]
            continue
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        stated = schema["properties"][name].get("default")
        if stated is None:
            assert default in (None, {}), f"{kind}.{name}: schema states no default"
        elif name in cls.DURATIONS:
            assert model.parse_duration(stated) == default
        else:
            assert cls.parse({**{n: "x" for n in without_default}, name: stated}) \
                .__getattribute__(name) == default
