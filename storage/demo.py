"""``veille demo``: the whole pipeline, offline, on fictional data, in about a minute.

1. creates a workspace (a temporary folder, or ``--workspace DIR``) with demo
   settings (local sites, no delay, fictional notifier);
2. starts the demo site (:mod:`storage.demo_site`) on 127.0.0.1;
3. **day 1**: runs the daily job over the site (base-URL overrides) and over
   the bundled demo Telegram Desktop export;
4. **day 2**: an ad is taken down and another seller shows up on a new
   platform; the daily job's re-checks find the removal and its digest lists
   the new platform;
5. **day 3**: the reseller whose ad was removed relists under a new account;
   the digest lists the relisting alert;
6. exports the evidence bundle of the seller seen on the most platforms,
   verifies it, drafts a DSA notice and a complaint;
7. prints what it found (every count read back from the database) and where
   every output is.

A part that another package provides and that is missing is reported on its
own line (``unavailable: …``) and the demo goes on with what it has: the
JSONL version of the demo site stands in for the crawlers.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import tempfile
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .config import CONFIG_NAME
from .daily import Reporter, classifieds_crawler, part_available, run_daily, telegram_web_crawler
from .db import rows
from .demo_site import DemoSite, demo_posts, telegram_export_dir
from .demo_site.data import SITES
from .errors import VeilleError
from .workspace import Workspace, init_workspace

DAYS = (1, 2, 3)
DEMO_SETTINGS: dict[str, Any] = {
    "workspace.name": "veille demo (fictional data)",
    "collect.download_delay": 0.0,
    "collect.concurrency_per_site": 4,
    "collect.sites": list(SITES),
    "collect.keywords": ["rendez-vous préfecture", "rdv", "titre de séjour", "passeport", "visa", "permis", "موعد"],
    "collect.max_pages": 3,
    "collect.recapture_interval_hours": 0,
    "collect.screenshots": True,
    "drafting.recheck_delay": 0.0,
    "telegram.channels": ["rdvexpress75", "visa_sur_rdv", "docspro_officiel", "infos_demarches"],
    "notifier.organisation": "Association Démo Vigilance (fictive)",
    "notifier.email": "signalements@asso-demo.example",
    "notifier.address": "1 rue de la Démo, 75000 Paris",
    "notifier.phone": "+33 1 99 00 00 00",
    "complaint.reporter_name": "Association Démo Vigilance (fictive)",
    "complaint.reporter_capacity": "association",
    "complaint.tribunal": "Tribunal judiciaire de Démo",
}


STATE_NAME = "state.json"


def load_state(path: Path) -> dict[str, Any]:
    """What earlier runs of the demo in this workspace finished (``demo/state.json``)."""
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def save_state(path: Path, state: dict[str, Any]) -> None:
    """Write the state atomically: a kill leaves the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(state, ensure_ascii=False, indent=1), encoding="utf-8")
    os.replace(tmp, path)


def is_demo_workspace(root: Path) -> bool:
    """A workspace made by ``veille demo`` (its state file, or the demo's workspace name in veille.toml)."""
    if (root / "demo" / STATE_NAME).is_file():
        return True
    try:
        cfg = tomllib.loads((root / CONFIG_NAME).read_text("utf-8"))
    except (OSError, ValueError):
        return False
    return (cfg.get("workspace") or {}).get("name") == DEMO_SETTINGS["workspace.name"]


def toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {type(v).__name__} as TOML")


def set_config_values(text: str, values: dict[str, Any]) -> str:
    """Set ``section.key`` values in a commented veille.toml, keeping its comments."""
    lines = text.splitlines()
    for dotted, value in values.items():
        section, key = dotted.rsplit(".", 1)
        header = f"[{section}]"
        try:
            start = next(i for i, ln in enumerate(lines) if ln.strip() == header)
        except StopIteration:
            lines += ["", header, f"{key} = {toml_value(value)}"]
            continue
        end = next((i for i in range(start + 1, len(lines)) if lines[i].lstrip().startswith("[")), len(lines))
        pat = re.compile(rf"^\s*{re.escape(key)}\s*=")
        hit = next((i for i in range(start + 1, end) if pat.match(lines[i])), None)
        if hit is None:
            lines.insert(start + 1, f"{key} = {toml_value(value)}")
        else:
            # A multi-line array value: drop its continuation lines too.
            stop = hit + 1
            if lines[hit].count("[") > lines[hit].count("]"):
                while stop < end and "]" not in lines[stop - 1]:
                    stop += 1
            lines[hit:stop] = [f"{key} = {toml_value(value)}"]
    return "\n".join(lines) + "\n"


@dataclass
class DemoResult:
    workspace: Path
    seconds: float = 0.0
    stages: list[dict[str, str]] = field(default_factory=list)
    counts: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    sellers: list[dict[str, Any]] = field(default_factory=list)
    exit_code: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"workspace": str(self.workspace), "seconds": round(self.seconds, 1), "stages": self.stages,
                "counts": self.counts, "outputs": self.outputs, "sellers": self.sellers,
                "exit_code": self.exit_code}


def available(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def demo_counts(ws: Workspace) -> dict[str, Any]:
    """The figures the demo prints, read from the database."""
    one = (lambda sql, p=(): rows(ws.db, sql, p)[0]["n"])  # noqa: E731
    return {
        "posts": one("select count(*) as n from posts"),
        "offers": one("select count(*) as n from posts where category is not null and category != 'none'"),
        "negatives": one("select count(*) as n from posts where category = 'none'"),
        "by_platform": {r["platform"]: r["n"] for r in rows(ws.db, "select platform, count(*) as n from posts "
                                                                   "group by platform order by platform")},
        "by_category": {f"{r['category']}/{r['subtype'] or '-'}": r["n"] for r in rows(
            ws.db, "select category, subtype, count(*) as n from posts where category is not null and "
                   "category != 'none' group by 1, 2 order by 1, 2")},
        "sellers": one("select count(*) as n from sellers"),
        "cross_platform_sellers": one(
            "select count(*) as n from (select seller_id from posts where seller_id is not null "
            "group by seller_id having count(distinct platform) >= 2)"),
        "removed": one("select count(*) as n from posts where status in ('removed', 'deleted')"),
        "relisting_alerts": one("select count(*) as n from alerts where kind = 'relisting'"),
        "captures": one("select count(*) as n from captures"),
        "blobs": one("select count(*) as n from blobs"),
        "custody_entries": one("select count(*) as n from custody_log"),
    }


def _pick_seller(ws: Workspace) -> dict | None:
    r = rows(ws.db, "select p.seller_id as id, count(distinct p.platform) as platforms, count(*) as posts "
                    "from posts p where p.seller_id is not null and p.category is not null and p.category != 'none' "
                    "group by p.seller_id order by platforms desc, posts desc, p.seller_id limit 1")
    return r[0] if r else None


def _sellers_summary(ws: Workspace) -> list[dict]:
    out = []
    for s in rows(ws.db, "select s.id, s.label, count(p.id) as posts, group_concat(distinct p.platform) as platforms "
                         "from sellers s join posts p on p.seller_id = s.id group by s.id order by posts desc, s.id"):
        out.append({"id": s["id"], "label": s["label"] or f"seller #{s['id']}", "posts": s["posts"],
                    "platforms": sorted((s["platforms"] or "").split(","))})
    return out


def run_demo(workspace: Path | None = None, say: Callable[[str], None] = print, reporter: Reporter | None = None,
             keep: bool = True) -> DemoResult:
    t0 = time.monotonic()
    root = Path(workspace).expanduser().resolve() if workspace else Path(tempfile.mkdtemp(prefix="veille-demo-"))
    if root.exists() and any(root.iterdir()) and not (root / CONFIG_NAME).exists():
        raise VeilleError(f"{root} is not empty and is not a veille workspace: give an empty or new folder")
    if (root / CONFIG_NAME).exists() and not is_demo_workspace(root):
        raise VeilleError(f"{root} is a veille workspace the demo did not create: the demo would write its fictional "
                          "data and settings into it; give an empty or new folder")
    if not (root / CONFIG_NAME).exists():  # marked as the demo's first, so a kill right after still resumes
        save_state(root / "demo" / STATE_NAME, {"last_day": 0})
    ws, _created = init_workspace(root)
    state_path = ws.path("demo", STATE_NAME)
    state = load_state(state_path)
    last_day = int(state.get("last_day") or 0)
    settings = dict(DEMO_SETTINGS)
    if last_day >= 1:  # resuming: day 1 took the screenshots already (see below)
        settings["collect.screenshots"] = False
    cfg = ws.path(CONFIG_NAME)
    cfg.write_text(set_config_values(cfg.read_text("utf-8"), settings), encoding="utf-8")
    ws.close()
    ws = Workspace.open(root)
    res = DemoResult(root)

    def stage(name: str, status: str, detail: str = "") -> None:
        res.stages.append({"stage": name, "status": status, "detail": detail})
        say(f"{'  ' if status == 'ok' else '! '}{name}: {status}{' - ' + detail if detail else ''}")

    say(f"veille demo: workspace {root}")
    if state.get("failed_days"):
        res.exit_code = 1
        say(f"! day(s) {', '.join(map(str, state['failed_days']))} had problems in an earlier run (see its output)")
    if last_day >= DAYS[-1]:
        say(f"  this workspace already ran the demo's days 1-{DAYS[-1]}: showing its results "
            "(give a new folder for a fresh run)")
    elif last_day:
        say(f"  resuming after day {last_day} (finished by an earlier run)")
    have_spiders = part_available(classifieds_crawler)
    have_tme = part_available(telegram_web_crawler)
    have_export = available("telegram_watch.export")
    demo_dir = ws.path("demo")
    demo_dir.mkdir(exist_ok=True)
    export_copy = demo_dir / "telegram_export"
    if not export_copy.exists():  # copied whole, then renamed: a kill mid-copy leaves no half export behind
        partial = demo_dir / "telegram_export.partial"
        shutil.rmtree(partial, ignore_errors=True)
        shutil.copytree(telegram_export_dir(), partial)
        os.replace(partial, export_copy)
    for day in DAYS:
        for key in (f"digest_day{day}", f"digest_day{day}_md"):
            if (state.get("outputs") or {}).get(key):
                res.outputs[key] = state["outputs"][key]
    if state.get("day1_counts"):
        res.outputs["day1_counts"] = state["day1_counts"]
    try:
        before = state.get("base_urls") or {}
        ports = {k: urlsplit(v).port for k, v in before.items() if isinstance(v, str)}
        with DemoSite(day=max(last_day, 1), ports={k: p for k, p in ports.items() if p}) as site:
            say("demo site on 127.0.0.1: " + ", ".join(f"{k} {v}" for k, v in site.base_urls.items()))
            moved = sorted(k for k, v in before.items() if site.base_urls.get(k) not in (None, v))
            if moved and last_day < DAYS[-1]:
                stage("demo site", "partial", f"{', '.join(moved)} could not get the port of the earlier run (in "
                      "use?): re-checks of the pages stored then will fail")
            state["base_urls"] = before or dict(site.base_urls)  # the URLs the stored posts name
            save_state(state_path, state)
            for day in DAYS:
                if day <= last_day:
                    # The fictional world only moves forward: a day finished by an earlier run is never
                    # crawled again (the day-1 site would show the day-3 relisting as taken down).
                    continue
                if day > 1:
                    # Times are kept to the second: make each demo day start in a later second than the
                    # previous one ended, as real days would (relisting is "first seen after the removal").
                    time.sleep(1.1)
                site.day = day
                imports: list[Path] = []
                missing = []
                if not have_spiders:
                    missing.append("classifieds crawl (spiders.run)")
                if not have_tme:
                    missing.append("t.me/s channels (telegram_watch.preview)")
                if missing:
                    # The JSONL version of the demo site stands in for the crawlers that are not there.
                    sites = {k: v for k, v in site.base_urls.items()
                             if (k == "telegram" and not have_tme) or (k != "telegram" and not have_spiders)}
                    jl = demo_dir / f"demo-site-day{day}.jsonl"
                    jl.write_text("".join(json.dumps(p, ensure_ascii=False) + "\n"
                                          for p in demo_posts(site.data, sites, day)), encoding="utf-8")
                    imports.append(jl)
                    if day == 1:
                        stage("crawl", "unavailable", "; ".join(missing) + f": importing {jl.name} (the same "
                              "pages as JSONL) instead")
                if day == 1:
                    if have_export:
                        imports.append(export_copy)
                    else:
                        stage("telegram export import", "unavailable",
                              "telegram_watch.export is not installed: the demo export is not imported")
                say(f"--- day {day}: veille daily")
                only = {"inbox"} | ({"classifieds"} if have_spiders else set()) | ({"telegram"} if have_tme else set())
                rep = run_daily(ws, base_urls=site.base_urls, reporter=reporter or Reporter(), only=only,
                                send=False, extra_imports=imports, recheck=(day > 1))
                res.outputs[f"digest_day{day}"] = (rep.digest or {}).get("html")
                res.outputs[f"digest_day{day}_md"] = (rep.digest or {}).get("md")
                for s in rep.steps:
                    if s.status not in ("ok", "skipped"):
                        stage(f"day {day} {s.name}", s.status, s.error or s.detail)
                if rep.exit_code:
                    res.exit_code = 1
                if day == 1:
                    res.outputs["day1_counts"] = demo_counts(ws)
                    if have_spiders:
                        # Offers got their screenshot at first capture on day 1; re-crawls skip them so the
                        # demo stays well under two minutes on a small machine.
                        ws.close()
                        cfg.write_text(set_config_values(cfg.read_text("utf-8"), {"collect.screenshots": False}),
                                       encoding="utf-8")
                        ws = Workspace.open(root)
                        say("  (screenshots were taken on day 1; days 2 and 3 crawl without them, for speed)")
                state.update(last_day=day, day1_counts=res.outputs.get("day1_counts"),
                             outputs={k: v for k, v in res.outputs.items() if k.startswith("digest_day")})
                if rep.exit_code:
                    state["failed_days"] = sorted({*state.get("failed_days", []), day})
                save_state(state_path, state)
        _evidence_and_drafts(ws, res, stage, state, state_path)
        res.counts = demo_counts(ws)
        res.sellers = _sellers_summary(ws)
    finally:
        ws.close()
    res.outputs.update({"workspace": str(root), "database": str(root / "veille.db"),
                        "evidence_store": str(root / "evidence"), "config": str(root / CONFIG_NAME)})
    res.seconds = time.monotonic() - t0
    return res


def _previous_bundle(state: dict, sid: int) -> dict | None:
    """The bundle an earlier run of the demo exported for this seller, if its file is still intact."""
    b = state.get("bundle") or {}
    path = Path(str(b.get("path") or ""))
    if b.get("seller") != sid or not path.is_file():
        return None
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return b if h.hexdigest() == b.get("sha256") else None


def _previous_drafts(ws: Workspace, sid: int) -> dict[str, dict]:
    """Notice and complaint already drafted about this seller (by an earlier run), whose files exist."""
    out: dict[str, dict] = {}
    for r in rows(ws.db, "select kind, ref, path, platform, details from notices where kind in "
                         "('notice', 'complaint') and json_extract(details, '$.seller_id') = ? order by id", [sid]):
        if r["path"] and Path(r["path"]).is_file():
            r["items"] = rows(ws.db, "select count(*) as n from notice_items i join notices n on n.id = i.notice_id "
                                     "where n.ref = ?", [r["ref"]])[0]["n"]
            out.setdefault(r["kind"], r)
    return out


def _evidence_and_drafts(ws: Workspace, res: DemoResult, stage, state: dict | None = None,
                         state_path: Path | None = None) -> None:
    """Export, verify, draft. A re-run reuses what an earlier run finished (no second notice or complaint)."""
    state = state if state is not None else {}
    pick = _pick_seller(ws)
    if pick is None:
        stage("evidence bundle", "skipped", "no seller was clustered (clustering unavailable or no offers)")
        return
    sid = pick["id"]
    res.outputs["seller"] = sid
    out_dir = ws.path("exports")
    out_dir.mkdir(exist_ok=True)
    bundle_path = out_dir / f"seller-{sid}.zip"
    prev = _previous_bundle(state, sid)
    try:
        from .bundle import build_bundle

        if prev:
            res.outputs["bundle"], res.outputs["bundle_sha256"] = prev["path"], prev["sha256"]
            stage("evidence bundle", "ok", f"seller #{sid}: {Path(prev['path']).name} (exported by an earlier run)")
        else:
            b = build_bundle(ws, seller=sid, output=bundle_path)
            res.outputs["bundle"] = str(b.path)
            res.outputs["bundle_sha256"] = b.sha256
            stage("evidence bundle", "ok", f"seller #{sid}: {b.items} item(s), {b.files} file(s), {b.path.name}")
            state["bundle"] = {"seller": sid, "path": str(b.path), "sha256": b.sha256}
            if state_path is not None:
                save_state(state_path, state)
    except ImportError as exc:
        stage("evidence bundle", "unavailable", f"storage.bundle: {exc}")
    except Exception as exc:  # noqa: BLE001 - one stage's failure stops no other
        stage("evidence bundle", "failed", f"{type(exc).__name__}: {exc}")
        res.exit_code = 1
    if res.outputs.get("bundle"):
        try:
            verify = _verify_fn()
            v = verify(Path(res.outputs["bundle"]))
            ok = bool(v.get("ok") if isinstance(v, dict) else getattr(v, "ok", v))
            problems = (v.get("problems") if isinstance(v, dict) else getattr(v, "problems", None)) or []
            res.outputs["bundle_verified"] = ok
            stage("bundle verification", "ok" if ok else "failed",
                  "every hash, the Merkle root and the custody chain check out" if ok else "; ".join(
                      map(str, problems[:3])))
            if not ok:
                res.exit_code = 1
        except ImportError as exc:
            stage("bundle verification", "unavailable", str(exc))
        except Exception as exc:  # noqa: BLE001
            stage("bundle verification", "failed", f"{type(exc).__name__}: {exc}")
            res.exit_code = 1
    try:
        from .drafting import draft_complaint, draft_notice

        platform = rows(ws.db, "select platform, count(*) as n from posts where seller_id = ? and category != 'none' "
                               "group by platform order by (platform = 'telegram') desc, n desc limit 1",
                        [sid])[0]["platform"]
        kw = {"bundle": res.outputs["bundle"]} if res.outputs.get("bundle") else {}
        done = _previous_drafts(ws, sid)
        if "notice" in done:
            n = done["notice"]
            res.outputs["notice"] = n["path"]
            stage("DSA notice", "ok", f"{n['ref']} to {n['platform']}, {n['items']} item(s) (drafted by an earlier run)")
        else:
            n = draft_notice(ws, platform, seller_id=sid, lang="fr", fmt="md", **kw)
            res.outputs["notice"] = str(n.path)
            stage("DSA notice", "ok", f"{n.ref} to {platform}, {len(n.post_ids)} item(s)")
        if "complaint" in done:
            c = done["complaint"]
            res.outputs["complaint"] = c["path"]
            stage("complaint", "ok", f"{c['ref']} (signalement au procureur), {c['items']} item(s) "
                                     "(drafted by an earlier run)")
        else:
            c = draft_complaint(ws, sid, to="procureur", fmt="docx", **kw)
            res.outputs["complaint"] = str(c.path)
            stage("complaint", "ok", f"{c.ref} (signalement au procureur), {len(c.post_ids)} item(s)")
    except ImportError as exc:
        stage("drafting", "unavailable", str(exc))
    except Exception as exc:  # noqa: BLE001
        stage("drafting", "failed", f"{type(exc).__name__}: {exc}")
        res.exit_code = 1


def _verify_fn():
    for mod, name in (("storage.verify_bundle", "verify_bundle"), ("storage.verify", "verify_bundle"),
                      ("storage.bundle", "verify_bundle")):
        try:
            m = importlib.import_module(mod)
        except ModuleNotFoundError:
            continue
        fn = getattr(m, name, None)
        if fn is not None:
            return fn
    raise ImportError("no verify_bundle in storage.verify_bundle yet")


def format_summary(res: DemoResult) -> list[str]:
    c = res.counts
    out = ["", "What the demo found (read back from the database):",
           f"  posts: {c.get('posts', 0)}  ({', '.join(f'{k} {v}' for k, v in c.get('by_platform', {}).items())})",
           f"  offers: {c.get('offers', 0)}  ({', '.join(f'{k} {v}' for k, v in c.get('by_category', {}).items())})",
           f"  hard negatives (classified none): {c.get('negatives', 0)}",
           f"  sellers: {c.get('sellers', 0)}, of which on 2+ platforms: {c.get('cross_platform_sellers', 0)}",
           f"  removed posts: {c.get('removed', 0)}",
           f"  relisting alerts: {c.get('relisting_alerts', 0)}",
           f"  captures: {c.get('captures', 0)}, evidence blobs: {c.get('blobs', 0)}, "
           f"custody entries: {c.get('custody_entries', 0)}"]
    if res.sellers:
        out.append("  sellers by posts:")
        for s in res.sellers[:8]:
            out.append(f"    #{s['id']} {s['label']}: {s['posts']} post(s) on {', '.join(s['platforms'])}")
    o = res.outputs
    out += ["", "Where everything is:",
            f"  workspace:      {o.get('workspace')}",
            f"  configuration:  {o.get('config')}",
            f"  database:       {o.get('database')}",
            f"  evidence store: {o.get('evidence_store')}"]
    for k, label in (("digest_day1", "digest day 1"), ("digest_day2", "digest day 2"), ("digest_day3", "digest day 3"),
                     ("digest_day3_md", "digest (md)"), ("bundle", "bundle"), ("notice", "DSA notice"),
                     ("complaint", "complaint")):
        if o.get(k):
            out.append(f"  {label + ':':<15} {o[k]}")
    out += ["", f"Next: veille browse -w {o.get('workspace')}   |   veille status -w {o.get('workspace')}",
            f"Demo finished in {res.seconds:.1f} s" + (" (with problems: see the lines marked !)"
                                                       if res.exit_code else ".")]
    return out
