"""Datasette plugin of ``veille browse``: links from posts to their evidence files.

- a ``sha256`` cell (artifacts, blobs …) becomes a link to ``/-/evidence/<sha256>``;
- a post id (``posts.id``, ``post_id`` columns) gets a link to its evidence list
  (the ``post_evidence`` canned query);
- ``/-/evidence/<sha256>`` serves the file from the workspace's evidence store,
  read-only. Images are shown as images; everything else (scraped HTML
  included) is shown as plain text under a sandboxing Content-Security-Policy,
  so hostile pages are never rendered or run in the browser.
"""

from __future__ import annotations

import re
from pathlib import Path

from datasette import hookimpl
from datasette.utils.asgi import Response
from markupsafe import Markup, escape

HEX = re.compile(r"^[0-9a-f]{64}$")
MAGIC = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"), (b"GIF87a", "image/gif"),
         (b"GIF89a", "image/gif"), (b"RIFF", "image/webp"))
HEADERS = {"Content-Security-Policy": "sandbox; default-src 'none'; img-src 'self'",
           "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}


def _store(datasette) -> Path | None:
    cfg = datasette.plugin_config("veille-evidence") or {}
    return Path(cfg["store"]) if cfg.get("store") else None


@hookimpl
def render_cell(value, column, table, database, datasette):
    if isinstance(value, str) and column == "sha256" and HEX.match(value):
        return Markup(f'<a href="/-/evidence/{value}">{escape(value[:16])}…</a>')
    if isinstance(value, int) and ((table == "posts" and column == "id") or column == "post_id"):
        return Markup(f'{value} <a href="/{escape(database)}/post_evidence?post_id={value}" '
                      f'title="captures and files of this post">evidence</a>')
    return None


async def evidence(request, datasette):
    sha = request.url_vars["sha"]
    store = _store(datasette)
    if store is None or not HEX.match(sha):
        return Response.text("not found", status=404, headers=HEADERS)
    from storage.errors import VeilleError
    from storage.evidence import EvidenceStore

    try:
        data = EvidenceStore(store).read(sha)
    except (OSError, VeilleError):
        return Response.text("this file is not in the evidence store", status=404, headers=HEADERS)
    headers = dict(HEADERS)
    if request.args.get("download"):
        headers["Content-Disposition"] = f'attachment; filename="{sha}"'
        return Response(data, content_type="application/octet-stream", headers=headers)
    for magic, ctype in MAGIC:
        if data.startswith(magic) and (ctype != "image/webp" or data[8:12] == b"WEBP"):
            return Response(data, content_type=ctype, headers=headers)
    return Response(data, content_type="text/plain; charset=utf-8", headers=headers)


@hookimpl
def register_routes():
    return [(r"^/-/evidence/(?P<sha>[0-9a-f]{64})$", evidence)]
