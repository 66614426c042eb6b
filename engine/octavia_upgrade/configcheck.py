"""octavia.conf against a release's option data: removed, renamed, deprecated, unknown.

Pure analysis: the caller (the ``config_check`` step) reads the files; this
module parses them with oslo.config's own INI parser (the one every Octavia
service uses, so what parses here parses there) and compares every
``[group] option`` with the packaged option data of the **target** release
(``data/options/<series>.json``, made by ``tools/gen_option_data.py``):

* removed options → ``error`` (with the replacement when one exists);
* renamed options, including names the target still reads as deprecated
  aliases → ``error`` naming the new ``[group] option``;
* options deprecated for removal → ``warning``;
* names the target does not know → ``warning`` (likely a typo, with a
  suggestion);
* a **value** upstream removed or deprecated (a change entry with ``value:``,
  e.g. the provider ``amphorav1`` in ``[api_settings] enabled_provider_drivers``)
  → ``error`` / ``warning`` when the option's value names it (an item of a
  list, a key of a dict, or the whole value); the option itself is not flagged;
* defaults that change between the previous release and the target, for
  options the files do not set → ``info``.

Several files are read like oslo.config reads ``--config-file`` and
``--config-dir``: in order, a later value overriding an earlier one.

Option **values** never appear in a finding: a value may be a password, and
findings go to logs and reports. Only group and option names, line numbers,
upstream defaults of non-secret options and the upstream names of value rules
are shown; values are read only for the options a value rule is about.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

SEVERITIES = ("error", "warning", "info")


@dataclass(frozen=True)
class ConfigFile:
    """One configuration file as read from a host."""

    host: str
    path: str
    text: str = field(repr=False)


@dataclass(frozen=True, order=True)
class Finding:
    """One problem (or note) about one option, tied to ``host:path:line``.

    ``line`` is 1-based; 0 means the finding is about the configuration as a
    whole (e.g. a changed default of an option no file sets).
    """

    host: str
    path: str
    line: int
    group: str
    option: str
    severity: str  # error | warning | info
    # parse-error | removed | renamed | deprecated | removed-value | deprecated-value |
    # unknown-option | default-changed | new-option | overridden | partial-data
    code: str
    message: str
    replacement: str | None = None

    def __str__(self) -> str:
        return f"{self.host}:{self.path}:{self.line}: {self.severity}: {self.message}"


@dataclass(frozen=True)
class Setting:
    """``[group] option`` set at ``line`` of ``path``.

    The value is not kept, only its item names (``a:x,b:y`` → ``a``, ``b``) and
    only for the options a value rule is about (``items``).
    """

    host: str
    path: str
    line: int
    group: str
    option: str
    items: frozenset[str] = field(default=frozenset(), repr=False, compare=False)


def value_items(value: str) -> frozenset[str]:
    """The names a ListOpt/DictOpt/StrOpt value holds: list items, dict keys, the value."""
    return frozenset(part.split(":", 1)[0].strip().strip("'\"")
                     for part in value.split(",") if part.strip())


# --------------------------------------------------------------------------- parsing


def normalize_group(name: str) -> str:
    """Group names as oslo.config looks them up (``_normalize_group_name``)."""
    return name if name == "DEFAULT" else name.lower()


def parse_config(file: ConfigFile, *, keep_items: Iterable[tuple[str, str]] = ()
                 ) -> tuple[list[Setting], list[Finding]]:
    """Every ``[group] option`` of one file with its line, or a parse error.

    ``keep_items``: the ``(group, option)`` pairs whose value items are kept.
    """
    keep = frozenset(keep_items)
    from oslo_config import iniparser

    settings: list[Setting] = []

    class _Parser(iniparser.BaseParser):
        section: str | None = None
        key_line = 0

        def _split_key_value(self, line: str) -> tuple[str, list[str]]:
            # Assignments are reported when the *next* line is read (values
            # may continue on indented lines); remember where the key was.
            self.key_line = self.lineno
            return super()._split_key_value(line)

        def new_section(self, section: str) -> None:
            self.section = section

        def assignment(self, key: str, value: list[str]) -> None:
            if self.section is None:
                raise self.parse_exc("option outside any [section]", self.key_line, key)
            group = normalize_group(self.section)
            items = (value_items(",".join(value)) if (group, key) in keep else frozenset())
            settings.append(Setting(file.host, file.path, self.key_line, group, key, items))

    try:
        _Parser().parse(file.text.splitlines())
    except iniparser.ParseError as exc:
        return settings, [Finding(file.host, file.path, exc.lineno, "", "", "error",
                                  "parse-error",
                                  f"oslo.config cannot parse this file: {exc.msg}; "
                                  "Octavia services would refuse to start")]
    return settings, []


# --------------------------------------------------------------------------- option data


@dataclass(frozen=True, eq=False)
class OptionData:
    """One release's options (trimmed oslo-config-generator output) and changes."""

    series: str
    complete: bool
    groups: dict[str, dict[str, dict[str, Any]]]
    changes: tuple[dict[str, Any], ...]
    auth_plugin_options: frozenset[str]
    source: str = ""
    #: where the library options come from: ``current`` (the libraries of today)
    #: or ``upper-constraints`` (the versions the release was tested with)
    libraries: str = ""
    alias_map: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)

    def comparable(self, other: OptionData | None) -> bool:
        """Both complete and generated with the same library basis, so a difference
        between them is a change of the release, not of the libraries installed."""
        return (other is not None and self.complete and other.complete
                and self.libraries == other.libraries)

    def option(self, group: str, name: str) -> dict[str, Any] | None:
        return self.groups.get(group, {}).get(name)

    def aliases(self) -> dict[tuple[str, str], tuple[str, str]]:
        """Deprecated ``(group, name)`` → current ``(group, name)``."""
        return self.alias_map

    def knows(self, group: str, name: str) -> bool:
        if self.option(group, name) is not None:
            return True
        # keystoneauth loads plugin options (auth_url, password, ...) at run
        # time into every group that has auth_type; the generator cannot list them.
        opts = self.groups.get(group, {})
        return "auth_type" in opts and name in self.auth_plugin_options


@cache
def load_option_data(series: str) -> OptionData:
    """The packaged option data of ``series`` (a catalog series name)."""
    from octavia_upgrade.resources import data_path

    path = data_path(f"options/{series}.json")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LookupError(f"no option data for release {series!r} ({path})") from None
    groups = raw.get("groups") or {}
    aliases: dict[tuple[str, str], tuple[str, str]] = {}
    for g, opts in groups.items():
        for name, o in opts.items():
            for dg, dn in o.get("deprecated_opts") or ():
                aliases.setdefault((normalize_group(dg or g), dn or name), (g, name))
    return OptionData(series=raw["series"], complete=bool(raw["complete"]),
                      groups=groups, alias_map=aliases,
                      changes=tuple(raw.get("changes") or ()),
                      auth_plugin_options=frozenset(raw.get("auth_plugin_options") or ()),
                      source=raw.get("source", ""),
                      libraries=raw.get("libraries", "current" if raw.get("complete") else ""))


def _label(group: str, name: str) -> str:
    return f"[{group}] {name}"


# --------------------------------------------------------------------------- checking


def check_config(files: list[ConfigFile], target: str, *,
                 source: str | None = None) -> list[Finding]:
    """Check configuration files against the option data of ``target``.

    Args:
        files: the files in the order the services read them (main file,
            then ``--config-dir`` fragments); later values override earlier ones.
        target: the release the configuration must be valid for (series name
            or version id, e.g. ``epoxy`` or ``2025.1``).
        source: the release upgraded from, for changed defaults; default: the
            release before ``target`` in the catalog (upgrades are sequential).

    Returns:
        Findings sorted by host, path and line.
    """
    from octavia_upgrade.catalog import load_catalog

    cat = load_catalog()
    tgt = cat.get(target)
    ti = cat.index(tgt.series)
    src_series = cat.get(source).series if source else (
        cat.releases[ti - 1].series if ti > 0 else None)
    data = load_option_data(tgt.series)
    prev = _try_load(src_series)
    history = _history(cat.names()[: ti + 1])
    value_rules = _history(cat.names()[: ti + 1], values=True)

    findings: list[Finding] = []
    settings: list[Setting] = []
    for f in files:
        s, errs = parse_config(f, keep_items=value_rules)
        settings.extend(s)
        findings.extend(errs)

    label = tgt.label
    for s in settings:
        findings.extend(_check_setting(s, data, prev, history, label))
        findings.extend(_check_value(s, value_rules.get((s.group, s.option), ()), label))
    findings.extend(_overrides(settings))
    if files:
        findings.extend(_defaults(files[0], settings, data, prev, label))
        findings.extend(_partial(files[0], data, prev, label))
    return sorted(findings, key=lambda x: (x.host, x.path, x.line, x.group, x.option, x.code))


def _partial(first: ConfigFile, data: OptionData, prev: OptionData | None,
             label: str) -> list[Finding]:
    """Which checks were partial for this release, said once per run (``partial-data``)."""
    if not data.complete:
        why = ("its option data lists only the renamed/removed/deprecated options of the "
               "release notes (not generated from its code)")
        missed = "unknown option names (typos) and removals no release note lists are NOT reported"
    elif prev is not None and not prev.comparable(data):
        basis = "partial" if not prev.complete else "made with other library versions"
        why = f"the {prev.series.capitalize()} option data is {basis}"
        missed = (f"options gone since {prev.series.capitalize()} are reported only when a "
                  "release note lists them (else as unknown names), and changed defaults "
                  "only from release notes")
    else:
        return []
    return [Finding(first.host, first.path, 0, "", "", "info", "partial-data",
                    f"partial check for {label}: {why}; {missed}")]


def _try_load(series: str | None) -> OptionData | None:
    if series is None:
        return None
    try:
        return load_option_data(series)
    except LookupError:
        return None


def _history(series: list[str], *, values: bool = False
             ) -> dict[tuple[str, str], list[tuple[str, dict[str, Any]]]]:
    """Every matchable change up to the target, per ``(group, option)``, oldest first.

    ``values``: the changes about one value of the option (``value:``) instead
    of those about the option itself.
    """
    out: dict[tuple[str, str], list[tuple[str, dict[str, Any]]]] = {}
    for name in series:
        d = _try_load(name)
        if d is None:
            continue
        for c in d.changes:
            if c.get("matchable") and bool(c.get("value")) == values:
                out.setdefault((normalize_group(c["group"]), c["option"]), []).append((name, c))
    return out


def _check_setting(s: Setting, data: OptionData, prev: OptionData | None,
                   history: dict[tuple[str, str], list[tuple[str, dict[str, Any]]]],
                   label: str) -> list[Finding]:
    here = (s.host, s.path, s.line, s.group, s.option)
    name = _label(s.group, s.option)
    opt = data.option(s.group, s.option)
    if opt is not None:
        if opt.get("deprecated_for_removal"):
            since = f" since {opt['deprecated_since']}" if opt.get("deprecated_since") else ""
            why = f": {opt['deprecated_reason'].strip()}" if opt.get("deprecated_reason") else ""
            return [Finding(*here, "warning", "deprecated",
                            f"{name} is deprecated for removal{since} in {label}{why}")]
        return []
    if data.knows(s.group, s.option):
        return []
    alias = data.aliases().get((s.group, s.option))
    if alias is not None:
        new = _label(*alias)
        return [Finding(*here, "error", "renamed",
                        f"{name} → {new}: renamed; {label} still reads the old name as a "
                        "deprecated alias, but it will be removed: use the new name",
                        replacement=new)]
    changes = [(series, c) for series, c in history.get((s.group, s.option), ())
               if c["change"] in ("renamed", "removed", "deprecated")]
    if changes:
        when, last = changes[-1]
        when = when.capitalize()
        repl = last.get("replacement")
        note = f"; release note {last['note_file']}" if last.get("note_file") else ""
        if last["change"] == "deprecated" and not data.complete:
            hint = f" (replacement: {repl})" if repl else ""
            return [Finding(*here, "warning", "deprecated",
                            f"{name} is deprecated since {when}{hint}{note}", replacement=repl)]
        if last["change"] == "renamed":
            return [Finding(*here, "error", "renamed",
                            f"{name} → {repl}: renamed in {when}; use the new name{note}",
                            replacement=repl)]
        renamed = [series for series, c in changes if c["change"] == "renamed"]
        if renamed and repl:
            return [Finding(*here, "error", "renamed",
                            f"{name} → {repl}: renamed in {renamed[0].capitalize()}, the old "
                            f"name was removed in {when} (not read by {label}){note}",
                            replacement=repl)]
        return [Finding(*here, "error", "removed",
                        f"{name} was removed in {when}" + (f": use {repl}" if repl else "")
                        + f" (not read by {label}){note}", replacement=repl)]
    if prev is not None and prev.comparable(data) and prev.knows(s.group, s.option):
        return [Finding(*here, "error", "removed",
                        f"{name} no longer exists in {label} (it did in "
                        f"{prev.series.capitalize()}); remove it")]
    if not data.complete:
        return []
    return [Finding(*here, "warning", "unknown-option",
                    f"{name} is not an option of {label}: likely a typo, or an option "
                    "Octavia does not read"
                    + _suggest(s.group, s.option, data))]


def _check_value(s: Setting, rules: Iterable[tuple[str, dict[str, Any]]],
                 label: str) -> list[Finding]:
    """Removed or deprecated values (``value:`` changes) the setting names."""
    latest: dict[str, tuple[str, dict[str, Any]]] = {}
    for series, c in rules:
        if c["change"] in ("removed", "deprecated") and c["value"] in s.items:
            latest[c["value"]] = (series, c)
    out: list[Finding] = []
    for value, (series, c) in sorted(latest.items()):
        repl = c.get("replacement")
        note = f"; release note {c['note_file']}" if c.get("note_file") else ""
        use = f": {repl}" if repl else ""
        if c["change"] == "removed":
            out.append(Finding(s.host, s.path, s.line, s.group, s.option, "error",
                               "removed-value",
                               f"{_label(s.group, s.option)} names {value!r}, removed in "
                               f"{series.capitalize()} (not accepted by {label}){use}{note}",
                               replacement=repl))
        else:
            out.append(Finding(s.host, s.path, s.line, s.group, s.option, "warning",
                               "deprecated-value",
                               f"{_label(s.group, s.option)} names {value!r}, deprecated since "
                               f"{series.capitalize()}{use}{note}", replacement=repl))
    return out


def _suggest(group: str, name: str, data: OptionData) -> str:
    elsewhere = sorted(g for g, opts in data.groups.items() if name in opts)
    if elsewhere:
        return f" (did you mean {_label(elsewhere[0], name)}?)"
    in_group = list(data.groups.get(group, {}))
    close = difflib.get_close_matches(name, in_group, n=1, cutoff=0.75)
    if close:
        return f" (did you mean {_label(group, close[0])}?)"
    if group not in data.groups:
        groups = difflib.get_close_matches(group, list(data.groups), n=1, cutoff=0.75)
        if groups:
            return f" (unknown group [{group}]; did you mean [{groups[0]}]?)"
        return f" (unknown group [{group}])"
    every = [f"{g}.{o}" for g, opts in data.groups.items() for o in opts]
    close = difflib.get_close_matches(f"{group}.{name}", every, n=1, cutoff=0.8)
    if close:
        g, o = close[0].split(".", 1)
        return f" (did you mean {_label(g, o)}?)"
    return ""


def _overrides(settings: Iterable[Setting]) -> list[Finding]:
    """Notes on values a later file overrides (``--config-dir`` fragments)."""
    last: dict[tuple[str, str], Setting] = {}
    out: list[Finding] = []
    for s in settings:
        key = (s.group, s.option)
        before = last.get(key)
        if before is not None and before.path != s.path:
            out.append(Finding(before.host, before.path, before.line, s.group, s.option, "info",
                               "overridden",
                               f"{_label(s.group, s.option)} is overridden by "
                               f"{s.path}:{s.line}"))
        last[key] = s
    return out


_SECRET_WORDS = ("password", "passphrase", "secret", "token", "_key")


def _is_secret(key: tuple[str, str], sources: tuple[OptionData | None, ...]) -> bool:
    """Secret in the option data, or (for releases without data) by its name."""
    for d in sources:
        if d is not None and d.complete:
            o = d.option(*key)
            if o is not None:
                return bool(o.get("secret"))
    return any(w in key[1] for w in _SECRET_WORDS)


def _shown(o: dict[str, Any]) -> str:
    return "(secret)" if o.get("secret") else repr(o.get("default"))


def _defaults(first: ConfigFile, settings: list[Setting], data: OptionData,
              prev: OptionData | None, label: str) -> list[Finding]:
    """Changed defaults of options no file sets (they take the new default)."""
    set_ = {(s.group, s.option) for s in settings}
    for s in settings:  # an old alias that is set counts as setting the new name
        alias = data.aliases().get((s.group, s.option))
        if alias:
            set_.add(alias)
    out: list[Finding] = []
    seen: set[tuple[str, str]] = set()
    if prev is not None and prev.comparable(data):
        for g, opts in data.groups.items():
            for name, o in opts.items():
                old = prev.option(g, name)
                if old is None or (g, name) in set_ or o.get("secret") or old.get("secret"):
                    continue
                if old.get("default") != o.get("default"):
                    seen.add((g, name))
                    out.append(Finding(first.host, first.path, 0, g, name, "info",
                                       "default-changed",
                                       f"{_label(g, name)} is not set: its default changes from "
                                       f"{_shown(old)} to {_shown(o)} in {label}"))
    for c in data.changes:
        key = (normalize_group(c["group"]), c["option"])
        if not c.get("matchable") or key in set_ or key in seen:
            continue
        if c["change"] not in ("default-changed", "added"):
            continue
        detail = c.get("replacement") or c.get("detail") or ""
        if _is_secret(key, (data, prev)):
            detail = ""  # an upstream default of a secret option is still not printed
        code = "default-changed" if c["change"] == "default-changed" else "new-option"
        what = "its default changes" if code == "default-changed" else "new option"
        out.append(Finding(first.host, first.path, 0, key[0], key[1], "info", code,
                           f"{_label(*key)} is not set: {what} in {label}"
                           + (f": {detail}" if detail else "")
                           + (f" (release note {c['note_file']})" if c.get("note_file") else "")))
    return out
