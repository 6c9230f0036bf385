"""Tampering with a bundle makes `veille verify` fail and name the culprit (issue 7)."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bundle_seed import seed  # noqa: E402

from storage import init_workspace  # noqa: E402
from storage.bundle import files_root  # noqa: E402
from storage.errors import ConfigError  # noqa: E402
from storage.verify_bundle import verify_bundle  # noqa: E402


@pytest.fixture(scope="module")
def signed_bundle(tmp_path_factory):
    from storage.bundle import build_bundle
    from storage.keys import init_key

    d = tmp_path_factory.mktemp("tamper")
    ws, _ = init_workspace(d / "ws")
    ids = seed(ws)
    info = init_key(ws)
    res = build_bundle(ws, post_ids=ids["seller_posts"] + ids["third_party_posts"], output=d / "signed.zip")
    ws.close()
    assert res.signed and res.signing_key_fingerprint == info["fingerprint"]
    return res, info, ws.root


def rewrite(src: Path, dst: Path, change=None, drop=(), add=None, rename=None) -> Path:
    change, add, rename = change or {}, add or {}, rename or {}
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            if info.filename in drop:
                continue
            data = zin.read(info.filename)
            if info.filename in change:
                data = change[info.filename](data)
            zout.writestr(rename.get(info.filename, info.filename), data)
        for name, data in add.items():
            zout.writestr(name, data)
    return dst


def flip(data: bytes, at: int | None = None) -> bytes:
    i = len(data) // 2 if at is None else at
    return data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1:]


def member(zip_path: Path, prefix: str, suffix_test=None) -> str:
    with zipfile.ZipFile(zip_path) as zf:
        names = [n for n in zf.namelist() if n.startswith(prefix)]
    if suffix_test:
        with zipfile.ZipFile(zip_path) as zf:
            names = [n for n in names if suffix_test(zf.read(n))]
    return names[0]


def test_untouched_bundle_verifies(signed_bundle):
    res, info, _ = signed_bundle
    rep = verify_bundle(res.path)
    assert rep.ok, rep.problems
    assert rep.signed and rep.signature_ok and rep.signing_key_sha256 == info["fingerprint"]


@pytest.mark.parametrize("kind", ["png", "redacted", "posts.jsonl", "posts.csv", "sellers.json", "report.html",
                                  "README.txt", "web.wacz", "custody.jsonl"])
def test_flipped_byte_in_each_file_type(signed_bundle, tmp_path, kind):
    res, _, _ = signed_bundle
    if kind == "png":
        name = member(res.path, "evidence/", lambda b: b.startswith(b"\x89PNG"))
    elif kind == "redacted":
        name = member(res.path, "redacted/")
    else:
        name = kind
    bad = rewrite(res.path, tmp_path / "bad.zip", change={name: flip})
    rep = verify_bundle(bad)
    assert not rep.ok
    assert any(p.startswith(f"{name}:") and "SHA-256" in p for p in rep.problems), rep.problems


def test_flipped_byte_inside_the_wacz_warc_is_named(signed_bundle, tmp_path):
    """Even if the outer manifest were rebuilt, the WACZ's own datapackage catches an edited WARC."""
    import io

    res, _, _ = signed_bundle

    def edit_wacz(data: bytes) -> bytes:
        out = io.BytesIO()
        with zipfile.ZipFile(io.BytesIO(data)) as zin, zipfile.ZipFile(out, "w") as zout:
            for i in zin.infolist():
                d = zin.read(i.filename)
                if i.filename == "archive/data.warc.gz":
                    d = flip(d, len(d) - 40)
                zout.writestr(i.filename, d)
        return out.getvalue()

    bad = rewrite(res.path, tmp_path / "bad.zip", change={"web.wacz": edit_wacz})
    rep = verify_bundle(bad)
    assert not rep.ok
    assert any("web.wacz: archive/data.warc.gz does not match" in p for p in rep.problems), rep.problems


def test_deleted_added_renamed_files(signed_bundle, tmp_path):
    res, _, _ = signed_bundle
    victim = member(res.path, "evidence/")
    rep = verify_bundle(rewrite(res.path, tmp_path / "del.zip", drop={victim}))
    assert not rep.ok and any(p.startswith(victim) and "missing" in p for p in rep.problems)
    rep = verify_bundle(rewrite(res.path, tmp_path / "add.zip", add={"evidence/extra.txt": b"planted"}))
    assert not rep.ok and any(p.startswith("evidence/extra.txt") and "added" in p for p in rep.problems)
    rep = verify_bundle(rewrite(res.path, tmp_path / "ren.zip", rename={victim: "evidence/renamed.bin"}))
    assert not rep.ok and any(f"{victim}: missing; renamed to evidence/renamed.bin" in p for p in rep.problems)
    rep = verify_bundle(rewrite(res.path, tmp_path / "ren2.zip", rename={"posts.csv": "posts-old.csv"}))
    assert not rep.ok and any("renamed to posts-old.csv" in p for p in rep.problems)
    rep = verify_bundle(rewrite(res.path, tmp_path / "trav.zip", add={"../../etc/evil": b"x"}))
    assert not rep.ok and any("unsafe file name" in p for p in rep.problems)


def test_stripped_signature_downgrade_is_caught_by_the_export_entry(signed_bundle, tmp_path):
    res, _, _ = signed_bundle

    def unsign(data: bytes) -> bytes:
        m = json.loads(data)
        m["signed"], m["signing_key_sha256"] = False, None
        return json.dumps(m).encode()

    with zipfile.ZipFile(res.path) as zf:
        m = json.loads(unsign(zf.read("MANIFEST.json")))
    mbytes = json.dumps(m).encode()
    sums = "".join(f"{f['sha256']}  {f['path']}\n" for f in m["files"])
    sums += f"{hashlib.sha256(mbytes).hexdigest()}  MANIFEST.json\n"
    bad = rewrite(res.path, tmp_path / "unsigned.zip", drop={"signature/MANIFEST.json.sig",
                                                           "signature/signing-key.pub.pem"},
                  change={"MANIFEST.json": lambda _d: mbytes, "SHA256SUMS": lambda _d: sums.encode()})
    rep = verify_bundle(bad)
    assert not rep.ok and any("the bundle does not carry that signature" in p for p in rep.problems), rep.problems


def test_edited_sha256sums(signed_bundle, tmp_path):
    res, _, _ = signed_bundle
    rep = verify_bundle(rewrite(res.path, tmp_path / "s.zip", change={"SHA256SUMS": lambda d: d.replace(b"0", b"1", 1)}))
    assert not rep.ok and any(p.startswith("SHA256SUMS: does not match") for p in rep.problems)


def test_edited_manifest(signed_bundle, tmp_path):
    res, _, _ = signed_bundle

    def bump_size(data: bytes) -> bytes:
        m = json.loads(data)
        m["files"][0]["size"] += 1
        return json.dumps(m).encode()

    rep = verify_bundle(rewrite(res.path, tmp_path / "m1.zip", change={"MANIFEST.json": bump_size}))
    assert not rep.ok
    assert any("Merkle root" in p for p in rep.problems) and any("signature" in p for p in rep.problems)


def test_consistently_forged_manifest_is_caught_by_custody_and_signature(signed_bundle, tmp_path):
    """Edit a file AND rebuild MANIFEST.json, root and SHA256SUMS: the export entry and the signature still fail."""
    res, _, _ = signed_bundle
    forged_csv = b"\xef\xbb\xbfpost_id\n1\n"
    with zipfile.ZipFile(res.path) as zf:
        m = json.loads(zf.read("MANIFEST.json"))
    for f in m["files"]:
        if f["path"] == "posts.csv":
            f["sha256"], f["size"] = hashlib.sha256(forged_csv).hexdigest(), len(forged_csv)
    m["merkle"]["root"] = files_root(m["files"])
    mbytes = json.dumps(m).encode()
    sums = "".join(f"{f['sha256']}  {f['path']}\n" for f in m["files"])
    sums += f"{hashlib.sha256(mbytes).hexdigest()}  MANIFEST.json\n"
    bad = rewrite(res.path, tmp_path / "forged.zip", change={"posts.csv": lambda _d: forged_csv,
                                                             "MANIFEST.json": lambda _d: mbytes,
                                                             "SHA256SUMS": lambda _d: sums.encode()})
    rep = verify_bundle(bad)
    assert not rep.ok
    assert any("content_root does not match" in p for p in rep.problems), rep.problems
    assert any("signature does not verify" in p for p in rep.problems), rep.problems


def test_edited_custody_entry(signed_bundle, tmp_path):
    res, _, _ = signed_bundle

    def edit(data: bytes) -> bytes:
        lines = data.decode().splitlines()
        e = json.loads(lines[0])
        e["details"]["http_status"] = 404
        lines[0] = json.dumps(e)
        return ("\n".join(lines) + "\n").encode()

    rep = verify_bundle(rewrite(res.path, tmp_path / "c.zip", change={"custody.jsonl": edit}))
    assert not rep.ok
    seq = None
    with zipfile.ZipFile(res.path) as zf:
        seq = json.loads(zf.read("custody.jsonl").decode().splitlines()[0])["seq"]
    assert any(f"custody entry {seq}: content does not match its entry_hash" in p for p in rep.problems)

    def drop_line(data: bytes) -> bytes:
        lines = data.decode().splitlines()
        full = [i for i, x in enumerate(lines) if '"seq"' in x]
        del lines[full[1]]
        return ("\n".join(lines) + "\n").encode()

    rep = verify_bundle(rewrite(res.path, tmp_path / "c2.zip", change={"custody.jsonl": drop_line}))
    assert not rep.ok and any("missing" in p or "does not link" in p for p in rep.problems), rep.problems


def test_replaced_or_removed_signature(signed_bundle, tmp_path):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from storage.keys import public_pem

    res, _, _ = signed_bundle
    other = Ed25519PrivateKey.generate()
    with zipfile.ZipFile(res.path) as zf:
        mbytes = zf.read("MANIFEST.json")
    # another key's signature, with its public key swapped in
    rep = verify_bundle(rewrite(res.path, tmp_path / "s1.zip", change={
        "signature/MANIFEST.json.sig": lambda _d: other.sign(mbytes),
        "signature/signing-key.pub.pem": lambda _d: public_pem(other.public_key())}))
    assert not rep.ok and any("key replaced" in p for p in rep.problems)
    # a garbage signature with the right key
    rep = verify_bundle(rewrite(res.path, tmp_path / "s2.zip", change={"signature/MANIFEST.json.sig": flip}))
    assert not rep.ok and any("signature/MANIFEST.json.sig: Ed25519 signature does not verify" in p
                              for p in rep.problems)
    # removing the signature is noticed: the manifest announces it
    rep = verify_bundle(rewrite(res.path, tmp_path / "s3.zip", drop={"signature/MANIFEST.json.sig",
                                                                    "signature/signing-key.pub.pem"}))
    assert not rep.ok and any("signature or public key is missing" in p for p in rep.problems)


def test_hand_verification_commands_from_readme(signed_bundle, tmp_path):
    """The README's sha256sum and openssl commands work on an extracted bundle."""
    res, info, _ = signed_bundle
    out = tmp_path / "x"
    with zipfile.ZipFile(res.path) as zf:
        zf.extractall(out)
    r = subprocess.run(["sha256sum", "-c", "--quiet", "SHA256SUMS"], cwd=out, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    r = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", "signature/signing-key.pub.pem",
                        "-rawin", "-in", "MANIFEST.json", "-sigfile", "signature/MANIFEST.json.sig"],
                       cwd=out, capture_output=True, text=True)
    assert r.returncode == 0 and "Signature Verified Successfully" in r.stdout, r.stdout + r.stderr
    der = subprocess.run(["openssl", "pkey", "-pubin", "-in", "signature/signing-key.pub.pem", "-outform", "DER"],
                         cwd=out, capture_output=True).stdout
    assert hashlib.sha256(der[-32:]).hexdigest() == info["fingerprint"]
    (out / "posts.csv").write_bytes(b"edited")
    r = subprocess.run(["sha256sum", "-c", "--quiet", "SHA256SUMS"], cwd=out, capture_output=True, text=True)
    assert r.returncode != 0 and "posts.csv" in r.stdout


def test_keys_init_mode_and_no_overwrite(tmp_path, runner, cli_app):
    ws, _ = init_workspace(tmp_path / "ws")
    ws.close()
    r = runner.invoke(cli_app, ["keys", "init", "-w", str(tmp_path / "ws")])
    assert r.exit_code == 0 and "created" in r.stdout
    key = tmp_path / "ws" / "keys" / "signing.key"
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    before = key.read_bytes()
    r = runner.invoke(cli_app, ["keys", "init", "-w", str(tmp_path / "ws")])
    assert r.exit_code == 0 and "already exists" in r.stdout and key.read_bytes() == before
    assert b"PRIVATE KEY" in before


def test_sign_without_key_is_a_clear_error(workspace, tmp_path):
    from storage.bundle import build_bundle

    seed(workspace)
    with pytest.raises(ConfigError, match="keys init"):
        build_bundle(workspace, seller=1, output=tmp_path / "b.zip", sign=True)
    res = build_bundle(workspace, seller=1, output=tmp_path / "b.zip")
    assert not res.signed and verify_bundle(res.path).ok


def test_random_corruption_never_crashes_verify(signed_bundle, tmp_path):
    """Flip random bits of the ZIP file itself: verify never raises, and passes only if no content changed."""
    import random

    res, _, _ = signed_bundle
    data = res.path.read_bytes()
    rnd = random.Random(7)
    for i in range(40):
        b = bytearray(data)
        for _ in range(rnd.choice((1, 3, 20))):
            j = rnd.randrange(len(b))
            b[j] ^= 1 << rnd.randrange(8)
        p = tmp_path / f"c{i}.zip"
        p.write_bytes(bytes(b))
        rep = verify_bundle(p)  # must not raise
        if rep.ok:  # only ZIP metadata (dates, attributes) was hit: every file's content is intact
            with zipfile.ZipFile(res.path) as a, zipfile.ZipFile(p) as z:
                assert sorted(a.namelist()) == sorted(z.namelist())
                assert all(a.read(n) == z.read(n) for n in a.namelist()), i
        else:
            assert rep.problems


@pytest.mark.parametrize("custody", [b"5\n", b"[1,2]\n", b'{"elided": 3}\n', b'{"seq": "x"}\n', b"\xff\xfe\n"])
def test_malformed_custody_lines_are_reported(signed_bundle, tmp_path, custody):
    res, _, _ = signed_bundle
    rep = verify_bundle(rewrite(res.path, tmp_path / "m.zip", change={"custody.jsonl": lambda d: custody + d}))
    assert not rep.ok and any("custody" in p for p in rep.problems)


def test_flipped_byte_in_untouched_html_and_json_evidence(tmp_path):
    from storage.bundle import build_bundle

    ws, _ = init_workspace(tmp_path / "ws")
    ids = seed(ws)
    res = build_bundle(ws, post_ids=ids["seller_posts"] + ids["third_party_posts"], output=tmp_path / "clear.zip",
                       redact=False, pdf=False)
    ws.close()
    for magic in (b"<html", b"{"):
        name = member(res.path, "evidence/", lambda b, m=magic: b.startswith(m))
        rep = verify_bundle(rewrite(res.path, tmp_path / "bad.zip", change={name: flip}))
        assert not rep.ok and any(p.startswith(f"{name}:") for p in rep.problems), rep.problems
