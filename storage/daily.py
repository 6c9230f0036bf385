"""``veille daily``: every source, then classification, clustering, re-checks, purge and the digest.

One run, in order:

1. **sources**, each isolated (its failure is recorded and the next one runs):
   classifieds site profiles (``spiders.run.crawl``), public Telegram channels
   through t.me/s, Telethon backfill (only when a session file exists), and the
   files dropped in the workspace's ``inbox/`` folder (JSONL, Telegram Desktop
   exports, saved pages); every source is recorded in ``runs``;
2. **classify** posts that have no verdict yet;
3. **cluster** sellers incrementally (``storage.sellers.update_clusters``);
4. **recheck** the posts that are due (reported posts, and positive posts not
   captured for ``collect.recapture_interval_hours``); relisting alerts follow;
5. **purge** (only when ``retention.auto_purge``);
6. **digest**: HTML and Markdown in ``digests/``, then e-mail and webhook if set.

A :class:`~storage.lock.FileLock` in the workspace (``daily.lock``) keeps two
runs from overlapping; a stale lock is taken over with a message. The exit code
is non-zero when a source or a stage failed, even partly (blocked sources too
when ``daily.fail_on_blocked``).

A part another package provides that is not installed is reported as
``unavailable`` on its own line; it is not a failure.
"""

from __future__ import annotations

import importlib
import logging
import shutil
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from . import custody
from .db import rows
from .errors import BlockedError, VeilleError
from .lock import FileLock
from .post import iso, to_utc, utcnow
from .posts import finish_run, start_run

log = logging.getLogger("veille.daily")

LOCK_NAME = "daily.lock"
INBOX_DIR = "inbox"


class Unavailable(Exception):  # noqa: N818 - a state, not an error
    """The package that provides this part is not installed (yet)."""


@dataclass
class Step:
    name: str
    kind: str  # "source" or "stage"
    status: str = "pending"  # ok | partial | failed | blocked | skipped | unavailable
    items: int = 0
    detail: str = ""
    error: str | None = None
    seconds: float = 0.0
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class DailyReport:
    started_at: str
    finished_at: str | None = None
    steps: list[Step] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    digest: dict[str, Any] | None = None
    fail_on_blocked: bool = False

    def step(self, name: str) -> Step | None:
        return next((s for s in self.steps if s.name == name), None)

    @property
    def failed(self) -> list[Step]:
        bad = {"failed", "partial", "blocked"} if self.fail_on_blocked else {"failed", "partial"}
        return [s for s in self.steps if s.status in bad]

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0

    def to_dict(self) -> dict[str, Any]:
        return {"started_at": self.started_at, "finished_at": self.finished_at, "exit_code": self.exit_code,
                "steps": [s.to_dict() for s in self.steps], "messages": self.messages, "digest": self.digest}


# ------------------------------------------------------------------ progress output
class Reporter:
    """Plain log lines (cron, pipes): one line when a step starts and one when it ends."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr

    def _line(self, text: str) -> None:
        self.stream.write(f"{iso(utcnow())} {text}\n")
        self.stream.flush()

    def start(self, step: Step) -> None:
        self._line(f"[{step.kind}] {step.name}: started")

    def advance(self, step: Step, items: int, note: str = "") -> None:
        pass

    def done(self, step: Step) -> None:
        extra = f" - {step.detail}" if step.detail else ""
        err = f" - error: {step.error}" if step.error else ""
        self._line(f"[{step.kind}] {step.name}: {step.status.upper()} ({step.items} items, {step.seconds:.1f}s)"
                   f"{extra}{err}")

    def message(self, text: str) -> None:
        self._line(text)

    def close(self) -> None:
        pass


class RichReporter(Reporter):
    """Rich progress bars on a terminal: a spinner and a live item count per step."""

    COLORS = {"ok": "green", "partial": "yellow", "failed": "red", "blocked": "red", "skipped": "dim",
              "unavailable": "yellow"}

    def __init__(self, console=None):
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        self.console = console or Console(stderr=True)
        self.progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                                 MofNCompleteColumn(), TimeElapsedColumn(), console=self.console, transient=False)
        self.tasks: dict[str, Any] = {}
        self.progress.start()

    def start(self, step: Step) -> None:
        self.tasks[step.name] = self.progress.add_task(f"{step.kind} {step.name}", total=None)

    def advance(self, step: Step, items: int, note: str = "") -> None:
        t = self.tasks.get(step.name)
        if t is not None:
            self.progress.update(t, completed=items, description=f"{step.kind} {step.name} {note}".rstrip())

    def done(self, step: Step) -> None:
        t = self.tasks.get(step.name)
        color = self.COLORS.get(step.status, "white")
        desc = f"{step.kind} {step.name}: [{color}]{step.status}[/]"
        if step.detail:
            desc += f" - {step.detail}"
        if step.error:
            desc += f" - [red]{step.error[:150]}[/]"
        if t is not None:
            self.progress.update(t, total=max(step.items, 1), completed=max(step.items, 1), description=desc)

    def message(self, text: str) -> None:
        self.progress.console.print(text)

    def close(self) -> None:
        self.progress.stop()


def default_reporter(stream=None) -> Reporter:
    s = stream or sys.stderr
    return RichReporter() if hasattr(s, "isatty") and s.isatty() else Reporter(s)


# ------------------------------------------------------------------ helpers
def _optional(module: str, *names: str):
    """Import ``module`` and return the first attribute found; raise Unavailable otherwise."""
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and (module == exc.name or module.startswith(exc.name + ".")):
            raise Unavailable(f"{module} is not installed") from None
        raise
    for n in names:
        fn = getattr(mod, n, None)
        if fn is not None:
            return fn
    raise Unavailable(f"{module} has no {' / '.join(names)}")


def _get(obj: Any, key: str, default=None):
    if obj is None:
        return default
    if isinstance(obj, dict):
        return obj.get(key, default)
    return getattr(obj, key, default)


def _count(obj: Any) -> int:
    """Best-effort item count from whatever a source function returned."""
    if obj is None:
        return 0
    if isinstance(obj, int) and not isinstance(obj, bool):
        return obj
    for key in ("items", "saved", "imported", "posts", "messages", "count", "new"):
        v = _get(obj, key)
        if isinstance(v, int) and not isinstance(v, bool):
            return v
        if isinstance(v, list):
            return len(v)
    if isinstance(obj, list):
        return len(obj)
    return 0


class _Runner:
    def __init__(self, ws, report: DailyReport, reporter: Reporter):
        self.ws, self.report, self.reporter = ws, report, reporter

    def run(self, name: str, kind: str, fn: Callable[[Step], Any], record: bool = True) -> Step:
        """Run one isolated step: its exception is recorded, never raised."""
        step = Step(name, kind)
        self.report.steps.append(step)
        self.reporter.start(step)
        run_id = start_run(self.ws, name, f"daily:{kind}") if record and kind == "source" else None
        t0 = time.monotonic()
        try:
            fn(step)
            if step.status == "pending":
                step.status = "ok"
        except Unavailable as exc:
            step.status, step.detail = "unavailable", str(exc)
        except BlockedError as exc:
            step.status, step.error = "blocked", str(exc)
        except (KeyboardInterrupt, SystemExit):
            step.status, step.error = "failed", "interrupted"
            if run_id is not None:
                finish_run(self.ws, run_id, "interrupted", step.items, "interrupted")
            raise
        except Exception as exc:  # noqa: BLE001 - one source's failure must not stop the others
            step.status, step.error = "failed", f"{type(exc).__name__}: {exc}"
            log.warning("daily step %s failed: %s", name, step.error)
            log.debug("%s", traceback.format_exc())
        step.seconds = time.monotonic() - t0
        if run_id is not None:
            status = {"ok": "ok", "partial": "partial", "blocked": "blocked", "failed": "failed"}.get(step.status,
                                                                                                    "ok")
            note = step.error or (step.detail if step.status in ("unavailable", "skipped") else None)
            finish_run(self.ws, run_id, status, step.items, note)
        self.reporter.done(step)
        return step


# ------------------------------------------------------------------ sources
def _sites(ws) -> list[str]:
    sites = list(ws.config.get("collect.sites") or [])
    if sites:
        return sites
    try:
        lister = _optional("spiders.run", "list_sites", "available_sites", "site_names")
    except Unavailable:
        return []
    return list(lister())


def source_classifieds(ws, step: Step, base_urls: dict[str, str], reporter: Reporter) -> None:
    crawl = classifieds_crawler()
    sites = _sites(ws)
    if base_urls:
        sites = [s for s in sites if s in base_urls] or [s for s in base_urls if s not in ("telegram", "tme")]
    if not sites:
        step.status, step.detail = "skipped", "no site profile configured (collect.sites)"
        return
    keywords = list(ws.config.get("collect.keywords") or []) or None
    max_pages = int(ws.config.get("collect.max_pages", 3))
    res = crawl(ws, sites, keywords, max_pages, {k: v for k, v in base_urls.items() if k in sites} or None)
    per_site = _get(res, "sites") or _get(res, "per_site") or {}
    step.items = _count(res)
    bad = []
    if isinstance(per_site, dict):
        for site, r in per_site.items():
            st = _get(r, "status", "ok")
            if st in ("failed", "blocked", "error"):
                bad.append(f"{site}: {st}" + (f" ({_get(r, 'error')})" if _get(r, "error") else ""))
        step.data["sites"] = {k: (r if isinstance(r, dict) else r.to_dict() if hasattr(r, "to_dict") else str(r))
                              for k, r in per_site.items()}
    step.detail = f"{len(sites)} site(s): {', '.join(sites)}"
    if bad:
        failed = [b for b in bad if ": blocked" not in b]
        step.error = "; ".join(bad)
        if failed:  # some site failed: the source failed (partly)
            step.status = "failed" if len(failed) == len(sites) else "partial"
        else:  # only blocks: reported, counted as failure only with daily.fail_on_blocked
            step.status = "blocked"


TELEGRAM_WEB = (("telegram_watch.preview", ("crawl_channels",)), ("spiders.run", ("crawl_channels",)))


def telegram_web_crawler():
    """The function that reads public channels through t.me/s, or Unavailable."""
    for module, names in TELEGRAM_WEB:
        try:
            return _optional(module, *names)
        except Unavailable:
            continue
    raise Unavailable("no t.me/s channel crawler (telegram_watch.preview.crawl_channels) is installed")


def classifieds_crawler():
    return _optional("spiders.run", "crawl")


def part_available(getter) -> bool:
    try:
        getter()
    except Unavailable:
        return False
    return True


def source_telegram_web(ws, step: Step, channels: list[str], base_url: str | None) -> None:
    crawl = telegram_web_crawler()
    res = crawl(ws, channels, base_url=base_url) if base_url else crawl(ws, channels)
    step.items = _count(res)
    step.detail = f"{len(channels)} channel(s): {', '.join(channels)}"
    evidence = [f"{_get(res, k)} {label}" for k, label in (("media_stored", "photo(s)"), ("screenshots", "screenshot(s)"))
                if _get(res, k)]
    if evidence:
        step.detail += "; " + ", ".join(evidence)
    problems = _get(res, "errors") or []
    if problems:  # photos or screenshots that failed: the crawl went on, the operator must know
        step.data["evidence_problems"] = list(problems)[:50]
        step.detail += f"; {len(problems)} photo/screenshot problem(s), first: {str(problems[0])[:160]}"
    failed = _get(res, "failed") or {}
    if failed:
        step.status = "partial" if len(failed) < len(channels) else "failed"
        step.error = "; ".join(f"{k}: {v}" for k, v in (failed.items() if isinstance(failed, dict) else
                                                         enumerate(failed)))


def source_telegram_backfill(ws, step: Step, channels: list[str]) -> None:
    """Telethon history of each channel (telegram_watch.commands.backfill), resuming after the last message."""
    backfill = _optional("telegram_watch.commands", "backfill")
    reps = backfill(ws, channels) or []
    errors = []
    for r in reps:
        step.items += int(_get(r, "imported", 0) or 0) + int(_get(r, "updated", 0) or 0)
        if _get(r, "status") in ("failed", "blocked"):
            errors.append(f"{_get(r, 'chat')}: {_get(r, 'error') or _get(r, 'status')}")
    step.detail = f"{len(channels)} channel(s)"
    if errors:
        step.status = "partial" if len(errors) < max(len(reps), 1) else "failed"
        step.error = "; ".join(errors)


def _import_file(ws, path: Path) -> int:
    if path.suffix.lower() == ".jsonl":
        from .jsonl import import_jsonl

        rep = import_jsonl(ws, path)
        if rep.rejected:
            raise VeilleError(f"{path.name}: {len(rep.rejected)} line(s) rejected, first: line "
                              f"{rep.rejected[0][0]}: {rep.rejected[0][1]}")
        return rep.imported + rep.updated
    if path.is_dir() or path.name.endswith(".json"):
        imp = _optional("telegram_watch.export", "import_export", "import_telegram_export")
        # A sellers.txt next to result.json names the sellers (from_id or display name, one a line);
        # everyone else in the export is a third party.
        folder = path if path.is_dir() else path.parent
        sellers_file = folder / "sellers.txt"
        sellers = []
        if sellers_file.is_file():
            sellers = [ln.strip() for ln in sellers_file.read_text("utf-8", "replace").splitlines()
                       if ln.strip() and not ln.lstrip().startswith("#")][:1000]
        return _count(imp(ws, path, sellers=sellers) if sellers else imp(ws, path))
    if path.suffix.lower() in (".html", ".htm"):
        imp = _optional("spiders.run", "import_html", "import_pages")
        return _count(imp(ws, [path]))
    raise VeilleError(f"{path.name}: unknown file type (expected .jsonl, a Telegram export or a saved .html page)")


def source_inbox(ws, step: Step, paths: list[Path], move: bool) -> None:
    """Import each file or export folder; successful ones move to inbox/done/DATE/."""
    done_dir = ws.path(INBOX_DIR, "done", utcnow().strftime("%Y-%m-%d"))
    errors, unavailable = [], []
    for p in paths:
        try:
            step.items += _import_file(ws, p)
        except Unavailable as exc:
            unavailable.append(f"{p.name}: {exc}")
            continue
        except Exception as exc:  # noqa: BLE001 - one file's failure stops no other
            errors.append(f"{p.name}: {type(exc).__name__}: {exc}")
            continue
        if move:
            done_dir.mkdir(parents=True, exist_ok=True)
            shutil.move(str(p), str(done_dir / p.name))
    step.detail = f"{len(paths)} file(s)"
    if unavailable:
        step.detail += "; not imported (part unavailable): " + "; ".join(unavailable)
    if errors:
        step.status = "partial" if len(errors) < len(paths) else "failed"
        step.error = "; ".join(errors)
    elif unavailable and len(unavailable) == len(paths):
        step.status = "unavailable"


def inbox_files(ws) -> list[Path]:
    inbox = ws.path(INBOX_DIR)
    if not inbox.is_dir():
        return []
    return sorted(p for p in inbox.iterdir() if p.name != "done" and not p.name.startswith("."))


def telethon_session(ws) -> Path | None:
    p = Path(ws.config.get("telegram.session_file") or "telegram.session")
    p = p if p.is_absolute() else ws.path(str(p))
    return p if p.exists() else None


# ------------------------------------------------------------------ stages
def stage_classify(ws, step: Step) -> None:
    """Classify (and extract from) the posts that have no verdict yet."""
    try:
        from matchers import classify, extract
        from matchers.classify import get_lexicon
    except ImportError as exc:
        raise Unavailable(f"matchers are not available: {exc}") from None
    pending = rows(ws.db, "select count(*) as n from posts where classified_at is null")[0]["n"]
    if not pending:
        step.detail = "nothing to classify"
        return
    try:
        extract("")
        ext = extract
    except NotImplementedError:
        ext = None
    rep = _classify_unclassified(ws, classify, ext, get_lexicon().version)
    step.items = rep.seen
    step.detail = ", ".join(f"{k} {v}" for k, v in sorted(rep.by_category.items())) or "-"
    if rep.failed:
        step.status = "partial"
        step.error = f"{len(rep.failed)} post(s) failed, first: {rep.failed[0][1]}"


def _classify_unclassified(ws, classify, extract, version):
    """Classify (and extract from) the posts without a verdict, in id order, a chunk at a time
    (``storage.reclassify.analyse_rows``); each post saved in its own transaction."""
    from .posts import set_verdict
    from .reclassify import ReclassifyReport, analyse_rows

    def unclassified():
        last = 0
        while True:
            page = rows(ws.db, "select * from posts where classified_at is null and id > ? order by id limit 500",
                        [last])
            if not page:
                return
            yield from page
            last = page[-1]["id"]

    rep = ReclassifyReport(version)
    for row, verdict, entities in analyse_rows(unclassified(), classify, extract, rep):
        set_verdict(ws, row["id"], verdict, entities)
    return rep


def stage_cluster(ws, step: Step) -> None:
    update = _optional("storage.sellers", "update_clusters")
    res = update(ws, full=False)
    step.items = _count(res)
    n = rows(ws.db, "select count(*) as n from sellers")[0]["n"]
    step.detail = f"{n} seller(s) in the workspace"


def due_recheck_ids(ws, now: datetime | None = None) -> list[int]:
    """Reported posts, and positive live posts, not captured for ``collect.recapture_interval_hours``."""
    hours = float(ws.config.get("collect.recapture_interval_hours", 24))
    cutoff = iso((now or utcnow()) - timedelta(hours=hours))
    sql = """
        select p.id from posts p
        where p.url like 'http%' and (
              p.id in (select post_id from notice_items) or
              p.id in (select post_id from case_items where post_id is not null) or
              p.seller_id in (select seller_id from case_items where seller_id is not null) or
              (p.category is not null and p.category != 'none' and p.status = 'live'))
          and coalesce((select max(c.fetched_at) from captures c where c.post_id = p.id), '') <= ?
        order by p.id"""
    return [r["id"] for r in rows(ws.db, sql, [cutoff])]


def stage_recheck(ws, step: Step, telegram_base: str | None) -> None:
    try:
        from .recheck import recheck
    except ImportError as exc:
        raise Unavailable(f"storage.recheck is not available: {exc}") from None
    ids = due_recheck_ids(ws)
    if not ids:
        step.detail = "nothing due"
        from .relisting import detect_relisting

        step.data["relisting"] = len(detect_relisting(ws))
        return
    rep = recheck(ws, post_ids=ids, telegram_base=telegram_base)
    step.items = rep.checked
    step.detail = ", ".join(f"{k} {v}" for k, v in sorted(rep.outcomes.items())) + \
        f"; {len(rep.relisting)} relisting alert(s)"
    step.data["relisting"] = len(rep.relisting)
    errors = [r for r in rep.results if r.get("outcome") == "error"]
    if errors:
        # a removal that could not be checked is not "still online": say so (digest, exit code)
        first = errors[0]
        step.status = "partial"
        step.error = (f"{len(errors)} of {rep.checked} re-check(s) failed, first: post {first.get('post_id')}: "
                      f"{first.get('note') or first.get('error') or 'no answer'}")[:500]


def stage_purge(ws, step: Step) -> None:
    from .purge import purge

    rep = purge(ws, int(ws.config.get("retention.days", 180)))
    step.items = rep.posts
    step.detail = f"{rep.posts} post(s), {rep.blobs} blob(s) removed, {rep.kept_in_cases} kept (in a case)"


def stage_digest(ws, step: Step, report: DailyReport, send: bool, now: datetime | None) -> None:
    from .digest import deliver, write_digest

    result = write_digest(ws, report=report, now=now)
    report.digest = result
    step.items = result["counts"]["new_offers"]
    step.detail = f"{result['html']}"
    if send:
        sent = deliver(ws, result)
        result["delivered"] = sent
        errs = [f"{k}: {v}" for k, v in sent.items() if v not in ("sent", "not configured")]
        if errs:
            step.status = "partial"
            step.error = "; ".join(errs)


# ------------------------------------------------------------------ the run
def run_daily(ws, *, base_urls: dict[str, str] | None = None, reporter: Reporter | None = None,
              only: set[str] | None = None, send: bool = True, purge: bool | None = None,
              now: datetime | None = None, move_inbox: bool = True, extra_imports: list[Path] | None = None,
              recheck: bool = True) -> DailyReport:
    """Run the daily job once under the workspace lock; return what each step did.

    ``base_urls`` replaces sites' base URLs (``{"leboncoin": "http://127.0.0.1:8001",
    "telegram": "http://127.0.0.1:8002"}``), for local mirrors and the demo.
    ``only`` restricts the sources to these names (``classifieds``, ``telegram``,
    ``backfill``, ``inbox``). ``extra_imports`` are files imported like inbox files
    but never moved.
    """
    reporter = reporter or Reporter()
    base_urls = dict(base_urls or {})
    report = DailyReport(started_at=iso(now or utcnow()),
                         fail_on_blocked=bool(ws.config.get("daily.fail_on_blocked", False)))
    lock = FileLock(ws.path(LOCK_NAME), float(ws.config.get("daily.lock_stale_hours", 12)))

    def takeover(msg: str) -> None:
        report.messages.append(msg)
        reporter.message(msg)

    lock.acquire(on_takeover=takeover)
    daily_run = start_run(ws, "daily", "daily")
    runner = _Runner(ws, report, reporter)
    try:
        def want(name):
            return (only is None or name in only)
        tg_base = base_urls.get("telegram") or base_urls.get("tme")
        if want("classifieds"):
            runner.run("classifieds", "source", lambda s: source_classifieds(ws, s, base_urls, reporter))
        channels = [str(c).lstrip("@") for c in ws.config.get("telegram.channels") or []]
        if want("telegram"):
            if channels:
                runner.run("telegram t.me/s", "source", lambda s: source_telegram_web(ws, s, channels, tg_base))
        if want("backfill") and channels and telethon_session(ws) is not None:
            runner.run("telegram backfill", "source", lambda s: source_telegram_backfill(ws, s, channels))
        if want("inbox"):
            files = inbox_files(ws)
            if files:
                runner.run("inbox", "source", lambda s: source_inbox(ws, s, files, move_inbox))
            if extra_imports:
                runner.run("imports", "source", lambda s: source_inbox(ws, s, list(extra_imports), False))
        runner.run("classify", "stage", lambda s: stage_classify(ws, s))
        runner.run("cluster", "stage", lambda s: stage_cluster(ws, s))
        if recheck:
            runner.run("recheck", "stage", lambda s: stage_recheck(ws, s, tg_base))
        do_purge = bool(ws.config.get("retention.auto_purge", False)) if purge is None else purge
        if do_purge:
            runner.run("purge", "stage", lambda s: stage_purge(ws, s))
        runner.run("digest", "stage", lambda s: stage_digest(ws, s, report, send, now))
        report.finished_at = iso(utcnow())
        status = "failed" if report.failed else "ok"
        finish_run(ws, daily_run, status, sum(s.items for s in report.steps if s.kind == "source"),
                   "; ".join(f"{s.name}: {s.error or s.status}" for s in report.failed) or None)
        custody.append(ws.db, "capture", {
            "event": "daily run", "started_at": report.started_at, "finished_at": report.finished_at,
            "steps": [{"name": s.name, "status": s.status, "items": s.items} for s in report.steps],
            "digest": (report.digest or {}).get("html_sha256")}, subject_type="run", subject_id=daily_run)
    except BaseException:
        finish_run(ws, daily_run, "interrupted", 0, "interrupted")
        raise
    finally:
        lock.release()
        reporter.close()
    return report


def last_daily_cutoff(ws) -> str | None:
    """End of the window covered by the previous digest (None before the first one)."""
    r = rows(ws.db, "select max(window_end) as t from digests") if "digests" in ws.db.table_names() else []
    return r[0]["t"] if r and r[0]["t"] else None


def parse_base_urls(values: list[str]) -> dict[str, str]:
    """``["leboncoin=http://127.0.0.1:8001", …]`` -> dict; VeilleError on a bad item."""
    from .errors import InputError

    out = {}
    for v in values or []:
        name, sep, url = v.partition("=")
        if not sep or not name.strip() or not url.startswith(("http://", "https://")):
            raise InputError(f"--base-url expects NAME=http(s)://HOST[:PORT], got {v!r}")
        out[name.strip()] = url.strip().rstrip("/")
    return out


__all__ = ["DailyReport", "Reporter", "RichReporter", "Step", "default_reporter", "due_recheck_ids", "run_daily",
           "parse_base_urls", "to_utc"]
