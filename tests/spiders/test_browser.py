"""Real Chromium: pages only JavaScript can render, and screenshots with a URL/UTC banner."""

from __future__ import annotations

import io
import shutil

import pytest
from crawl_fixture_site import JS_PROFILE

from spiders.run import crawl

pytestmark = pytest.mark.browser


def _rows(ws, sql, params=()):
    cur = ws.db.execute(sql, params)
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


@pytest.fixture
def chromium():
    from spiders.settings import find_chromium

    try:
        find_chromium()
    except Exception as exc:  # noqa: BLE001
        pytest.fail(f"browser tests need Chromium ({exc}); `make test` installs it")
    return shutil.which("chromium") or "playwright"


def test_js_pages_and_screenshots_with_banner(site, fast_ws, chromium):
    from PIL import Image

    ws = fast_ws
    ws.path("profiles").mkdir(exist_ok=True)
    ws.path("profiles", "jsfixture.toml").write_text(JS_PROFILE, "utf-8")
    ws.path("profiles", "nojs.toml").write_text(JS_PROFILE.replace('name = "jsfixture"', 'name = "nojs"')
                                                .replace("javascript = true", "javascript = false"), "utf-8")
    rep = crawl(ws, ["jsfixture", "nojs", "leboncoin"], keywords=["rdv"], max_pages=1, screenshots=True,
                base_urls={"jsfixture": site.base("js"), "nojs": site.base("js"), "leboncoin": site.base("lbc")})
    js, nojs, lbc = rep.sites["jsfixture"], rep.sites["nojs"], rep.sites["leboncoin"]
    # only the browser path reads the JS-rendered listing and ad
    assert js.status == "ok" and js.items == 1 and js.positive == 1, js
    assert nojs.items == 0
    post = _rows(ws, "select * from posts where platform = 'jsfixture'")[0]
    assert post["title"] == "Vends rendez-vous préfecture Bobigny (rendu JS)"
    assert post["category"] == "appointment_resale"
    # a screenshot per positive ad, JS site and plain site alike
    assert js.screenshots == 1 and lbc.screenshots == lbc.positive >= 1, (js, lbc)
    shots = _rows(ws, "select c.*, a.sha256 from captures c join artifacts a on a.capture_id = c.id "
                      "where c.kind = 'screenshot' and a.role = 'screenshot' and c.post_id = ?", [post["id"]])
    assert len(shots) == 1
    s = shots[0]
    assert post["url"] in s["note"] and "Z (UTC)" in s["note"]
    png = ws.store.read(s["sha256"])
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(io.BytesIO(png)) as im:
        r, g, b = im.convert("RGB").getpixel((4, 4))
        assert im.width >= 800 and im.height >= 100
    assert r > 230 and 190 < g < 230 and b < 40  # the yellow banner sits at the top of the capture
