"""yamlpos: plain data with positions; every refusal is positioned, never a traceback."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from octavia_upgrade import yamlpos
from octavia_upgrade.errors import InvalidInput


def refused(raw: bytes | str) -> tuple[str, int, int, str]:
    with pytest.raises(InvalidInput) as info:
        yamlpos.loads(raw, "rb.yaml")
    [diag] = info.value.diagnostics
    assert diag.path == "rb.yaml"
    return diag.rule, diag.line, diag.col, diag.message


def test_data_and_positions_of_keys_values_and_items() -> None:
    doc = yamlpos.loads("a: 1\nsteps:\n  - id: x\n    with: {k: [v, w]}\n", "rb.yaml")
    assert doc.data == {"a": 1, "steps": [{"id": "x", "with": {"k": ["v", "w"]}}]}
    assert str(doc.pos(("a",))) == "rb.yaml:1:4"
    assert str(doc.key_pos(("a",))) == "rb.yaml:1:1"
    assert str(doc.pos(("steps", 0))) == "rb.yaml:3:5"
    assert str(doc.pos(("steps", 0, "id"))) == "rb.yaml:3:9"
    assert str(doc.key_pos(("steps", 0, "with"))) == "rb.yaml:4:5"
    assert str(doc.pos(("steps", 0, "with", "k", 1))) == "rb.yaml:4:19"


def test_unknown_paths_fall_back_to_the_nearest_ancestor() -> None:
    doc = yamlpos.loads("a:\n  b: 1\n", "rb.yaml")
    assert doc.pos(("a", "missing", 3)) == doc.pos(("a",))
    assert doc.key_pos(("a", "nope")) == doc.pos(("a",))
    assert doc.get(("a", "b")) == 1 and doc.get(("a", "x"), "d") == "d"


def test_sha256_is_over_the_raw_bytes() -> None:
    import hashlib

    raw = b"\xef\xbb\xbfa: 1\n"
    assert yamlpos.loads(raw).sha256 == hashlib.sha256(raw).hexdigest()


def test_scalars_resolve_like_yaml_but_dates_stay_strings() -> None:
    doc = yamlpos.loads("i: 3\nf: 1.5\nb: true\nn: ~\nd: 2024-01-01\nq: '3'\ns: !!str 4\n")
    assert doc.data == {"i": 3, "f": 1.5, "b": True, "n": None, "d": "2024-01-01",
                        "q": "3", "s": "4"}


def test_block_scalars_are_marked() -> None:
    doc = yamlpos.loads("c: |\n  echo 1\n  echo 2\nd: x\n")
    assert doc.is_block_scalar(("c",)) and not doc.is_block_scalar(("d",))


def test_utf8_bom_is_accepted_and_columns_are_not_shifted() -> None:
    doc = yamlpos.loads(b"\xef\xbb\xbfa: 1\n", "rb.yaml")
    assert doc.data == {"a": 1} and str(doc.pos(("a",))) == "rb.yaml:1:4"


@pytest.mark.parametrize(("raw", "expected"), [
    (b"a: 1\na: 2\n", ("yaml-duplicate-key", 2, 1)),
    (b"a:\n  b: 1\n  c: 2\n  b: 3\n", ("yaml-duplicate-key", 4, 3)),
    (b"", ("yaml-empty", 1, 1)),
    (b"# nothing\n", ("yaml-empty", 1, 1)),
    (b"- a\n- b\n", ("yaml-not-mapping", 1, 1)),
    (b"hello\n", ("yaml-not-mapping", 1, 1)),
    (b"a: 1\nb: x\xff\n", ("encoding", 2, 5)),
    (b"a: \xc3\xa9\xff\n", ("encoding", 1, 5)),
    (b"a: 1\n\tb: 2\n", ("yaml-syntax", 2, 1)),
    (b"a: [1, 2\n", ("yaml-syntax", 2, 1)),
    (b"a: \x07\n", ("yaml-syntax", 1, 4)),
    (b"a: 1\n---\nb: 2\n", ("yaml-syntax", 2, 1)),
    (b"a: &x [1]\nb: *x\n", ("yaml-alias", 2, 4)),
    (b"x: 1\n<<: {a: 1}\n", ("yaml-merge-key", 2, 1)),
    (b"? [a]\n: 1\n", ("yaml-key", 1, 3)),
    (b"a: !!python/object:os.system x\n", ("yaml-tag", 1, 4)),
    (b"a: !!binary aGk=\n", ("yaml-tag", 1, 4)),
    (b"a: !!int nope\n", ("yaml-syntax", 1, 4)),
])
def test_refusals_are_positioned(raw: bytes, expected: tuple[str, int, int]) -> None:
    assert refused(raw)[:3] == expected


def test_duplicate_key_message_names_the_first_definition() -> None:
    assert "first defined at line 1, column 1" in refused(b"a: 1\na: 2\n")[3]


def test_billion_laughs_is_refused_at_the_first_alias() -> None:
    lines = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        prev = chr(ord("a") + i - 1)
        lines.append(f"{chr(ord('a') + i)}: &{chr(ord('a') + i)} [{', '.join(['*' + prev] * 9)}]")
    rule, line, col, _ = refused("\n".join(lines) + "\n")
    assert (rule, line, col) == ("yaml-alias", 2, 8)


def test_utf16_file_gets_a_hint() -> None:
    rule, line, col, message = refused("a: 1\n".encode("utf-16"))
    assert (rule, line, col) == ("encoding", 1, 1) and "UTF-16" in message


@pytest.mark.parametrize("depth", [65, 1000, 200_000])
def test_deep_nesting_is_refused_without_crashing(depth: int) -> None:
    # libyaml itself stops at 1000 levels (yaml-syntax); below that, we do.
    expected = ("yaml-too-deep",) if depth < 1000 else ("yaml-too-deep", "yaml-syntax")
    assert refused(b"a: " + b"[" * depth + b"]" * depth + b"\n")[0] in expected
    assert refused(b"a: " + b"{b: " * depth + b"}" * depth + b"\n")[0] in expected


def test_load_reads_files_and_reports_missing_ones(tmp_path) -> None:
    f = tmp_path / "x.yaml"
    f.write_text("a: 1\n")
    assert yamlpos.load(f).data == {"a": 1}
    with pytest.raises(InvalidInput) as info:
        yamlpos.load(tmp_path / "missing.yaml")
    assert info.value.diagnostics[0].rule == "io"
    with pytest.raises(InvalidInput):
        yamlpos.load(tmp_path)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_load_or_are_refused_with_a_position(raw: bytes) -> None:
    try:
        doc = yamlpos.loads(raw, "f.yaml")
    except InvalidInput as exc:
        [diag] = exc.diagnostics
        assert diag.line >= 1 and diag.col >= 1
    else:
        assert isinstance(doc.data, dict)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ab: -[]{}&*!\n\t'\"#|>?,%@`~", max_size=120))
def test_arbitrary_yaml_like_text_never_escapes(text: str) -> None:
    try:
        yamlpos.loads(text, "f.yaml")
    except InvalidInput as exc:
        assert exc.diagnostics and exc.diagnostics[0].rule.startswith(("yaml-", "encoding"))
