"""``octavia-upgrade runbooks render|list|convert``: the runbooks, their source, their format."""

from __future__ import annotations

import argparse

from octavia_upgrade.cli.output import Column, add_row_format

#: ``runbooks list``: the columns (``-c``).
COLUMNS = (Column("name", lambda r: r["name"]), Column("from", lambda r: r["from"]),
           Column("to", lambda r: r["to"]), Column("revision", lambda r: r["revision"]),
           Column("path", lambda r: r["path"]))

HELP = ("render the runbooks from runbook-source/ (--check in CI), list them, or convert "
        "a v1 runbook to v2")
DESCRIPTION = """\
The 18 runbooks in runbooks/ are written once: runbook-source/cold-upgrade.yaml
holds the cold-upgrade procedure of the upstream guide, shared by every hop, and
runbook-source/hops/<from>-to-<to>.yaml one hop's facts, its release-specific
steps (inserted before/after a step id or at the start/end of a section),
overrides by step id and extra parameters. Reviewers read and the engine runs
the rendered runbooks/*.yaml; never edit those by hand.

  octavia-upgrade runbooks render            write runbooks/ from the source
  octavia-upgrade runbooks render --check    write nothing; exit 1 and name every
                                             runbook that differs from its source
                                             (-v: with the diff)
  octavia-upgrade runbooks list [-f FORMAT] [-c COLUMN]
                                             the shipped runbooks: name, from, to,
                                             revision, path (-f value -c path: paths)
  octavia-upgrade runbooks convert FILE      a v1 runbook as format v2 (rollback in the
                                             order it runs, bare `when`, kind defaults),
                                             comments kept; -o OUT or --in-place

A source error (YAML, unknown anchor, override of an unknown step id, a step
id used twice) prints `path:line:col: rule: message` and exits 2.
See docs/runbooks.md ("Writing or changing a runbook").
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True,
                           parser_class=type(p))
    render = sub.add_parser(
        "render", help="write runbooks/*.yaml from runbook-source/ (or --check them)",
        description="Merge runbook-source/cold-upgrade.yaml with each hops/<from>-to-<to>.yaml "
                    "and write <output>/<from>-to-<to>.yaml. Exit 0 when done (or, with --check, "
                    "when every file equals its source), 1 when --check finds a difference, "
                    "2 when the source is invalid.")
    render.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 naming every file that differs, is missing "
                             "or has no source (with -v: and the diff)")
    render.add_argument("--source", metavar="DIR",
                        help="the source folder (default: runbook-source/ of this checkout)")
    render.add_argument("--output", metavar="DIR",
                        help="where the runbooks go (default: the shipped runbooks/)")
    listing = sub.add_parser("list", help="print the shipped runbooks (name, from, to, path)",
                             description="Print every runbook of a folder, oldest hop first.")
    listing.add_argument("--dir", metavar="DIR",
                         help="the runbook folder (default: the shipped runbooks/)")
    add_row_format(listing, COLUMNS)
    convert = sub.add_parser(
        "convert", help="convert an octavia-upgrade/v1 runbook to v2, keeping its comments",
        description="Rewrite a v1 runbook as format v2 with the same steps in the same order "
                    "of execution: the rollback list is turned around (each step with the "
                    "comments above it), `when: \"{{ x }}\"` becomes `when: x`, and a step that "
                    "would gain a retry from its kind's v2 default gets `retry: {attempts: 1}`. "
                    "A step that v1 left without a timeout takes its kind's default in v2: "
                    "such steps are listed for review. The result is loaded and compared with "
                    "the original before anything is written. Exit 0 when converted, 2 when "
                    "the file is not a valid v1 runbook.")
    convert.add_argument("file", metavar="FILE", help="the v1 runbook")
    where = convert.add_mutually_exclusive_group()
    where.add_argument("-o", "--output", metavar="OUT",
                       help="write the v2 runbook here (default: standard output)")
    where.add_argument("--in-place", action="store_true", help="replace FILE")
    for q in (render, listing, convert):
        q.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                       help="no summary line on standard error")
    render.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS,
                        help="with --check: print the diff of each differing file")


def run(args: argparse.Namespace) -> int:
    return {"render": _render, "list": _list, "convert": _convert}[args.action](args)


def _convert(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path

    from octavia_upgrade.convert import convert_text
    from octavia_upgrade.errors import InvalidInput
    from octavia_upgrade.yamlpos import read_input

    source = Path(args.file)
    try:
        text = read_input(source).decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(f"{source}:0:0: io: not UTF-8 text") from None
    result = convert_text(text, str(source))
    target = source if args.in_place else Path(args.output) if args.output else None
    if target is None:
        sys.stdout.write(result.text)
    else:
        from octavia_upgrade.cli.output import emit

        emit(result.text, str(target))
    if not getattr(args, "quiet", False):
        for note in result.notes:
            print(f"note: {note}", file=sys.stderr)
        if target is not None:
            print(f"runbooks convert: {source} → {target} (octavia-upgrade/v2)", file=sys.stderr)
    return 0


def _render(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path

    from octavia_upgrade.authoring.render import compare, default_source_dir, render_dir, write
    from octavia_upgrade.catalog import load_catalog
    from octavia_upgrade.resources import runbooks_dir

    source = Path(args.source) if args.source else default_source_dir()
    output = Path(args.output) if args.output else runbooks_dir()
    rendered = render_dir(source, load_catalog())
    if args.check:
        diffs = compare(rendered, output)
        for d in diffs:
            print(d)
            if getattr(args, "verbose", 0) and d.diff:
                print(d.diff, end="" if d.diff.endswith("\n") else "\n")
        if diffs:
            print(f"runbooks render --check: {len(diffs)} file(s) differ from {source}; "
                  "run `octavia-upgrade runbooks render` and review the diff", file=sys.stderr)
            return 1
        if not getattr(args, "quiet", False):
            print(f"runbooks render --check: {len(rendered)} runbook(s) match their source",
                  file=sys.stderr)
        return 0
    written = write(rendered, output)
    for path in written:
        print(f"wrote {path}")
    if not getattr(args, "quiet", False):
        print(f"runbooks render: {len(rendered)} runbook(s), {len(written)} changed",
              file=sys.stderr)
    return 0


def _list(args: argparse.Namespace) -> int:
    from pathlib import Path

    from octavia_upgrade.catalog import load_catalog
    from octavia_upgrade.cli.output import emit_rows, render_rows, select
    from octavia_upgrade.loader import load_runbook
    from octavia_upgrade.resources import runbooks_dir

    select(COLUMNS, args.columns)
    folder = Path(args.dir) if args.dir else runbooks_dir()
    cat = load_catalog()
    books = [load_runbook(p, catalog=cat) for p in sorted(folder.glob("*.yaml"))]
    order = cat.names()
    books.sort(key=lambda rb: (order.index(rb.metadata.from_), rb.metadata.name))
    rows = [{"name": rb.metadata.name, "from": rb.metadata.from_, "to": rb.metadata.to,
             "revision": rb.metadata.revision, "path": str(rb.path)} for rb in books]
    emit_rows(render_rows(rows, COLUMNS, args.format, args.columns, document=lambda: rows))
    return 0
