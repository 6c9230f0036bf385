"""Offline verification of an evidence bundle (``veille verify FILE.zip``).

Needs only the ZIP: no workspace, no network. It recomputes the SHA-256 and
size of every file and the Merkle root, detects missing, added and renamed
files, checks SHA256SUMS, that ``evidence/`` and ``redacted/`` files hash to
their names, the WACZ's own datapackage hashes, the custody hash chain up to
the export entry (and that this entry commits to the content), the Ed25519
signature and the RFC 3161 timestamp when present (or announced by the
manifest). Each problem names the file or entry that fails.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from . import custody
from .bundle import CONTROL_FILES, CUSTODY_FILE, files_root, safe_member
from .errors import IntegrityError

CHUNK = 1 << 20
MAX_MANIFEST_BYTES = 200_000_000
MAX_CUSTODY_LINE = 50_000_000
MAX_SUMS_BYTES = 200_000_000
_HEX64 = re.compile(r"\b[0-9a-f]{64}\b")


@dataclass
class VerifyReport:
    path: str
    ok: bool = False
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    files_checked: int = 0
    merkle_root: str | None = None
    bundle_id: str | None = None
    custody_entries: int = 0
    custody_elided: int = 0
    signed: bool = False
    signature_ok: bool | None = None
    signing_key_sha256: str | None = None
    timestamped: bool = False
    timestamp_ok: bool | None = None
    timestamp: dict | None = None

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def _hash_member(zf: zipfile.ZipFile, name: str) -> tuple[str, int]:
    h = hashlib.sha256()
    n = 0
    with zf.open(name) as fh:
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            h.update(chunk)
            n += len(chunk)
    return h.hexdigest(), n


def verify_bundle(zip_path: Path | str) -> VerifyReport:
    """Verify a bundle ZIP; ``report.ok`` is True only when everything holds."""
    zip_path = Path(zip_path)
    rep = VerifyReport(path=str(zip_path))
    p = rep.problems
    try:
        zf = zipfile.ZipFile(zip_path)
    except FileNotFoundError:
        p.append(f"{zip_path}: no such file")
        return rep
    except (zipfile.BadZipFile, OSError) as exc:
        p.append(f"{zip_path}: not a readable ZIP file ({exc})")
        return rep
    with zf:
        try:
            _verify(zf, rep)
        except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, KeyError, TypeError,
                RecursionError, NotImplementedError) as exc:
            p.append(f"the ZIP is damaged or malformed: {type(exc).__name__}: {exc}")
    rep.ok = not p
    return rep


def _verify(zf: zipfile.ZipFile, rep: VerifyReport) -> None:
    p = rep.problems
    infos = zf.infolist()
    names: list[str] = []
    for info in infos:
        try:
            safe_member(info.filename)
        except IntegrityError:
            p.append(f"{info.filename!r}: unsafe file name (absolute path or '..'): never extract this bundle blindly")
            continue
        if info.is_dir():
            continue
        names.append(info.filename)
    if len(set(names)) != len(names):
        p.append("the ZIP holds two files with the same name")
    present = set(names)
    if "MANIFEST.json" not in present:
        p.append("MANIFEST.json: missing")
        return
    info = zf.getinfo("MANIFEST.json")
    if info.file_size > MAX_MANIFEST_BYTES:
        p.append("MANIFEST.json: too large")
        return
    mbytes = zf.read("MANIFEST.json")
    try:
        manifest = json.loads(mbytes)
        files = manifest["files"]
        root = manifest["merkle"]["root"]
        if not isinstance(files, list) or not all(isinstance(f, dict) and {"path", "size", "sha256"} <= set(f)
                                                   for f in files):
            raise ValueError("'files' is not a list of {path, size, sha256}")
    except (ValueError, KeyError, TypeError) as exc:
        p.append(f"MANIFEST.json: unreadable ({exc})")
        return
    rep.bundle_id = manifest.get("bundle_id")
    # 1. every listed file, hashed
    listed = {}
    for f in files:
        listed[f["path"]] = f
    if len(listed) != len(files):
        p.append("MANIFEST.json: a path is listed twice")
    actual: dict[str, tuple[str, int]] = {}
    missing = []
    for path, f in sorted(listed.items()):
        if path not in present:
            missing.append(path)
            continue
        sha, size = _hash_member(zf, path)
        actual[path] = (sha, size)
        rep.files_checked += 1
        if sha != f["sha256"]:
            p.append(f"{path}: SHA-256 does not match MANIFEST.json (file altered)")
        elif size != f["size"]:
            p.append(f"{path}: size does not match MANIFEST.json")
    extras = sorted(present - set(listed) - CONTROL_FILES)
    extra_hashes = {}
    for path in extras:
        extra_hashes[path] = _hash_member(zf, path)[0]
    by_hash = {f["sha256"]: path for path, f in listed.items()}
    for path in missing:
        renamed = [e for e, h in extra_hashes.items() if h == listed[path]["sha256"]]
        if renamed:
            p.append(f"{path}: missing; renamed to {renamed[0]}")
        else:
            p.append(f"{path}: listed in MANIFEST.json but missing from the bundle")
    for path in extras:
        origin = by_hash.get(extra_hashes[path])
        if origin and origin in missing:
            continue  # reported as a rename
        p.append(f"{path}: file not listed in MANIFEST.json (added)")
    for path in sorted((present & CONTROL_FILES) - {"MANIFEST.json"}):
        if path in listed:
            p.append(f"{path}: a control file must not be listed in MANIFEST.json")
    # 2. Merkle root
    computed_root = files_root(files)
    rep.merkle_root = computed_root
    if computed_root != root:
        p.append("MANIFEST.json: Merkle root does not match its file list")
    # 3. content-addressed names
    for path, (sha, _size) in actual.items():
        if path.startswith(("evidence/", "redacted/")) and path.split("/", 1)[1] != sha:
            p.append(f"{path}: content does not hash to its name")
    # 4. SHA256SUMS
    if "SHA256SUMS" not in present:
        p.append("SHA256SUMS: missing")
    else:
        want = "".join(f"{f['sha256']}  {f['path']}\n" for f in files)
        want += f"{hashlib.sha256(mbytes).hexdigest()}  MANIFEST.json\n"
        if zf.getinfo("SHA256SUMS").file_size > MAX_SUMS_BYTES or \
                zf.read("SHA256SUMS").decode("utf-8", "replace") != want:
            p.append("SHA256SUMS: does not match MANIFEST.json")
    # 5. WACZ
    if "web.wacz" in actual:
        from .wacz import verify_wacz

        with zf.open("web.wacz") as fh:
            data = fh if fh.seekable() else io.BytesIO(fh.read())
            p.extend(verify_wacz(data))
    # 6. custody
    vouched = _verify_custody(zf, rep, manifest, present, files)
    for path in sorted(actual):
        if path.startswith("evidence/") and vouched is not None and path.split("/", 1)[1] not in vouched:
            rep.warnings.append(f"{path}: no custody entry in the bundle records this file "
                                "(its capture entry is elided)")
    # 7. signature
    _verify_signature(zf, rep, manifest, mbytes, present)
    # 8. timestamp
    _verify_timestamp(zf, rep, manifest, mbytes, present)


def _verify_custody(zf, rep: VerifyReport, manifest: dict, present: set, files: list) -> set[str] | None:
    """Check the chain; return the SHA-256 values the full entries mention (None if unreadable)."""
    p = rep.problems
    if CUSTODY_FILE not in present:
        p.append(f"{CUSTODY_FILE}: missing")
        return None
    vouched: set[str] = set()
    entries = []
    prev_seq = prev_hash = None
    last_full = None
    with zf.open(CUSTODY_FILE) as fh:
        for lineno, raw in enumerate(io.TextIOWrapper(fh, encoding="utf-8"), 1):
            if len(raw) > MAX_CUSTODY_LINE:
                p.append(f"{CUSTODY_FILE} line {lineno}: too long")
                return None
            try:
                obj = json.loads(raw)
            except ValueError:
                p.append(f"{CUSTODY_FILE} line {lineno}: not JSON")
                continue
            if not isinstance(obj, dict):
                p.append(f"{CUSTODY_FILE} line {lineno}: not a JSON object")
                continue
            if "elided" in obj:
                run = obj["elided"]
                try:
                    if not isinstance(run, dict):
                        raise TypeError("not an object")
                    a, z = int(run["from_seq"]), int(run["to_seq"])
                    if z < a or int(run["count"]) != z - a + 1:
                        raise ValueError("bad range")
                except (KeyError, TypeError, ValueError):
                    p.append(f"{CUSTODY_FILE} line {lineno}: malformed elided run")
                    continue
                if prev_seq is not None:
                    if a != prev_seq + 1:
                        p.append(f"{CUSTODY_FILE}: entries {prev_seq + 1}..{a - 1} are missing")
                    elif run.get("first_prev_hash") != prev_hash:
                        p.append(f"custody entries {a}..{z} (elided): chain does not link to entry {prev_seq}")
                prev_seq, prev_hash = z, run.get("last_entry_hash")
                rep.custody_elided += z - a + 1
                continue
            try:
                seq = int(obj["seq"])
                computed = custody.entry_hash(obj)
            except (KeyError, TypeError, ValueError):
                p.append(f"{CUSTODY_FILE} line {lineno}: malformed entry")
                continue
            if computed != obj.get("entry_hash"):
                p.append(f"custody entry {seq}: content does not match its entry_hash (entry edited)")
            if prev_seq is None:
                if seq == 1 and obj.get("prev_hash") != custody.GENESIS:
                    p.append("custody entry 1: prev_hash is not the genesis hash")
            elif seq != prev_seq + 1:
                p.append(f"{CUSTODY_FILE}: entries {prev_seq + 1}..{seq - 1} are missing")
            elif obj.get("prev_hash") != prev_hash:
                p.append(f"custody entry {seq}: prev_hash does not match entry {prev_seq}")
            prev_seq, prev_hash = seq, obj.get("entry_hash")
            rep.custody_entries += 1
            vouched.update(_HEX64.findall(raw))
            last_full = obj
            entries.append(seq)
    if last_full is None or prev_seq != last_full.get("seq"):
        p.append(f"{CUSTODY_FILE}: does not end with the export entry")
        return vouched
    d = last_full.get("details") or {}
    if last_full.get("action") != "export" or d.get("event") != "bundle export":
        p.append(f"{CUSTODY_FILE}: the last entry is not the bundle's export entry")
        return vouched
    if d.get("bundle_id") != manifest.get("bundle_id"):
        p.append(f"custody entry {last_full['seq']}: export entry is for another bundle")
    content = [f for f in files if f["path"] != CUSTODY_FILE]
    if d.get("content_root") != files_root(content):
        p.append(f"custody entry {last_full['seq']}: export entry's content_root does not match the files")
    if d.get("content_root") != (manifest.get("merkle") or {}).get("content_root"):
        p.append("MANIFEST.json: content_root differs from the export entry's")
    if d.get("signing_key_sha256") and d.get("signing_key_sha256") != manifest.get("signing_key_sha256"):
        p.append(f"custody entry {last_full['seq']}: the export was signed with key {d['signing_key_sha256'][:16]}…, "
                 "the bundle does not carry that signature")
    if d.get("timestamp_requested") and not manifest.get("timestamped"):
        p.append(f"custody entry {last_full['seq']}: the export was timestamped, the bundle has no timestamp")
    return vouched


def _verify_signature(zf, rep: VerifyReport, manifest: dict, mbytes: bytes, present: set) -> None:
    from . import keys

    p = rep.problems
    sig_name, key_name = "signature/MANIFEST.json.sig", "signature/signing-key.pub.pem"
    has = sig_name in present or key_name in present
    rep.signed = bool(manifest.get("signed")) or has
    if not rep.signed:
        return
    if sig_name not in present or key_name not in present:
        p.append("signature: MANIFEST.json says the bundle is signed but the signature or public key is missing")
        rep.signature_ok = False
        return
    try:
        pub = keys.load_public_pem(zf.read(key_name))
    except IntegrityError as exc:
        p.append(f"{key_name}: {exc}")
        rep.signature_ok = False
        return
    fp = keys.fingerprint(pub)
    rep.signing_key_sha256 = fp
    if manifest.get("signing_key_sha256") != fp:
        p.append(f"{key_name}: key fingerprint differs from signing_key_sha256 in MANIFEST.json (key replaced)")
    rep.signature_ok = keys.verify(pub, zf.read(sig_name), mbytes)
    if not rep.signature_ok:
        p.append(f"{sig_name}: Ed25519 signature does not verify over MANIFEST.json")
    if not manifest.get("signed"):
        p.append("signature: present but MANIFEST.json does not announce it")


def _verify_timestamp(zf, rep: VerifyReport, manifest: dict, mbytes: bytes, present: set) -> None:
    from . import tsa

    p = rep.problems
    tok_name, chain_name = "timestamp/MANIFEST.json.tst", "timestamp/tsa-chain.pem"
    rep.timestamped = bool(manifest.get("timestamped")) or tok_name in present
    if not rep.timestamped:
        return
    if tok_name not in present:
        p.append("timestamp: MANIFEST.json says the bundle is timestamped but the token is missing")
        rep.timestamp_ok = False
        return
    chain = []
    if chain_name in present:
        try:
            chain = tsa.load_certs(zf.read(chain_name))
        except (ValueError, TypeError) as exc:
            p.append(f"{chain_name}: unreadable ({exc})")
    r = tsa.verify_token(zf.read(tok_name), hashlib.sha256(mbytes).digest(), chain)
    rep.timestamp = r.to_dict()
    rep.timestamp_ok = r.ok
    for prob in r.problems:
        p.append(f"{tok_name}: {prob}")
