"""Issue 9's documentation bullets, checked mechanically: every command's --help has an example, listing
commands take --json, and docs/configuration.md documents every setting of the shipped veille.toml."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import click
import typer.main

from cli import app

ROOT = Path(__file__).resolve().parents[2]
# Commands that list things (or show one record): each must take --json.
LISTING = [["status"], ["search"], ["sellers"], ["seller", "show"], ["case", "list"], ["case", "show"],
           ["case", "report"], ["profile", "list"], ["telegram", "channels"], ["digest"], ["eval", "sellers"],
           ["eval", "classify"], ["lexicon", "check"], ["verify"], ["verify-store"]]


def _walk(cmd: click.Command, path: list[str]):
    yield path, cmd
    for name, sub in getattr(cmd, "commands", {}).items():
        yield from _walk(sub, [*path, name])


def test_every_command_and_group_has_an_example_in_its_help(runner):
    seen, missing = 0, []
    for path, _cmd in _walk(typer.main.get_command(app), []):
        res = runner.invoke(app, [*path, "--help"], terminal_width=200)
        assert res.exit_code == 0, (path, res.output)
        text = " ".join(res.output.split())
        m = re.search(r"Examples?: (.*)", text)
        # the example shows this very command (a group's: one of its commands)
        if not m or ("veille " + " ".join(path)).strip() not in m.group(1):
            missing.append(" ".join(path) or "(veille)")
        seen += 1
    assert missing == [], f"--help without an example of the command: {missing}"
    assert seen > 40


def test_listing_commands_take_json(runner, workspace):
    commands = {tuple(p): c for p, c in _walk(typer.main.get_command(app), [])}
    for path in LISTING:
        cmd = commands[tuple(path)]
        assert "--json" in {o for p in cmd.params for o in getattr(p, "opts", [])}, " ".join(path)
    # and their output is JSON, on an empty workspace too
    w = ["-w", str(workspace.root)]
    for path, check in ((["status"], dict), (["sellers"], list), (["case", "list"], list),
                        (["telegram", "channels"], list), (["profile", "list"], list)):
        res = runner.invoke(app, [*path, "--json", *w])
        assert res.exit_code == 0, (path, res.output)
        assert isinstance(json.loads(res.stdout), check), path


def _settings(d: dict, prefix: str = ""):
    for k, v in d.items():
        if isinstance(v, dict) and v:
            yield from _settings(v, f"{prefix}{k}.")
        else:
            yield f"{prefix}{k}", v


def test_configuration_reference_covers_every_setting():
    defaults = tomllib.loads((ROOT / "storage" / "default_config.toml").read_text("utf-8"))
    doc = (ROOT / "docs" / "configuration.md").read_text("utf-8")
    sections = dict(re.findall(r"^## (.*)\n((?:(?!^## ).*\n?)*)", doc, re.M))
    undocumented = []
    for dotted, value in _settings(defaults):
        section, key = dotted.split(".", 1) if "." in dotted else ("", dotted)
        if isinstance(value, dict):  # an empty table such as [collect.base_urls]
            if f"`[{dotted}]`" not in doc:
                undocumented.append(dotted)
            continue
        # a row `key` under the section's heading, or `section.key` in a heading shared by two sections
        body = "".join(b for h, b in sections.items() if f"`[{section}]`" in h)
        if not re.search(rf"`{re.escape(key)}`", body) and f"`{dotted}`" not in doc:
            undocumented.append(dotted)
    assert undocumented == [], f"settings missing from docs/configuration.md: {undocumented}"


def test_every_setting_the_code_reads_is_in_the_shipped_config():
    """So the reference above is complete: no setting is read that veille.toml does not ship."""
    defaults = tomllib.loads((ROOT / "storage" / "default_config.toml").read_text("utf-8"))
    known = {d for d, _ in _settings(defaults)} | set(defaults)
    pat = re.compile(r"config\.(?:get|section)\(\s*[\"']([a-z_][a-z_.]*)[\"']")
    read = {}
    for folder in ("storage", "spiders", "telegram_watch", "matchers"):
        for f in (ROOT / folder).rglob("*.py"):
            for m in pat.finditer(f.read_text("utf-8")):
                read.setdefault(m.group(1), f.relative_to(ROOT).as_posix())
    for m in pat.finditer((ROOT / "cli.py").read_text("utf-8")):
        read.setdefault(m.group(1), "cli.py")
    assert len(read) > 30
    unknown = {k: f for k, f in read.items() if k not in known}
    assert unknown == {}, f"settings read by the code but not in storage/default_config.toml: {unknown}"


def test_browse_metadata_describes_every_table_and_column(workspace):
    """Datasette's metadata: a description for every table and column of a fresh workspace's schema (all
    migrations), so a new table or column without one fails here, without the demo."""
    from storage.browse import datasette_metadata, schema_tables

    md = datasette_metadata(workspace)
    tables = md["databases"]["veille"]["tables"] if "databases" in md else md["tables"]
    assert set(tables) == set(schema_tables(workspace.db)) and len(tables) > 15
    missing = [t for t, d in tables.items() if "not described" in d["description"]]
    missing += [f"{t}.{c}" for t, d in tables.items() for c, v in d["columns"].items() if "not described" in v]
    assert missing == []
