"""A WACZ (Web Archive Collection Zipped) writer for stored captures (WACZ 1.2.0 layout, 1.1.1 package fields).

Each capture with an HTML (or JSON) body becomes, in ``archive/data.warc.gz``:

- a ``response`` record (status line and headers as stored, body as stored or
  as redacted in the working copy), or a ``resource`` record when the HTTP
  status is unknown (imports of browser-saved pages);
- a ``request`` record reconstructed from the stored method, URL and user
  agent (``WARC-Concurrent-To`` the response), and
- a ``metadata`` record (JSON) saying which veille capture and which stored
  blob the body comes from, and whether it was redacted.

``indexes/index.cdxj`` (sorted CDXJ), ``pages/pages.jsonl``,
``datapackage.json`` (sha256 and size of each file) and
``datapackage-digest.json`` complete the package. Bodies are streamed from
files: memory does not grow with the archive's size.
"""

from __future__ import annotations

import hashlib
import io
import ipaddress
import json
import os
import re
import tempfile
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

# Which WACZ version this is (checked against the specification and the tools' sources, Dec. 2026):
# - the files and folders follow WACZ 1.2.0 (archive/*.warc.gz stored, indexes/ holding CDXJ, pages/pages.jsonl,
#   datapackage.json with every resource's path, sha256 and size, datapackage-digest.json), and so does the
#   `home` object (1.2.0's replacement for mainPageUrl/mainPageDate);
# - 1.2.0 also changed `profile` to "wacz" and dropped `wacz_version`. Neither tool a recipient will use accepts
#   that: py-wacz (0.6.0, the reference validator) fails any package whose `wacz_version` is not "1.1.1", and its
#   frictionless check rejects the profile "wacz"; ReplayWeb.page / wabac.js only load the profiles "data-package",
#   "wacz-package" or none, and throw "Unknown package profile" otherwise. So datapackage.json keeps 1.1.1's
#   `profile: "data-package"`, `wacz_version: "1.1.1"` and mainPageUrl/mainPageDate, next to 1.2.0's `home`
#   (1.2.0 allows custom properties): one package that py-wacz validates and whose profile and .cdxj index
#   wabac.js's loader accepts (read in its source; not run here, as it is JavaScript in a browser).
WACZ_VERSION = "1.1.1"
WACZ_LAYOUT = "1.2.0"
SOFTWARE = "veille 0.1.0"
CHUNK = 1 << 20
_DROP_HEADERS = {"content-encoding", "transfer-encoding", "content-length"}
_CTRL = re.compile(r"[\x00-\x1f\x7f]")
_REASONS = {200: "OK", 201: "Created", 204: "No Content", 301: "Moved Permanently", 302: "Found",
            304: "Not Modified", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
            410: "Gone", 429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable"}


@dataclass
class WebCapture:
    """One stored capture to archive. ``body_path`` is a file holding the (possibly redacted) body."""

    url: str
    fetched_at: str  # ISO 8601 UTC
    body_path: Path
    mime: str = "text/html"
    http_status: int | None = None
    headers: dict[str, Any] | list | None = None
    method: str = "GET"
    user_agent: str | None = None
    title: str = ""
    meta: dict[str, Any] = field(default_factory=dict)


def surt(url: str) -> str:
    """Sort-friendly URI Reordering Transform, as CDXJ indexes use."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return url.lower()
    if parts.scheme not in ("http", "https"):
        return url.lower()
    host = (parts.hostname or "").lower().strip(".")
    if host.startswith("www."):
        host = host[4:]
    try:
        ipaddress.ip_address(host.strip("[]"))
        key = host  # IP addresses are not reversed
    except ValueError:
        key = ",".join(reversed(host.split(".")))
    if parts.port and parts.port not in (80, 443):
        key += f":{parts.port}"
    path = parts.path or "/"
    query = ""
    if parts.query:
        query = "?" + urlencode(sorted(parse_qsl(parts.query, keep_blank_values=True)))
    return (key + ")" + path + query).lower()


def _ts14(iso_text: str) -> str:
    try:
        dt = datetime.fromisoformat(iso_text.replace("Z", "+00:00"))
        return dt.strftime("%Y%m%d%H%M%S")
    except ValueError:
        return re.sub(r"\D", "", iso_text)[:14].ljust(14, "0")


def _warc_date(iso_text: str) -> str:
    return _ts14(iso_text)[:8] + "T" + _ts14(iso_text)[8:] + "Z"


def _warc_date_iso(iso_text: str) -> str:
    t = _ts14(iso_text)
    return f"{t[0:4]}-{t[4:6]}-{t[6:8]}T{t[8:10]}:{t[10:12]}:{t[12:14]}Z"


def _clean_header(text: Any) -> str:
    return _CTRL.sub(" ", str(text))[:8000]


def _header_list(headers) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    if isinstance(headers, dict):
        items = headers.items()
    elif isinstance(headers, list):
        items = [(h[0], h[1]) for h in headers if isinstance(h, (list, tuple)) and len(h) == 2]
    else:
        items = []
    for k, v in items:
        name = _clean_header(k).strip().replace(":", "")
        if not name or name.lower() in _DROP_HEADERS:
            continue
        for val in (v if isinstance(v, list) else [v]):
            out.append((name, _clean_header(val)))
    return out


def _sha256_file(path: Path) -> tuple[str, int]:
    h = hashlib.sha256()
    n = 0
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            h.update(chunk)
            n += len(chunk)
    return h.hexdigest(), n


def write_warc(captures: Iterable[WebCapture], warc_path: Path) -> tuple[list[str], list[dict]]:
    """Write ``data.warc.gz``; return (CDXJ lines unsorted, pages)."""
    cdx: list[str] = []
    pages: list[dict] = []
    with open(warc_path, "wb") as raw:
        writer = WARCWriter(raw, gzip=True)
        info = writer.create_warcinfo_record("data.warc.gz", {
            "software": SOFTWARE,
            "format": "WARC File Format 1.1",
            "description": "Web captures of a veille evidence bundle, rebuilt from the stored bodies and headers",
        })
        writer.write_record(info)
        for cap in captures:
            url = _clean_header(cap.url).strip()
            if not url.lower().startswith(("http://", "https://")):
                # only web URLs go in WARC-Target-URI (no javascript:, data: …): the stored one is in the metadata
                if url:
                    cap.meta["original_url"] = url
                url = f"urn:veille:capture:{cap.meta.get('capture_id')}"
            date = _warc_date_iso(cap.fetched_at)
            size = cap.body_path.stat().st_size
            mime = _clean_header(cap.mime or "text/html")
            with open(cap.body_path, "rb") as body:
                if cap.http_status and url.lower().startswith(("http://", "https://")):
                    status = int(cap.http_status)
                    hdrs = _header_list(cap.headers)
                    if not any(k.lower() == "content-type" for k, _ in hdrs):
                        hdrs.append(("Content-Type", mime))
                    hdrs.append(("Content-Length", str(size)))
                    http = StatusAndHeaders(f"{status} {_REASONS.get(status, 'Status')}", hdrs,
                                            protocol="HTTP/1.1")
                    rec = writer.create_warc_record(url, "response", payload=body, length=size,
                                                    http_headers=http,
                                                    warc_headers_dict={"WARC-Date": date})
                    rtype = "response"
                else:
                    status = 200
                    rec = writer.create_warc_record(url, "resource", payload=body, length=size,
                                                    warc_content_type=mime,
                                                    warc_headers_dict={"WARC-Date": date})
                    rtype = "resource"
                offset = raw.tell()
                writer.write_record(rec)
                length = raw.tell() - offset
            rec_id = rec.rec_headers.get_header("WARC-Record-ID")
            digest = rec.rec_headers.get_header("WARC-Payload-Digest") or rec.rec_headers.get_header(
                "WARC-Block-Digest")
            cdx.append(f"{surt(url)} {_ts14(cap.fetched_at)} " + json.dumps(
                {"url": url, "mime": mime.split(";")[0].strip(), "status": str(status), "digest": digest,
                 "length": str(length), "offset": str(offset), "filename": "data.warc.gz",
                 "recordType": rtype}, ensure_ascii=False))
            if rtype == "response" and url.startswith(("http://", "https://")):
                parts = urlsplit(url)
                req_hdrs = [("Host", parts.netloc)]
                if cap.user_agent:
                    req_hdrs.append(("User-Agent", _clean_header(cap.user_agent)))
                path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
                req = writer.create_warc_record(
                    url, "request",
                    http_headers=StatusAndHeaders(f"{_clean_header(cap.method or 'GET')} {path} HTTP/1.1", req_hdrs,
                                                  is_http_request=True),
                    warc_headers_dict={"WARC-Date": date, "WARC-Concurrent-To": rec_id})
                writer.write_record(req)
            meta = dict(cap.meta)
            meta["note"] = ("request record reconstructed from the stored method, URL and user agent; "
                            "body and headers as stored by veille")
            mbytes = json.dumps(meta, ensure_ascii=False, sort_keys=True, default=str).encode("utf-8")
            mrec = writer.create_warc_record(url, "metadata", payload=io.BytesIO(mbytes), length=len(mbytes),
                                             warc_content_type="application/json",
                                             warc_headers_dict={"WARC-Date": date, "WARC-Concurrent-To": rec_id})
            writer.write_record(mrec)
            if url.startswith(("http://", "https://")):
                pages.append({"id": str(meta.get("capture_id") or rec_id), "url": url,
                              "ts": _warc_date_iso(cap.fetched_at), "title": cap.title[:300]})
    return cdx, pages


def write_wacz(captures: Iterable[WebCapture], out_path: Path, title: str = "veille evidence bundle",
               created: str | None = None) -> dict:
    """Write a WACZ file; return a summary (pages, records, sha256 of the WACZ)."""
    out_path = Path(out_path)
    with tempfile.TemporaryDirectory(prefix="wacz-", dir=out_path.parent) as tmp:
        tmpd = Path(tmp)
        warc = tmpd / "data.warc.gz"
        cdx, pages = write_warc(captures, warc)
        cdx.sort()
        index = "".join(line + "\n" for line in cdx).encode("utf-8")
        pages_bytes = (json.dumps({"format": "json-pages-1.0", "id": "pages", "title": "All Pages"}) + "\n"
                       + "".join(json.dumps(p, ensure_ascii=False) + "\n" for p in pages)).encode("utf-8")
        resources = []
        with zipfile.ZipFile(out_path, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
            sha, size = _sha256_file(warc)
            zf.write(warc, "archive/data.warc.gz")
            resources.append({"name": "data.warc.gz", "path": "archive/data.warc.gz", "hash": f"sha256:{sha}",
                              "bytes": size})
            for name, path, data in (("index.cdxj", "indexes/index.cdxj", index),
                                     ("pages.jsonl", "pages/pages.jsonl", pages_bytes)):
                zf.writestr(path, data)
                resources.append({"name": name, "path": path, "hash": "sha256:" + hashlib.sha256(data).hexdigest(),
                                  "bytes": len(data)})
            package = {
                "profile": "data-package",
                "wacz_version": WACZ_VERSION,
                "title": title,
                "software": SOFTWARE,
                "created": created,
                "mainPageUrl": pages[0]["url"] if pages else None,
                "mainPageDate": pages[0]["ts"] if pages else None,
                "resources": resources,
            }
            if pages:  # WACZ 1.2.0: the collection's home page
                package["home"] = {"url": pages[0]["url"], "ts": pages[0]["ts"]}
            pkg_bytes = json.dumps(package, indent=2, ensure_ascii=False).encode("utf-8")
            zf.writestr("datapackage.json", pkg_bytes)
            digest = {"path": "datapackage.json", "hash": "sha256:" + hashlib.sha256(pkg_bytes).hexdigest()}
            zf.writestr("datapackage-digest.json", json.dumps(digest, indent=2).encode("utf-8"))
    os.chmod(out_path, 0o644)
    return {"pages": len(pages), "records": len(cdx), "path": str(out_path)}


def verify_wacz(fh) -> list[str]:
    """Check a WACZ's datapackage hashes and digest; return problems (empty = fine)."""
    problems: list[str] = []
    try:
        zf = zipfile.ZipFile(fh)
    except zipfile.BadZipFile:
        return ["web.wacz: not a ZIP file"]
    with zf:
        names = set(zf.namelist())
        try:
            pkg_bytes = zf.read("datapackage.json")
            pkg = json.loads(pkg_bytes)
            digest = json.loads(zf.read("datapackage-digest.json"))
        except (KeyError, ValueError) as exc:
            return [f"web.wacz: datapackage.json or datapackage-digest.json missing or unreadable ({exc})"]
        if digest.get("hash") != "sha256:" + hashlib.sha256(pkg_bytes).hexdigest():
            problems.append("web.wacz: datapackage-digest.json does not match datapackage.json")
        listed = set()
        for r in pkg.get("resources") or []:
            path = r.get("path")
            listed.add(path)
            if path not in names:
                problems.append(f"web.wacz: {path} is listed in datapackage.json but missing")
                continue
            h = hashlib.sha256()
            n = 0
            with zf.open(path) as f:
                for chunk in iter(lambda f=f: f.read(CHUNK), b""):
                    h.update(chunk)
                    n += len(chunk)
            if r.get("hash") != f"sha256:{h.hexdigest()}" or int(r.get("bytes", -1)) != n:
                problems.append(f"web.wacz: {path} does not match its sha256/size in datapackage.json")
        for extra in sorted(names - listed - {"datapackage.json", "datapackage-digest.json"}):
            problems.append(f"web.wacz: {extra} is not listed in datapackage.json")
    return problems
