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


app = _typer("veille: monitoring of the resale of public-service appointments and of forged documents.\n\n"
              "Examples: veille demo  |  veille init ~/veille-ws  |  veille daily -w ~/veille-ws  |  "
              "veille sellers --min-posts 3 -w ~/veille-ws")
import_app = _typer("Import posts from files: JSONL, saved pages, Telegram exports.\n\n"
                     "Examples: veille import jsonl posts.jsonl  |  "
                     "veille import telegram-export ~/Downloads/ChatExport_2026-11-01 --seller peer")
export_app = _typer("Export posts, evidence bundles and graphs.\n\n"
                     "Examples: veille export jsonl -o posts.jsonl  |  veille export bundle --seller 12 -o seller12.zip  |  "
                     "veille export graph --format gexf -o sellers.gexf")
app.add_typer(import_app, name="import")
app.add_typer(export_app, name="export")
eval_app = _typer("Evaluate matchers on labelled corpora.\n\n"
                   "Examples: veille eval classify matchers/corpus/veille-corpus.jsonl  |  "
                   "veille eval sellers truth.jsonl")
lexicon_app = _typer("Inspect and validate the classifier lexicons (matchers/lexicons/*.toml).\n\n"
                      "Examples: veille lexicon check  |  veille lexicon check my-lexicons/")
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
        t = Table("source", "kind", "finished", "status", "items", "error", title="last run of each source and kind")
        for r in st["last_runs"]:
            t.add_row(r["source"], r["kind"], r["finished_at"] or "(running)", r["status"], str(r["items"]),
                      (r["error"] or "")[:60])
        console.print(t)
    if st["blocked_sources"]:
        names = [f"{s} ({st['blocked_pages'][s]} page(s) blocked in the last run)" if s in st["blocked_pages"] else s
                 for s in st["blocked_sources"]]
        console.print(f"[bold red]blocked sources:[/] {', '.join(names)}")
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
        if rep.temp_files:
            typer.echo(f"{rep.temp_files} temporary file(s) of interrupted writes in the store (not evidence; "
                       "`veille purge` removes those older than an hour)")
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
def _is_stream(fh) -> bool:
    """True for a pipe or a terminal, whose lines may come one by one (not a file on disk)."""
    import os
    import stat

    try:
        return not stat.S_ISREG(os.fstat(fh.fileno()).st_mode)
    except (AttributeError, OSError, ValueError):  # no file descriptor (e.g. an in-memory stream)
        return False


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
    from matchers.batch import CHUNK, classify_lines
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
    live = _is_stream(stream)  # a pipe or a terminal (``tail -f … | veille classify -``): answer each line at once
    try:
        for obj in classify_lines(stream, plain=plain, chunk=1 if live else CHUNK):
            out.write(json.dumps(obj, ensure_ascii=False) + "\n")
            if live:
                out.flush()
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


# ------------------------------------------------- drafting, cases, recheck (issue 8)
draft_app = _typer("Draft DSA Article 16 takedown notices and complaints from stored evidence.\n\n"
                    "Examples: veille draft notice --platform telegram --seller 12  |  "
                    "veille draft complaint --seller 12 --to procureur --format docx")
case_app = _typer("Cases: group sellers and posts, track notices to their outcome, report figures.\n\n"
                   "Examples: veille case new rdv-bobigny  |  veille case add rdv-bobigny --seller 12  |  "
                   "veille case list --json")
app.add_typer(draft_app, name="draft")
app.add_typer(case_app, name="case")


def _print_draft(res, as_json: bool) -> None:
    if as_json:
        print_json(res.to_dict())
        return
    for w in res.warnings:
        typer.echo(f"warning: {w}", err=True)
    typer.echo(f"drafted {res.kind} {res.ref} ({res.format}, {len(res.post_ids)} item(s)): {res.path}")
    typer.echo(f"  sha256 {res.sha256}")
    if res.bundle:
        typer.echo(f"  evidence bundle ({res.bundle['how']}): {res.bundle['name']} sha256 {res.bundle['sha256']}")
    typer.echo(f"  once sent: veille case mark {res.ref} sent --date YYYY-MM-DD")


@draft_app.command("notice")
def draft_notice_cmd(
    platform: Annotated[str, typer.Option("--platform", "-p", help="Route key (telegram, meta, snapchat, "
                                          "leboncoin, avito, ouedkniss) or a post platform.")],
    post: Annotated[list[int] | None, typer.Option("--post", help="Post id (repeat for several).")] = None,
    seller: Annotated[int | None, typer.Option("--seller", help="Seller id: all its live offers on the platform.")]
    = None,
    lang: Annotated[str, typer.Option("--lang", help="fr or en.")] = "fr",
    fmt: Annotated[str, typer.Option("--format", "-f", help="eml (RFC 5322, ready to send), md or txt "
                                     "(laid out field by field for web forms).")] = "md",
    output: Annotated[Path | None, typer.Option("-o", "--output", help="File to write (default: "
                                                "drafts/notices/REF.FORMAT in the workspace).")] = None,
    bundle: Annotated[Path | None, typer.Option("--bundle", help="Evidence bundle ZIP to cite (hashed).")] = None,
    no_bundle: Annotated[bool, typer.Option("--no-bundle", help="Do not look for or build a bundle.")] = False,
    to: Annotated[str | None, typer.Option("--to", help="Recipient for .eml (default: the route's address).")]
    = None,
    case: Annotated[str | None, typer.Option("--case", help="Attach the notice to this case.")] = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Draft a notice to a platform following DSA Art. 16(2), recorded as 'drafted' with a tracking reference.

    Examples: veille draft notice --platform telegram --seller 12 --lang en --format eml -o notice.eml
              veille draft notice -p leboncoin --post 5 --post 9 --format md --bundle seller12.zip
    """
    from storage.drafting import draft_notice

    with open_ws(workspace) as ws:
        res = draft_notice(ws, platform, post_ids=post or None, seller_id=seller, lang=lang, fmt=fmt,
                           output=output, bundle=bundle, build_bundle=not no_bundle, to=to, case=case,
                           use_bundle=not no_bundle)
    _print_draft(res, as_json)


@draft_app.command("complaint")
def draft_complaint_cmd(
    seller: Annotated[int, typer.Option("--seller", help="Seller id.")],
    to: Annotated[str, typer.Option("--to", help="procureur (signalement au procureur de la République) or "
                                    "pharos.")] = "procureur",
    fmt: Annotated[str, typer.Option("--format", "-f", help="docx, pdf or md.")] = "docx",
    output: Annotated[Path | None, typer.Option("-o", "--output", help="File to write (default: "
                                                "drafts/complaints/REF.FORMAT in the workspace).")] = None,
    bundle: Annotated[Path | None, typer.Option("--bundle", help="Evidence bundle ZIP to cite (hashed).")] = None,
    no_bundle: Annotated[bool, typer.Option("--no-bundle", help="Do not look for or build a bundle.")] = False,
    case: Annotated[str | None, typer.Option("--case", help="Attach the complaint to this case.")] = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Draft a French complaint about a seller (facts, presumed author or 'contre X', legal qualification,
    exhibits with hashes; victims pseudonymised).

    Example: veille draft complaint --seller 12 --to procureur --format docx -o signalement.docx
    """
    from storage.drafting import draft_complaint

    with open_ws(workspace) as ws:
        res = draft_complaint(ws, seller, to=to, fmt=fmt, output=output, bundle=bundle,
                              build_bundle=not no_bundle, case=case, use_bundle=not no_bundle)
    _print_draft(res, as_json)


@case_app.command("new")
def case_new_cmd(name: Annotated[str, typer.Argument(help="Case name (letters, digits, . _ -).")],
                 description: Annotated[str | None, typer.Option("--description", "-d")] = None,
                 workspace: WorkspaceOpt = None) -> None:
    """Create a case.

    Example: veille case new rdv-bobigny -d "Revente de RDV, préfecture de Bobigny"
    """
    from storage.cases import create_case

    with open_ws(workspace) as ws:
        c = create_case(ws, name, description)
    typer.echo(f"case {c['name']} created")


@case_app.command("add")
def case_add_cmd(name: Annotated[str, typer.Argument(help="Case name.")],
                 seller: Annotated[list[int] | None, typer.Option("--seller", help="Seller id (repeatable).")]
                 = None,
                 post: Annotated[list[int] | None, typer.Option("--post", help="Post id (repeatable).")] = None,
                 workspace: WorkspaceOpt = None) -> None:
    """Add sellers and/or posts to a case (adding twice is a no-op).

    Example: veille case add rdv-bobigny --seller 12 --post 40 --post 41
    """
    from storage.cases import add_to_case

    with open_ws(workspace) as ws:
        added = add_to_case(ws, name, seller or [], post or [])
    typer.echo(f"added {len(added['sellers'])} seller(s), {len(added['posts'])} post(s) to {name}")


@case_app.command("list")
def case_list_cmd(workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """List cases with their item and notice counts.

    Example: veille case list --json
    """
    from storage.cases import list_cases

    with open_ws(workspace) as ws:
        cs = list_cases(ws)
    if as_json:
        print_json(cs)
        return
    for c in cs:
        typer.echo(f"{c['name']}\t{c['items']} item(s)\t{c['notices']} notice(s)\t{c['description'] or ''}")


@case_app.command("show")
def case_show_cmd(name: Annotated[str, typer.Argument(help="Case name.")], workspace: WorkspaceOpt = None,
                  as_json: JsonOpt = False) -> None:
    """Show a case: sellers, posts with their status and last re-check, notices with their history.

    Example: veille case show rdv-bobigny --json
    """
    from storage.cases import show_case

    with open_ws(workspace) as ws:
        sc = show_case(ws, name)
    if as_json:
        print_json(sc)
        return
    c = sc["case"]
    console.print(f"case {c['name']} (created {c['created_at']}) {c['description'] or ''}")
    for s in sc["sellers"]:
        console.print(f"  seller {s['id']}: {s.get('label') or ''}", markup=False)
    t = Table("post", "platform", "status", "last re-check", "url", title="posts")
    for p in sc["posts"]:
        lr = p["last_recheck"]
        t.add_row(str(p["id"]), p["platform"], p["status"], f"{lr['outcome']} {lr['at']}" if lr else "-",
                  p["url"] or "")
    console.print(t)
    typer.echo(f"notices ({len(sc['notices'])}):")
    for n in sc["notices"]:
        history = " -> ".join(f"{e['status']} {e['at'][:10]}" for e in n["events"])
        typer.echo(f"  {n['ref']}  {n['kind']}  {n['platform'] or '-'}  {n['status']}  [{history}]  {n['path'] or ''}")
        for a in n.get("answers", []):
            typer.echo(f"      answer ({a['status']}, {a['at'][:10]}): {a['name']} sha256 {a['sha256']}")


@case_app.command("mark")
def case_mark_cmd(ref: Annotated[str, typer.Argument(help="Notice reference, e.g. VEILLE-20261120-0001.")],
                  status: Annotated[str, typer.Argument(help="sent, acknowledged, removed, refused or no_answer.")],
                  date: Annotated[str | None, typer.Option("--date", help="When it happened (YYYY-MM-DD or ISO "
                                                           "8601, UTC); default now.")] = None,
                  note: Annotated[str | None, typer.Option("--note", help="E.g. the platform's Art. 17 "
                                                           "statement-of-reasons id.")] = None,
                  answer: Annotated[Path | None, typer.Option("--answer", help="File with the platform's reply "
                                                              "(statement of reasons, e-mail, screenshot), kept "
                                                              "in the evidence store.")] = None,
                  workspace: WorkspaceOpt = None) -> None:
    """Record a notice's status change (drafted → sent → acknowledged → removed/refused/no_answer).

    Example: veille case mark VEILLE-20261120-0001 removed --date 2026-11-24 --note "SoR 8841" --answer sor.eml
    """
    from storage.cases import mark_notice

    with open_ws(workspace) as ws:
        n = mark_notice(ws, ref, status, date, note, answer)
    typer.echo(f"{n['ref']}: {n['status']} ({n['events'][-1]['at']})")


@case_app.command("report")
def case_report_cmd(name: Annotated[str, typer.Argument(help="Case name.")], workspace: WorkspaceOpt = None,
                    as_json: JsonOpt = False) -> None:
    """Outcomes of a case's notices: per platform, time to removal, share of notices acted on.

    Example: veille case report rdv-bobigny --json
    """
    from storage.cases import case_report

    with open_ws(workspace) as ws:
        rep = case_report(ws, name)
    if as_json:
        print_json(rep)
        return
    t = Table("platform", "notices", "sent", "removed", "refused", "no answer", "pending", "acted on",
              "median h to removal", title=f"case {rep['case']}")
    for label, f in [*rep["per_platform"].items(), ("ALL", rep["overall"])]:
        share = "-" if f["share_acted_on"] is None else f"{f['share_acted_on']:.0%}"
        med = f["hours_to_removal"]["median"]
        t.add_row(label, str(f["notices"]), str(f["sent"]), str(f["by_status"]["removed"]),
                  str(f["by_status"]["refused"]), str(f["by_status"]["no_answer"]), str(f["pending"]), share,
                  "-" if med is None else f"{med:.1f}")
    console.print(t)
    console.print(f"posts: {rep['posts']['n']} {rep['posts']['by_status']}; complaints: {rep['complaints']['n']}")


@app.command("recheck")
def recheck_cmd(case: Annotated[str | None, typer.Option("--case", help="Only this case's posts.")] = None,
                workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Re-fetch every reported post (politely, through the spiders or the t.me embed path) and record
    live / removed / changed with a new capture as proof; then raise relisting alerts.

    Example: veille recheck --case rdv-bobigny
    """
    from storage.recheck import recheck

    with open_ws(workspace) as ws:
        rep = recheck(ws, case=case, progress=None if as_json else
                      (lambda r: typer.echo(f"post {r['post_id']}: {r['outcome']} ({r['note'] or ''})")))
    if as_json:
        print_json(rep.to_dict())
        return
    if not rep.checked:
        typer.echo("nothing to re-check: no post is named in a notice or a case" + (f" ({case})" if case else ""))
    else:
        typer.echo(f"{rep.checked} post(s) re-checked: " + ", ".join(f"{k} {v}" for k, v in
                                                                   sorted(rep.outcomes.items())))
    for a in rep.relisting:
        typer.echo(f"RELISTING: {a['message']}")


# ---------------------------------------------------------------- evidence bundles (issue 7)
keys_app = _typer("Signing keys for evidence bundles.\n\nExample: veille keys init -w ~/veille-ws")
app.add_typer(keys_app, name="keys")


@export_app.command("bundle")
def export_bundle_cmd(
    output: Annotated[Path, typer.Option("-o", "--output", help="ZIP file to write.")],
    seller: Annotated[int | None, typer.Option("--seller", help="Every post of this seller.")] = None,
    post: Annotated[list[int] | None, typer.Option("--post", help="A post id (repeat for several).")] = None,
    query: Annotated[str | None, typer.Option("--query", help="Posts matching this FTS5 query.")] = None,
    case: Annotated[str | None, typer.Option("--case", help="Every post and seller of this case.")] = None,
    no_redact: Annotated[bool, typer.Option("--no-redact", help="Do NOT pseudonymise third parties (logged).")]
    = False,
    include_originals: Annotated[bool, typer.Option("--include-originals",
                                                    help="Also include untouched originals of redacted items.")]
    = False,
    pdf: Annotated[bool, typer.Option("--pdf", help="Also write report.pdf (weasyprint).")] = False,
    sign: Annotated[bool | None, typer.Option("--sign/--no-sign",
                                              help="Sign with the Ed25519 key (default: when it exists).")] = None,
    timestamp: Annotated[bool | None, typer.Option("--timestamp/--no-timestamp",
                                                   help="RFC 3161 timestamp (default: when evidence.tsa_url is set).")]
    = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Export a court-ready evidence bundle (ZIP): evidence files, WACZ, CSV/JSONL, report, custody, manifest.

    Third parties are pseudonymised unless --no-redact. See docs/bundles.md.

    Examples: veille export bundle --seller 12 -o seller12.zip  |  veille export bundle --post 3 --post 9 -o b.zip
    |  veille export bundle --case "RDV Lyon" -o lyon.zip --pdf
    """
    from storage.bundle import build_bundle

    with open_ws(workspace) as ws:
        res = build_bundle(ws, seller=seller, post_ids=post or None, query=query, case=case, output=output,
                           redact=not no_redact, include_originals=include_originals, pdf=pdf, sign=sign,
                           timestamp=timestamp)
    if as_json:
        print_json(res.to_dict())
        return
    typer.echo(f"{res.path}: {res.items} post(s), {res.files} files, sha256 {res.sha256}")
    typer.echo(f"  redaction: {'on' if res.redacted else 'OFF'} ({res.redactions} redaction(s), "
               f"{len(res.withheld)} file(s) withheld); signed: {'yes' if res.signed else 'no'}; "
               f"timestamped: {res.timestamp_time or 'no'}")
    if res.redaction_key_path:
        typer.echo(f"  pseudonymisation key (keep it, never send it with the bundle): {res.redaction_key_path}")
    if res.images_to_check:
        typer.echo(f"  {res.images_to_check} image(s) to check by hand for third parties (see report.html)")
    for w in res.warnings:
        typer.echo(f"  warning: {w}", err=True)


@app.command("verify")
def verify_bundle_cmd(
    file: Annotated[Path, typer.Argument(help="The bundle ZIP to check.")],
    as_json: JsonOpt = False,
) -> None:
    """Verify an evidence bundle offline: hashes, Merkle root, custody chain, signature, timestamp.

    Needs no workspace. Exit code 0 only when everything holds; each failing file or entry is named.

    Example: veille verify seller12.zip
    """
    from storage.verify_bundle import verify_bundle

    rep = verify_bundle(file)
    if as_json:
        print_json(rep.to_dict())
    else:
        for prob in rep.problems:
            typer.echo(f"FAIL {prob}", err=True)
        for w in rep.warnings:
            typer.echo(f"warning: {w}", err=True)
        sig = "not signed" if not rep.signed else (f"signature OK (key {rep.signing_key_sha256})"
                                                   if rep.signature_ok else "signature FAILED")
        ts = "no timestamp" if not rep.timestamped else (
            f"timestamp OK ({(rep.timestamp or {}).get('gen_time')}, TSA {(rep.timestamp or {}).get('tsa')})"
            if rep.timestamp_ok else "timestamp FAILED")
        typer.echo(f"{rep.path}: {rep.files_checked} files, {rep.custody_entries} custody entries "
                   f"({rep.custody_elided} elided), Merkle root {rep.merkle_root}; {sig}; {ts}: "
                   + ("OK" if rep.ok else f"{len(rep.problems)} problem(s)"))
    if not rep.ok:
        raise typer.Exit(1)


@keys_app.command("init")
def keys_init_cmd(
    force: Annotated[bool, typer.Option("--force", help="Replace an existing key (old bundles stay valid).")]
    = False,
    workspace: WorkspaceOpt = None,
) -> None:
    """Create the Ed25519 key that signs bundles (mode 0600 at evidence.signing_key); print its fingerprint.

    Example: veille keys init -w ~/veille-ws
    """
    from storage.keys import init_key

    with open_ws(workspace) as ws:
        info = init_key(ws, force=force)
    verb = "created" if info["created"] else "already exists"
    typer.echo(f"signing key {info['path']} {verb}; fingerprint (SHA-256 of the public key): {info['fingerprint']}")


# ---------------------------------------------------------------- daily job, demo, digests, browse, retention (issue 9)
BaseUrlOpt = Annotated[list[str] | None, typer.Option(
    "--base-url", help="Replace a source's base URL: NAME=URL (e.g. leboncoin=http://127.0.0.1:8001, "
    "telegram=http://127.0.0.1:8002). Repeatable.")]


@app.command("daily")
def daily_cmd(
    workspace: WorkspaceOpt = None,
    base_url: BaseUrlOpt = None,
    only: Annotated[list[str] | None, typer.Option(
        "--only", help="Run only these sources: classifieds, telegram, backfill, inbox. Repeatable.")] = None,
    no_send: Annotated[bool, typer.Option("--no-send", help="Write the digest but do not e-mail or post it.")]
    = False,
    purge: Annotated[bool | None, typer.Option("--purge/--no-purge",
                                                help="Override retention.auto_purge for this run.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Run every configured source, then classification, clustering, due re-checks, purge and the digest.

    Each source is isolated: one failure never stops the others, and the exit
    code is 1 when a source or a stage failed. A lock file (daily.lock) stops
    two runs at once; a stale lock (dead process, or older than
    daily.lock_stale_hours) is taken over with a message. Progress bars on a
    terminal, plain log lines under cron. See docs/workflows/investigator-daily.md
    for cron and systemd timer examples.

    Examples: veille daily -w ~/veille-ws  |  veille daily --only inbox --no-send
    |  veille daily --base-url leboncoin=http://127.0.0.1:8001
    """
    from storage.daily import default_reporter, parse_base_urls, run_daily

    urls = parse_base_urls(base_url or [])
    with open_ws(workspace) as ws:
        rep = run_daily(ws, base_urls=urls, reporter=default_reporter(), only=set(only) if only else None,
                        send=not no_send, purge=purge)
    if as_json:
        d = rep.to_dict()
        if d.get("digest"):
            d["digest"] = {k: v for k, v in d["digest"].items() if k != "data"}
        print_json(d)
    else:
        for m in rep.messages:
            typer.echo(m, err=True)
        dg = rep.digest or {}
        if dg:
            c = dg["counts"]
            typer.echo(f"digest {dg['html']} ({c['new_offers']} new offers, {c['new_sellers']} new sellers, "
                       f"{c['removed']} removed, {c['relisting']} relisting alerts)")
        for s in rep.failed:
            typer.echo(f"FAILED {s.kind} {s.name}: {s.error}", err=True)
    if rep.exit_code:
        raise typer.Exit(rep.exit_code)


@app.command("demo")
def demo_cmd(
    workspace: Annotated[Path | None, typer.Option("--workspace", "-w", help="Folder for the demo workspace "
                                                   "(default: a new temporary folder).", show_default=False)] = None,
    as_json: JsonOpt = False,
) -> None:
    """Run the whole pipeline offline on fictional data, in about a minute.

    Starts a local demo site on 127.0.0.1 (classifieds in the style of the
    profiled sites, t.me/s channel pages), runs the daily job over it twice
    (day 1, then day 2 after an ad is taken down and relisted) and over a
    bundled Telegram Desktop export, exports the evidence bundle of the seller
    seen on the most platforms, verifies it, drafts a DSA notice and a
    complaint, and prints what it found and where every output is. All
    sellers, numbers (ARCEP fiction ranges) and domains (.example/.test) are
    fictional.

    Examples: veille demo  |  veille demo --workspace /tmp/veille-demo
    """
    from storage.daily import default_reporter
    from storage.demo import format_summary, run_demo

    say = (lambda s: typer.echo(s, err=True)) if as_json else typer.echo
    res = run_demo(workspace, say=say, reporter=default_reporter())
    if as_json:
        print_json(res.to_dict())
    else:
        for line in format_summary(res):
            typer.echo(line)
    if res.exit_code:
        raise typer.Exit(res.exit_code)


# ------------------------------------------------- sellers: clustering (issue 6)
seller_app = _typer("One seller: show it with the links that explain it, merge or split (investigator decisions).\n\n"
                     "Examples: veille seller show 12  |  veille seller merge 12 40 --note \"same IBAN\"  |  "
                     "veille seller split 12 --post 881")
app.add_typer(seller_app, name="seller")


@app.command("cluster")
def cluster_cmd(
    full: Annotated[bool, typer.Option("--full", help="Rebuild every seller from scratch (ids are kept).")] = False,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Group posts into sellers from shared identifiers, similar handles, texts and photos.

    Incremental: only the posts stored (or edited) since the last run are compared
    (through blocking keys) with the sellers already known. --full rebuilds everything;
    seller ids stay stable and investigators' merge/split decisions are kept.

    Examples: veille cluster  |  veille cluster --full --json
    """
    from storage.sellers import update_clusters

    with open_ws(workspace) as ws:
        rep = update_clusters(ws, full=full, progress=None if as_json else (lambda m: typer.echo(m, err=True)))
    if as_json:
        print_json(rep.to_dict())
        return
    changed = f" ({rep.posts_changed} edited since clustered)" if rep.posts_changed else ""
    typer.echo(f"{rep.mode}: {rep.posts_clustered} post(s){changed} clustered in {rep.seconds:.1f} s "
               f"({rep.cpu_seconds:.1f} s CPU); "
               f"{rep.sellers_total} active sellers, {len(rep.new_sellers)} new, {len(rep.merges)} merge(s), "
               f"{len(rep.new_platform)} seen on a new platform, {rep.links_added} link(s) added")
    for m in rep.merges[:20]:
        typer.echo(f"  merged {', '.join(map(str, m['merged']))} into {m['into']}")
    for n in rep.new_platform[:20]:
        typer.echo(f"  seller {n['seller']} now also on {', '.join(n['platforms'])}")


@app.command("sellers")
def sellers_cmd(
    platform: Annotated[str | None, typer.Option("--platform", help="Only sellers seen on this platform.")] = None,
    min_posts: Annotated[int, typer.Option("--min-posts", help="Only sellers with at least this many posts.")] = 1,
    limit: Annotated[int, typer.Option(help="Most sellers listed (0: all).")] = 100,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List sellers, biggest first: id, label, platforms, accounts, identifiers, dates, posts, prices.

    Examples: veille sellers --min-posts 3  |  veille sellers --platform telegram --json
    """
    from storage.sellers import list_sellers

    with open_ws(workspace, readonly=True) as ws:
        sel = list_sellers(ws, platform=platform, min_posts=min_posts, limit=limit or None)
    if as_json:
        print_json(sel)
        return
    t = Table("id", "label", "posts", "platforms", "accounts", "identifiers", "first seen", "last seen", "price")
    for s in sel:
        price = "" if s["price_min"] is None else f"{s['price_min']:g}-{s['price_max']:g}"
        t.add_row(str(s["id"]), (s["label"] or "")[:30], str(s["post_count"]), ", ".join(s["platforms"]),
                  str(len(s["accounts"])), ", ".join(s["identifiers"][:3])[:60], (s["first_seen"] or "")[:10],
                  (s["last_seen"] or "")[:10], price)
    console.print(t)
    typer.echo(f"{len(sel)} seller(s)", err=True)


@seller_app.command("show")
def seller_show_cmd(
    seller_id: Annotated[int, typer.Argument(help="Seller id (see `veille sellers`).")],
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Posts, accounts, identifiers, why its posts are linked, and a timeline.

    Example: veille seller show 12
    """
    from storage.sellers import seller_detail

    with open_ws(workspace, readonly=True) as ws:
        d = seller_detail(ws, seller_id)
    if as_json:
        print_json(d)
        return
    typer.echo(f"seller {d['id']}: {d['label']}  [{d['status']}]  {d['post_count']} post(s)  "
               f"{d['first_seen'] or '?'} .. {d['last_seen'] or '?'}" + (f"  ({d['note']})" if d.get("note") else ""))
    typer.echo(f"platforms: {', '.join(d['platforms'])}")
    typer.echo(f"accounts: {', '.join(d['accounts'])}")
    typer.echo(f"identifiers: {', '.join(d['identifiers'])}")
    if d["price_min"] is not None:
        typer.echo(f"prices: {d['price_min']:g} - {d['price_max']:g}")
    typer.echo("why these posts are one seller:")
    for lk in d["links"][:200]:
        typer.echo(f"  - {lk['explanation']} (weight {lk['weight']:.2f})")
    typer.echo("timeline:")
    for ev in d["timeline"]:
        typer.echo(f"  {ev['at']}  post {ev['post_id']}  {ev['platform']}  {ev['account'] or '-'}  {ev['url']}"
                   + (f"  [{ev['status']}]" if ev["status"] != "live" else ""))
    for dec in d["decisions"]:
        typer.echo(f"decision {dec['id']}: {dec['kind']} {dec['seller_a']} / {dec['seller_b']} by {dec['actor']} "
                   f"at {dec['at']}" + (f": {dec['note']}" if dec["note"] else ""))


@seller_app.command("merge")
def seller_merge_cmd(
    seller_a: Annotated[int, typer.Argument(help="Seller kept.")],
    seller_b: Annotated[int, typer.Argument(help="Seller merged into it.")],
    note: Annotated[str | None, typer.Option("--note", help="Why (kept in the custody log).")] = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Record that two sellers are one (custody-logged; re-clustering keeps it).

    Example: veille seller merge 12 40 --note "same IBAN in screenshots"
    """
    from storage.sellers import merge_sellers

    with open_ws(workspace) as ws:
        r = merge_sellers(ws, seller_a, seller_b, note=note)
    if as_json:
        print_json(r)
        return
    typer.echo(f"decision {r['decision']}: seller {r['merged']} merged into {r['seller']} ({r['posts']} posts)")


@seller_app.command("split")
def seller_split_cmd(
    seller_id: Annotated[int, typer.Argument(help="Seller to split.")],
    post: Annotated[list[int], typer.Option("--post", help="A post that is NOT this seller (repeatable).")],
    note: Annotated[str | None, typer.Option("--note", help="Why (kept in the custody log).")] = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Record that some posts are not the same seller: they become a new seller, and
    re-clustering will never join them with the rest again.

    Example: veille seller split 12 --post 881 --post 904 --note "agency number, different people"
    """
    from storage.sellers import split_seller

    with open_ws(workspace) as ws:
        r = split_seller(ws, seller_id, post, note=note)
    if as_json:
        print_json(r)
        return
    typer.echo(f"decision {r['decision']}: post(s) {', '.join(map(str, r['posts']))} of seller {r['seller']} "
               f"are now seller {r['new_seller']}")


@eval_app.command("sellers")
def eval_sellers_cmd(
    truth: Annotated[Path, typer.Argument(help="JSONL of {\"url\", \"seller\"} lines (the true seller of each post).")],
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Pairwise and B-cubed precision/recall/F1 of the stored sellers against a labelled truth.

    Example: veille eval sellers truth.jsonl -w ~/veille-ws
    """
    from storage.sellers import evaluate_sellers

    with open_ws(workspace, readonly=True) as ws:
        rep = evaluate_sellers(ws, truth)
    if as_json:
        print_json(rep)
        return
    pw, b3 = rep["pairwise"], rep["bcubed"]
    typer.echo(f"{rep['items']} labelled posts found ({rep['missing_from_workspace']} missing); "
               f"{rep['predicted_clusters']} sellers vs {rep['true_clusters']} true")
    typer.echo(f"pairwise  P {pw['precision']:.4f}  R {pw['recall']:.4f}  F1 {pw['f1']:.4f}")
    typer.echo(f"B-cubed   P {b3['precision']:.4f}  R {b3['recall']:.4f}  F1 {b3['f1']:.4f}")
    typer.echo("links by type: " + ", ".join(f"{k} {v}" for k, v in sorted(rep["links_by_type"].items())))
    for mode, r in rep.get("by_evidence", {}).items():
        typer.echo(f"{mode.replace('_', ' ')} (re-clustered in memory): pairwise F1 {r['pairwise']['f1']:.4f}, "
                   f"B-cubed P {r['bcubed']['precision']:.4f} R {r['bcubed']['recall']:.4f} "
                   f"F1 {r['bcubed']['f1']:.4f}")


@app.command("digest")
def digest_cmd(
    workspace: WorkspaceOpt = None,
    send: Annotated[bool, typer.Option("--send", help="Also e-mail it / post it to the webhook as configured.")]
    = False,
    list_: Annotated[bool, typer.Option("--list", help="List the digests already written instead.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Write a digest of what changed since the previous one (HTML + Markdown in digests/), or list them.

    `veille daily` writes one at the end of every run; this command writes one on demand.

    Examples: veille digest -w ~/veille-ws  |  veille digest --list --json
    """
    from storage.digest import deliver, list_digests, write_digest

    with open_ws(workspace) as ws:
        if list_:
            ds = list_digests(ws)
            if as_json:
                print_json(ds)
                return
            for d in ds:
                c = d["counts"]
                typer.echo(f"{d['day']}\t{d['html_path']}\t{c.get('new_offers', 0)} new offers\t"
                           f"{c.get('removed', 0)} removed\t{c.get('relisting', 0)} relisting")
            return
        res = write_digest(ws)
        if send:
            res["delivered"] = deliver(ws, res)
    res.pop("data", None)
    if as_json:
        print_json(res)
        return
    c = res["counts"]
    typer.echo(f"{res['html']}\n{res['md']}\n{c['new_offers']} new offers, {c['new_sellers']} new sellers, "
               f"{c['removed']} removed, {c['relisting']} relisting alerts")
    for k, v in (res.get("delivered") or {}).items():
        typer.echo(f"{k}: {v}")


@app.command("purge")
def purge_cmd(
    older_than: Annotated[int | None, typer.Option("--older-than", help="Days (default: retention.days).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only count what would be removed.")] = False,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Delete posts classified `none` not seen for DAYS days, with their now-unreferenced evidence files.

    Offers, unclassified posts and anything held in a case or named in a notice
    are always kept. A custody entry lists every post and file removed. Temporary
    files that interrupted evidence writes left in the store (older than an hour)
    go too.

    Examples: veille purge --older-than 180 --dry-run  |  veille purge -w ~/veille-ws
    """
    from storage.purge import purge

    with open_ws(workspace) as ws:
        days = older_than if older_than is not None else int(ws.config.get("retention.days", 180))
        rep = purge(ws, days, dry_run=dry_run)
    if as_json:
        print_json(rep.to_dict())
        return
    verb = "would remove" if dry_run else "removed"
    typer.echo(f"{verb} {rep.posts} post(s), {rep.captures} capture(s), {rep.blobs} file(s) "
               f"({rep.bytes:,} bytes) last seen before {rep.cutoff}; kept {rep.kept_in_cases} held in a case "
               "or notice")
    if rep.temp_files:
        typer.echo(f"{verb} {rep.temp_files} temporary file(s) left in the evidence store by interrupted writes")


@app.command("browse")
def browse_cmd(
    workspace: WorkspaceOpt = None,
    port: Annotated[int | None, typer.Option("--port", help="Port on 127.0.0.1 (default: a free one).")] = None,
) -> None:
    """Open the workspace database in Datasette, read-only, on 127.0.0.1.

    Every table and column is described; canned queries: new offers today,
    sellers on 2+ platforms, identifiers shared by 2+ sellers, removed posts,
    evidence of a post. Full-text search on posts. In query results, post ids
    link to their evidence and SHA-256 cells open the evidence files (shown as
    text or image, never rendered). Ctrl-C stops it.

    Examples: veille browse -w ~/veille-ws  |  veille browse --port 8001
    """
    from storage.browse import prepare, serve

    with open_ws(workspace) as ws:
        _cmd, _meta, p = prepare(ws, port)
        typer.echo(f"Datasette on http://127.0.0.1:{p}/veille (Ctrl-C to stop)")
        code = serve(ws, p)
    if code:
        raise typer.Exit(code)


@export_app.command("graph")
def export_graph_cmd(
    output: Annotated[Path | None, typer.Option("-o", "--output", help="File to write (default graph.FORMAT).")]
    = None,
    fmt: Annotated[str, typer.Option("--format", help="gexf (Gephi) or graphml (Maltego, yEd, Cytoscape).")]
    = "gexf",
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Export sellers, accounts, identifiers and platforms as a graph, with link types and weights.

    Third parties never appear: only posts written by sellers are used.

    Examples: veille export graph --format gexf -o sellers.gexf  |  veille export graph --format graphml
    """
    from storage.graph import export_graph

    with open_ws(workspace, readonly=True) as ws:
        res = export_graph(ws, output or Path(f"graph.{fmt}"), fmt)
    if as_json:
        print_json(res)
        return
    typer.echo(f"{res['path']}: {res['nodes']} nodes ({', '.join(f'{k} {v}' for k, v in res['nodes_by_type'].items())}),"
               f" {res['edges']} edges ({', '.join(f'{k} {v}' for k, v in res['edges_by_type'].items())})")


# ---------------------------------------------------------------- telegram (issue 5)
telegram_app = _typer("Telegram with an account (Telethon): login, watch, backfill, discover, search.\n\n"
                       "Examples: veille telegram login  |  veille telegram watch -c somechannel  |  "
                       "veille telegram channels --json")
app.add_typer(telegram_app, name="telegram")


def _print_tg_alerts(alerts, limit: int = 50) -> None:
    for a in alerts[:limit]:
        if a.get("kind") == "keyword":
            typer.echo(f"ALERT keyword {', '.join(a.get('keywords') or [])} post {a.get('post_id')} "
                       f"{a.get('url') or a.get('chat') or ''}".rstrip())
            continue
        typer.echo(f"ALERT {a.get('category')}/{a.get('subtype') or '-'} score {a.get('score')} "
                   f"post {a.get('post_id')} {a.get('url') or a.get('chat') or ''}".rstrip())
    if len(alerts) > limit:
        typer.echo(f"... and {len(alerts) - limit} more alert(s) (veille status / the digest list them all)")


@import_app.command("telegram-page")
def import_telegram_page_cmd(
    files: Annotated[list[str], typer.Argument(help="Saved t.me/s/<channel> (or ?embed=1) HTML pages.")],
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Import t.me/s pages saved from a browser: each message becomes a post, the raw HTML is kept as evidence.

    A page of a channel that does not exist or is private is reported and skipped (exit 1).

    Example: veille import telegram-page ~/Downloads/t.me-s-somechannel.html
    """
    from telegram_watch.preview import import_pages

    with open_ws(workspace) as ws:
        rep = import_pages(ws, files)
    if as_json:
        print_json(rep.to_dict())
    else:
        for f, e in rep.errors:
            typer.echo(f"{f}: {e}", err=True)
        _print_tg_alerts(rep.alerts)
        typer.echo(f"{rep.files} file(s), {rep.posts} message(s): {rep.imported} new, {rep.updated} updated, "
                   f"{rep.unchanged} unchanged, {rep.positives} flagged as offers; channels: "
                   f"{', '.join(rep.channels) or '-'}")
    if rep.errors:
        raise typer.Exit(1)


@import_app.command("telegram-export")
def import_telegram_export_cmd(
    path: Annotated[Path, typer.Argument(help="result.json of a Telegram Desktop export, its folder, or a JSON "
                                              "list of Telethon to_dict() messages.")],
    seller: Annotated[list[str] | None, typer.Option(
        "--seller", help="A sender who is a seller (from_id like user123, numeric id or name; 'peer' = the other "
                         "party of a one-to-one chat). Everybody else is stored as a third party.")] = None,
    channel: Annotated[str | None, typer.Option(help="Public @username of the exported channel (gives t.me URLs).")]
    = None,
    skip_bad: Annotated[bool, typer.Option("--skip-bad", help="Exit 0 even if some messages were rejected.")]
    = False,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Import a Telegram Desktop export (single chat or whole account), streamed: memory stays bounded.

    Photos and files of the export folder are hashed into the evidence store; paths leaving the folder are
    refused and reported. Re-running adds nothing twice; an interrupted import resumes.

    Example: veille import telegram-export ~/Downloads/ChatExport_2026-11-01 --seller peer
    """
    from telegram_watch.export import import_export

    with open_ws(workspace) as ws:
        rep = import_export(ws, path, sellers=seller or [], channel=channel)
    if as_json:
        print_json(rep.to_dict())
    else:
        for place, reason in rep.rejected:
            typer.echo(f"rejected: {place}: {reason}", err=True)
        for place, f, reason in rep.refused:
            typer.echo(f"refused media: {place}: {f!r}: {reason}", err=True)
        if rep.media_missing:
            typer.echo(f"{len(rep.media_missing)} media file(s) named in the export are missing from its folder",
                       err=True)
        _print_tg_alerts(rep.alerts)
        roles = ", ".join(f"{k} {v}" for k, v in sorted(rep.roles.items())) or "-"
        typer.echo(f"{rep.format} export: {rep.chats} chat(s), {rep.messages} message(s): {rep.imported} new, "
                   f"{rep.updated} updated, {rep.unchanged + rep.skipped_already_imported} already there, "
                   f"{len(rep.rejected)} rejected, {rep.positives} flagged as offers; media stored "
                   f"{rep.media_stored}, refused {len(rep.refused)}; roles: {roles}")
    if rep.rejected and not skip_bad:
        raise typer.Exit(1)


@telegram_app.command("login")
def telegram_login_cmd(workspace: WorkspaceOpt = None) -> None:
    """Log in once, interactively (phone, code, 2FA password); writes the session file with mode 0600.

    api_id/api_hash are read from the environment variables named by telegram.api_id_env/api_hash_env.

    Example: VEILLE_TG_API_ID=12345 VEILLE_TG_API_HASH=... veille telegram login
    """
    from telegram_watch import commands

    with open_ws(workspace) as ws:
        info = commands.login(
            ws,
            lambda: typer.prompt("Phone number (international format)"),
            lambda: typer.prompt("Login code sent by Telegram"),
            lambda: typer.prompt("Two-step verification password", hide_input=True),
        )
    who = f"@{info['username']}" if info.get("username") else f"user {info.get('user_id')}"
    typer.echo(f"{'already logged in' if info.get('already') else 'logged in'} as {who}; session file mode "
               f"{info.get('session_mode')}")


@telegram_app.command("watch")
def telegram_watch_cmd(
    channel: Annotated[list[str] | None, typer.Option("--channel", "-c", help="Watch this channel instead of "
                                                      "the watch list (repeatable).")] = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Watch channels live: new messages are classified and stored, edits kept as versions, deletions marked.

    Runs until interrupted (Ctrl-C). Alerts are printed and stored.

    Example: veille telegram watch -c somechannel
    """
    from telegram_watch import commands

    def on_event(kind, info):
        if kind == "delete" and info.get("post_ids"):
            typer.echo(f"deleted: posts {info['post_ids']}")
        elif kind == "edit" and info.get("changed"):
            typer.echo(f"edited: post {info['post_id']} now version {info['version']}")
        elif kind == "skipped":
            typer.echo(f"not watched: {info['error']}")

    with open_ws(workspace) as ws:
        commands.watch(ws, channel or [], on_alert=lambda a: _print_tg_alerts([a]), on_event=on_event)


@telegram_app.command("backfill")
def telegram_backfill_cmd(
    channel: Annotated[str, typer.Argument(help="Channel username, @name or t.me link.")],
    since: Annotated[str | None, typer.Option(help="Only messages from this date (YYYY-MM-DD, UTC).")] = None,
    limit: Annotated[int | None, typer.Option(help="Most messages read (default telegram.backfill_limit).")]
    = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Read a channel's history through iter_messages; resumes after the last stored message.

    FloodWait answers are honoured by sleeping (up to telegram.max_flood_wait).

    Example: veille telegram backfill somechannel --since 2026-10-01 --limit 500
    """
    from storage.post import to_utc
    from telegram_watch import commands

    when = to_utc(since, "--since") if since else None
    with open_ws(workspace) as ws:
        reps = commands.backfill(ws, [channel], since=when, limit=limit)
    if as_json:
        print_json([r.to_dict() for r in reps])
        return
    failed = False
    for r in reps:
        _print_tg_alerts(r.alerts)
        typer.echo(f"{r.chat}: {r.status}: {r.fetched} read, {r.imported} new, {r.updated} updated, "
                   f"{r.positives} offers; now at message {r.last_id}"
                   + (f"; flood waits {r.flood_waits}" if r.flood_waits else "") + (f"; {r.error}" if r.error else ""))
        failed |= r.status == "failed"
    if failed:
        raise typer.Exit(1)


@telegram_app.command("discover")
def telegram_discover_cmd(
    add: Annotated[bool, typer.Option("--add", help="Add the candidates to the watch list.")] = False,
    min_refs: Annotated[int | None, typer.Option(help="Default telegram.discover_min_refs.")] = None,
    max_depth: Annotated[int | None, typer.Option(help="Default telegram.discover_max_depth.")] = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Snowball: channels referenced (forwards, t.me links, @mentions) by posts classified positive.

    Ranked by the number of positive posts referencing them. Nothing is added without --add.

    Example: veille telegram discover --min-refs 3  |  veille telegram discover --add
    """
    from telegram_watch.discover import add_candidates, discover

    with open_ws(workspace) as ws:
        cands = discover(ws, min_refs=min_refs, max_depth=max_depth)
        added = add_candidates(ws, cands) if add and cands else 0
    if as_json:
        print_json({"candidates": [c.to_dict() for c in cands], "added": added})
        return
    for c in cands:
        typer.echo(f"{c.refs}\tdepth {c.depth}\t{c.kind}\thttps://t.me/{c.name}")
    typer.echo(f"{len(cands)} candidate(s)" + (f", {added} added to the watch list" if add else
                                               " (use --add to watch them)"), err=True)


@telegram_app.command("search")
def telegram_search_cmd(
    query: Annotated[str, typer.Argument(help="Keywords, e.g. 'rdv prefecture'.")],
    limit: Annotated[int, typer.Option(help="Most results.")] = 50,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Search public channels and groups by keyword (contacts.Search). Prints, adds nothing.

    Example: veille telegram search "rendez-vous prefecture"
    """
    from telegram_watch import commands

    with open_ws(workspace) as ws:
        res = commands.search(ws, query, limit)
    if as_json:
        print_json(res)
        return
    for r in res:
        typer.echo(f"{r['kind']}\t{r['members'] or '-'}\t{r['url'] or r['id']}\t{r['title'] or ''}")
    typer.echo(f"{len(res)} result(s)", err=True)


@telegram_app.command("channels")
def telegram_channels_cmd(workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """The watch list: telegram.channels from veille.toml plus channels added by discover --add.

    Example: veille telegram channels --json
    """
    from storage.telegram_store import sync_state, watchlist
    from telegram_watch.preview import normalise_channel

    with open_ws(workspace) as ws:
        wl = watchlist(ws, [normalise_channel(c) for c in ws.config.get("telegram.channels") or []])
        sync = {s["chat"]: s["last_backfill_id"] for s in sync_state(ws)}
    for w in wl:
        w["last_backfill_id"] = sync.get(w["name"], 0)
    if as_json:
        print_json(wl)
        return
    for w in wl:
        typer.echo(f"{w['name']}\t{w['added_by']}\tdepth {w['depth']}\tbackfilled to {w['last_backfill_id']}")


# ---------------------------------------------------------------- crawling classifieds (issue 4)
profile_app = _typer("Site profiles of the classifieds crawler (spiders/profiles/*.toml).\n\n"
                      "Examples: veille profile list --json  |  veille profile test leboncoin saved-ad.html")
app.add_typer(profile_app, name="profile")


@app.command("crawl")
def crawl_cmd(
    sites: Annotated[list[str] | None, typer.Argument(help="Profiles to crawl (default: collect.sites, else all).")]
    = None,
    keywords: Annotated[list[str] | None, typer.Option("--keywords", "-k", help="Search keyword (repeatable; "
                                                       "default: collect.keywords, else each profile's lexicon list).")]
    = None,
    max_pages: Annotated[int | None, typer.Option("--max-pages", help="Result pages per keyword and site.")] = None,
    base_url: Annotated[list[str] | None, typer.Option("--base-url", help="NAME=URL: replace a site's base URL "
                                                       "(repeatable), e.g. leboncoin=http://127.0.0.1:8000.")] = None,
    no_screenshots: Annotated[bool, typer.Option("--no-screenshots", help="Take no screenshots this run.")] = False,
    workspace: WorkspaceOpt = None, as_json: JsonOpt = False,
) -> None:
    """Crawl classifieds sites with their profiles: search, read ads, store pages, verdicts and evidence.

    Blocked sites (captcha, DataDome, Cloudflare) are recorded as blocked, never bypassed; save pages from
    your browser and use `veille import html` instead.

    Examples: veille crawl  |  veille crawl leboncoin vivastreet -k "rdv préfecture" --max-pages 2
    """
    from spiders.run import crawl
    from storage.daily import parse_base_urls

    with open_ws(workspace) as ws:
        rep = crawl(ws, sites or None, keywords or None, max_pages, parse_base_urls(base_url or []) or None,
                    screenshots=False if no_screenshots else None, verbose=logging.getLogger().level <= logging.INFO)
    if as_json:
        print_json(rep.to_dict())
    else:
        for w in rep.warnings:
            typer.echo(f"warning: {w}", err=True)
        for name, r in rep.sites.items():
            typer.echo(f"{name}\t{r.status}\t{r.items} ads ({r.new} new, {r.positive} positive), {r.pages} pages, "
                       f"{r.removed} removed, {r.blocked} blocked, {r.errors} errors, {r.skipped_seen} already seen"
                       + (f"\t{r.error[:200]}" if r.error else ""))
    if rep.sites and all(r.status in ("failed", "interrupted") for r in rep.sites.values()):
        raise typer.Exit(1)


@profile_app.command("test")
def profile_test_cmd(
    profile: Annotated[str, typer.Argument(help="Profile name (or path to a .toml).")],
    saved: Annotated[Path, typer.Argument(help="An ad page saved from a browser (.html).")],
    url: Annotated[str | None, typer.Option("--url", help="The page's URL, if the file does not name it.")] = None,
    workspace: Annotated[Path | None, typer.Option("--workspace", "-w", envvar="VEILLE_WORKSPACE",
                                                   help="Workspace whose profiles/ folder to use too.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Show which fields a profile finds in a saved page, from which source, and which it misses.

    Example: veille profile test leboncoin ~/Téléchargements/annonce.html
    """
    from spiders.run import profile_test

    ws = None
    if workspace is not None and (workspace / "veille.toml").is_file():
        ws = open_ws(workspace)
    try:
        res = profile_test(profile, saved, url=url, ws=ws)
    finally:
        if ws is not None:
            ws.close()
    if as_json:
        print_json(res)
        return
    typer.echo(f"profile {res['profile']} (written on {res['written_on']}) on {res['file']} ({res['url']})")
    for f in res["fields"]:
        mark = "found  " if f["found"] else ("MISSING" if f["expected"] else "-      ")
        val = str(f["value"]).replace("\n", " ")[:90] if f["found"] else ""
        typer.echo(f"{mark} {f['field']:<14} {val}" + (f"   <- {f['source']}" if f["source"] else ""))
    typer.echo(f"{res['ad_links_count']} ad link(s) found (if this is a results page)")
    if res["missing"]:
        typer.echo("missing: " + ", ".join(res["missing"]))


@profile_app.command("list")
def profile_list_cmd(workspace: Annotated[Path | None, typer.Option("--workspace", "-w", envvar="VEILLE_WORKSPACE",
                                                                    help="Workspace whose profiles/ to list too.")]
                     = None, as_json: JsonOpt = False) -> None:
    """List the site profiles with their date and whether they need JavaScript.

    Example: veille profile list --json
    """
    from spiders.profile import list_profiles, load_profile

    ws = open_ws(workspace) if workspace is not None and (workspace / "veille.toml").is_file() else None
    try:
        out = []
        for name in list_profiles(ws):
            p = load_profile(name, ws)
            out.append({"name": p.name, "platform": p.platform, "base_url": p.base_url, "written_on": p.written_on,
                        "javascript": p.javascript, "spider": p.spider, "path": str(p.path)})
    finally:
        if ws is not None:
            ws.close()
    if as_json:
        print_json(out)
        return
    for p in out:
        typer.echo(f"{p['name']}\t{p['base_url']}\twritten on {p['written_on']}"
                   + ("\tJavaScript" if p["javascript"] else ""))


@import_app.command("html")
def import_html_cmd(
    files: Annotated[list[Path], typer.Argument(help="Pages saved from a browser (.html).")],
    profile: Annotated[str | None, typer.Option("--profile", "-p", help="Profile to parse them with "
                                                "(default: guessed from the page).")] = None,
    url: Annotated[str | None, typer.Option("--url", help="The page's URL, if the file does not name it.")] = None,
    workspace: WorkspaceOpt = None, as_json: JsonOpt = False,
) -> None:
    """Import ad pages saved from a browser: parse them with a profile, classify, store them as evidence.

    This is the supported route for sites that block crawlers (leboncoin's DataDome).

    Example: veille import html annonce1.html annonce2.html --profile leboncoin
    """
    from spiders.run import import_html

    with open_ws(workspace) as ws:
        rep = import_html(ws, files, profile=profile, url=url)
    if as_json:
        print_json(rep.to_dict())
    else:
        typer.echo(f"{rep.imported} imported, {rep.updated} updated, {rep.unchanged} unchanged, "
                   f"{len(rep.failed)} failed")
        for path, why in rep.failed:
            typer.echo(f"failed: {path}: {why}", err=True)
    if rep.failed and not rep.items and not rep.unchanged:
        raise typer.Exit(1)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
