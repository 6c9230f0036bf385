"""veille's command line: thin Typer commands over the packages.

A command parses its arguments, calls one function in ``storage``,
``matchers``, ``spiders`` or ``telegram_watch``, and prints. Expected failures
(``VeilleError``) become one line on stderr and exit code 1 in one place:
:class:`VeilleGroup`. Tracebacks never show locals.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from typer.core import TyperGroup

from storage.errors import InputError, VeilleError

console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)


class VeilleGroup(TyperGroup):
    """Turns the project's exceptions into one clear line and exit code 1."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except VeilleError as exc:
            typer.echo(f"error: {exc}", err=True)
            ctx.exit(1)
        except KeyboardInterrupt:
            typer.echo("interrupted", err=True)
            ctx.exit(130)


def _typer(help_text: str) -> typer.Typer:
    return typer.Typer(help=help_text, cls=VeilleGroup, no_args_is_help=True,
                       pretty_exceptions_show_locals=False, rich_markup_mode=None)


app = _typer("veille: monitoring of the resale of public-service appointments and of forged documents.")
import_app = _typer("Import posts from files: JSONL, saved pages, Telegram exports.")
export_app = _typer("Export posts, evidence bundles and graphs.")
app.add_typer(import_app, name="import")
app.add_typer(export_app, name="export")
eval_app = _typer("Evaluate matchers on labelled corpora.")
lexicon_app = _typer("Inspect and validate the classifier lexicons (matchers/lexicons/*.toml).")
app.add_typer(eval_app, name="eval")
app.add_typer(lexicon_app, name="lexicon")

WorkspaceOpt = Annotated[
    Path,
    typer.Option("--workspace", "-w", envvar="VEILLE_WORKSPACE", help="Workspace folder (env VEILLE_WORKSPACE).",
                 show_default=False),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON output.")]


def open_ws(workspace: Path | None, readonly: bool = False):
    from storage import Workspace

    return Workspace.open(workspace or Path("."), readonly=readonly)


def print_json(obj) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, indent=2, default=str) + "\n")


@app.callback()
def _main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log more.")] = False) -> None:
    """veille: collect public posts, detect offers, link sellers, keep court-grade evidence.

    Start with `veille init DIR`, then see `veille COMMAND --help`.
    """
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


# ---------------------------------------------------------------- foundation
@app.command()
def init(directory: Annotated[Path, typer.Argument(help="Folder to create the workspace in.")] = Path(".")) -> None:
    """Create a workspace: a commented veille.toml, veille.db and evidence/.

    Example: veille init ~/veille-ws
    """
    from storage import init_workspace

    ws, created = init_workspace(directory)
    with ws:
        verb = "created" if created else "already initialised, schema up to date"
        console.print(f"workspace {ws.root}: {verb} (schema version {ws.schema_version})")
        console.print(f"  edit {ws.path('veille.toml')} to configure it")


@app.command()
def status(workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Counts by platform and category, last run of each source, store size.

    Example: veille status --workspace ~/veille-ws
    """
    from storage.status import workspace_status

    with open_ws(workspace) as ws:
        st = workspace_status(ws)
    if as_json:
        print_json(st)
        return
    console.print(f"workspace {st['workspace']}  schema v{st['schema_version']}  posts {st['posts']}  "
                  f"sellers {st['sellers']}  custody entries {st['custody_entries']}")
    t = Table("platform", "posts", "removed/deleted", title="by platform")
    for r in st["by_platform"]:
        t.add_row(r["platform"], str(r["posts"]), str(r["gone"] or 0))
    console.print(t)
    t = Table("category", "subtype", "posts", title="by category")
    for r in st["by_category"]:
        t.add_row(r["category"], r["subtype"], str(r["posts"]))
    console.print(t)
    if st["last_runs"]:
        t = Table("source", "kind", "finished", "status", "items", "error", title="last run of each source")
        for r in st["last_runs"]:
            t.add_row(r["source"], r["kind"], r["finished_at"] or "(running)", r["status"], str(r["items"]),
                      (r["error"] or "")[:60])
        console.print(t)
    if st["blocked_sources"]:
        console.print(f"[bold red]blocked sources:[/] {', '.join(st['blocked_sources'])}")
    for a in st["alerts"]:
        console.print(f"unseen alerts: {a['kind']}: {a['n']}")
    s = st["store"]
    console.print(f"evidence store: {s['blobs']} blobs, {s['bytes']:,} bytes; database {s['database_bytes']:,} bytes")


@app.command("verify-store")
def verify_store_cmd(workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Recompute every blob hash and the custody hash chain; exit 1 on any mismatch.

    Example: veille verify-store -w ~/veille-ws
    """
    from storage.status import verify_store

    with open_ws(workspace) as ws:
        rep = verify_store(ws)
    if as_json:
        print_json(rep.to_dict())
    else:
        for p in rep.problems:
            typer.echo(f"FAIL {p}", err=True)
        typer.echo(f"{rep.blobs_checked} blobs, {rep.custody_entries} custody entries checked: "
                   + ("OK" if rep.ok else f"{len(rep.problems)} problem(s)"))
    if not rep.ok:
        raise typer.Exit(1)


@app.command()
def search(query: Annotated[str, typer.Argument(help="FTS5 query, e.g. 'rdv AND prefecture'.")],
           workspace: WorkspaceOpt = None,
           limit: Annotated[int, typer.Option(help="Most results shown.")] = 50,
           as_json: JsonOpt = False) -> None:
    """Full-text search over post titles and texts (SQLite FTS5 syntax).

    Examples: veille search 'rendez-vous préfecture'  |  veille search '"titre de séjour" NOT avocat'
    """
    from storage.db import fts_query

    with open_ws(workspace) as ws:
        hits = fts_query(ws.db, "posts", query, limit)
    if as_json:
        print_json([{k: h[k] for k in ("id", "platform", "url", "title", "text", "category", "subtype")}
                    for h in hits])
        return
    for h in hits:
        snippet = " ".join(((h["title"] or "") + " " + (h["text"] or "")).split())[:120]
        typer.echo(f"{h['id']}\t{h['platform']}\t{h['category'] or '-'}\t{h['url']}\t{snippet}")
    typer.echo(f"{len(hits)} result(s)", err=True)


@import_app.command("jsonl")
def import_jsonl_cmd(
    file: Annotated[str, typer.Argument(help="JSONL file, one Post per line, or - for stdin.")],
    workspace: WorkspaceOpt = None,
    skip_bad: Annotated[bool, typer.Option("--skip-bad", help="Exit 0 even if some lines were rejected.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Import posts in the JSONL interchange format (see docs/jsonl.md).

    Each bad line is reported with its number and reason; good lines are
    imported. Exit code 1 if any line was rejected, unless --skip-bad.
    Re-running the same import adds nothing twice.

    Example: veille import jsonl posts.jsonl -w ~/veille-ws
    """
    from storage.jsonl import import_jsonl

    with open_ws(workspace) as ws:
        rep = import_jsonl(ws, file)
    if as_json:
        print_json(rep.to_dict())
    else:
        for lineno, reason in rep.rejected:
            typer.echo(f"line {lineno}: {reason}", err=True)
        typer.echo(f"{rep.imported} new, {rep.updated} updated, {rep.unchanged} unchanged, "
                   f"{len(rep.rejected)} rejected, {rep.positives} flagged as offers")
    if rep.rejected and not skip_bad:
        raise typer.Exit(1)


@export_app.command("jsonl")
def export_jsonl_cmd(
    output: Annotated[Path | None, typer.Option("-o", "--output", help="File to write (default: stdout).")] = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Export one JSON object per post: id, platform, url, external_id, author,
    author_handle, text, posted_at, category, subtype, score, seller_id.

    Example: veille export jsonl -o posts.jsonl
    """
    from storage.jsonl import export_jsonl

    with open_ws(workspace, readonly=True) as ws:
        if output is None:
            n = export_jsonl(ws, sys.stdout)
        else:
            tmp = output.with_name(output.name + ".part")
            with open(tmp, "w", encoding="utf-8") as fh:
                n = export_jsonl(ws, fh)
            tmp.replace(output)
    typer.echo(f"{n} post(s) exported", err=True)


# ---------------------------------------------------------------- classifier (matchers)
@app.command("classify")
def classify_cmd(
    file: Annotated[str, typer.Argument(help="JSONL file ({\"text\", \"id\"} per line), or - for stdin.")] = "-",
    plain: Annotated[bool, typer.Option("--plain", help="Input is plain text, one post per line.")] = False,
    db: Annotated[bool, typer.Option("--db", help="Re-classify the posts stored in the workspace instead.")] = False,
    force: Annotated[bool, typer.Option("--all", help="With --db: also posts already at this lexicon version.")]
    = False,
    workspace: WorkspaceOpt = None,
) -> None:
    """Classify posts: one JSON object per input line, in order
    ({"id", "category", "subtype", "score", "reasons", "entities"}); a bad line
    gives {"line", "id", "error"} and the run goes on.

    With --db, re-classify the stored posts after a lexicon change (posts already
    classified with the current lexicon version are skipped unless --all).

    Examples: veille classify posts.jsonl  |  echo 'RDV préfecture dispo 60€' | veille classify - --plain
    |  veille classify --db -w ~/veille-ws
    """
    from matchers import classify, extract
    from matchers.batch import classify_lines
    from matchers.classify import get_lexicon

    if db:
        from storage.reclassify import reclassify_posts

        try:
            extract("")
            ext = extract
        except NotImplementedError:
            ext = None
        with open_ws(workspace) as ws:
            rep = reclassify_posts(ws, classify, ext, get_lexicon().version, force=force)
        for post_id, err in rep.failed:
            typer.echo(f"post {post_id}: {err}", err=True)
        cats = ", ".join(f"{k} {v}" for k, v in sorted(rep.by_category.items())) or "-"
        typer.echo(f"{rep.seen} post(s) re-classified with lexicon {rep.lexicon_version}: {rep.changed} changed "
                   f"category; {cats}; {len(rep.failed)} failed")
        return
    if file == "-":
        stream = sys.stdin.buffer
    else:
        try:
            stream = open(file, "rb")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise InputError(f"cannot read {file}: {exc.strerror}") from None
    out = sys.stdout
    try:
        for obj in classify_lines(stream, plain=plain):
            out.write(json.dumps(obj, ensure_ascii=False) + "\n")
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()


@lexicon_app.command("check")
def lexicon_check_cmd(
    directory: Annotated[Path | None, typer.Argument(help="Lexicon folder (default: the shipped one).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Validate the lexicon files (TOML syntax, kinds, subtypes, weights, terms) and compile them.

    Exit code 1 with the file and group named on the first problem.

    Example: veille lexicon check  |  veille lexicon check my-lexicons/
    """
    from matchers.lexicon import check_lexicon

    rep = check_lexicon(directory)
    if as_json:
        print_json(rep)
        return
    for w in rep["warnings"]:
        typer.echo(f"warning: {w}", err=True)
    by_lang = ", ".join(f"{k} {v}" for k, v in rep["terms_by_lang"].items())
    typer.echo(f"lexicon OK: version {rep['version']}, {len(rep['files'])} files, {rep['groups']} groups, "
               f"{rep['terms']} terms ({by_lang})")


@eval_app.command("classify")
def eval_classify_cmd(
    corpus: Annotated[Path, typer.Argument(help="Labelled JSONL: {\"text\", \"label\"} per line.")],
    as_json: JsonOpt = False,
    no_borderline: Annotated[bool, typer.Option("--no-borderline", help="Leave out lines marked borderline.")]
    = False,
    show: Annotated[int, typer.Option(help="Most misclassified lines printed.")] = 50,
) -> None:
    """Precision, recall and F1 per category, the confusion matrix and the misclassified lines.

    Labels: appointment_resale|slot_resale, forged_documents, negative|none.

    Example: veille eval classify matchers/corpus/veille-corpus.jsonl --no-borderline
    """
    from matchers.evaluate import evaluate_file, format_report

    rep = evaluate_file(corpus, include_borderline=not no_borderline)
    if as_json:
        print_json(rep)
        return
    typer.echo(format_report(rep, show=show))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
