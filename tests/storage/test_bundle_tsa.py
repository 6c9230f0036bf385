"""RFC 3161 timestamps against a local `openssl ts` TSA on 127.0.0.1, verified offline (issue 7)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
import subprocess
import sys
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bundle_seed import seed  # noqa: E402

from storage.bundle import build_bundle  # noqa: E402
from storage.errors import SourceError  # noqa: E402
from storage.verify_bundle import verify_bundle  # noqa: E402

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")


def _certs(d: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)

    def name(cn):
        return x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
                          x509.NameAttribute(NameOID.ORGANIZATION_NAME, "veille test"),
                          x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca = (x509.CertificateBuilder().subject_name(name("Test Root CA")).issuer_name(name("Test Root CA"))
          .public_key(ca_key.public_key()).serial_number(1).not_valid_before(now)
          .not_valid_after(now + dt.timedelta(days=30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    tsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    tsa = (x509.CertificateBuilder().subject_name(name("Test TSA")).issuer_name(ca.subject)
           .public_key(tsa_key.public_key()).serial_number(2).not_valid_before(now)
           .not_valid_after(now + dt.timedelta(days=30))
           .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
           .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
           .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
           .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
           .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    (d / "ca.pem").write_bytes(ca.public_bytes(pem))
    (d / "tsa.pem").write_bytes(tsa.public_bytes(pem))
    (d / "tsa.key").write_bytes(tsa_key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                                      serialization.NoEncryption()))
    (d / "serial").write_text("01\n")
    (d / "tsa.cnf").write_text(f"""
[ tsa ]
default_tsa = tsa_config1
[ tsa_config1 ]
dir = {d}
serial = $dir/serial
crypto_device = builtin
signer_cert = $dir/tsa.pem
certs = $dir/ca.pem
signer_key = $dir/tsa.key
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = yes
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
""")


@pytest.fixture(scope="module")
def tsa_server(tmp_path_factory):
    d = tmp_path_factory.mktemp("tsa")
    _certs(d)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if self.path == "/garbage":
                reply = b"<html>not a timestamp</html>"
            else:
                with lock:
                    (d / "q.tsq").write_bytes(body)
                    subprocess.run(["openssl", "ts", "-reply", "-config", str(d / "tsa.cnf"), "-queryfile",
                                    str(d / "q.tsq"), "-out", str(d / "r.tsr")], check=True, capture_output=True)
                    reply = (d / "r.tsr").read_bytes()
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *a):
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/", d
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def stamped(workspace, tsa_server, tmp_path):
    url, d = tsa_server
    seed(workspace)
    workspace.config.data["evidence"]["tsa_url"] = url
    workspace.config.data["evidence"]["tsa_chain"] = str(d / "ca.pem")
    res = build_bundle(workspace, seller=1, output=tmp_path / "ts.zip")
    return res, d


def test_timestamped_bundle_verifies_offline(stamped, tmp_path):
    res, d = stamped
    assert res.timestamped and res.timestamp_time.endswith("Z")
    rep = verify_bundle(res.path)
    assert rep.ok, rep.problems
    assert rep.timestamped and rep.timestamp_ok
    ts = rep.timestamp
    assert "Test TSA" in ts["tsa"] and "Test Root CA" in ts["root_subject"] and ts["chain_length"] == 2
    ca_der = subprocess.run(["openssl", "x509", "-in", str(d / "ca.pem"), "-outform", "DER"],
                            capture_output=True, check=True).stdout
    assert ts["root_sha256"] == hashlib.sha256(ca_der).hexdigest()
    # and OpenSSL agrees, with only the files in the bundle (README's hand procedure)
    out = tmp_path / "x"
    with zipfile.ZipFile(res.path) as zf:
        zf.extractall(out)
    r = subprocess.run(["openssl", "ts", "-verify", "-token_in", "-in", "timestamp/MANIFEST.json.tst", "-data",
                        "MANIFEST.json", "-CAfile", "timestamp/tsa-chain.pem"], cwd=out, capture_output=True,
                       text=True)
    assert r.returncode == 0 and "Verification: OK" in r.stdout, r.stdout + r.stderr


def _rewrite(src, dst, change=None, drop=()):
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for i in zin.infolist():
            if i.filename in drop:
                continue
            data = zin.read(i.filename)
            if change and i.filename in change:
                data = change[i.filename](data)
            zout.writestr(i.filename, data)
    return dst


def test_tampered_timestamp_fails(stamped, tmp_path):
    res, _ = stamped
    tok = "timestamp/MANIFEST.json.tst"

    def flip_sig(data: bytes) -> bytes:  # the signature is at the very end of the token
        return data[:-5] + bytes([data[-5] ^ 1]) + data[-4:]

    rep = verify_bundle(_rewrite(res.path, tmp_path / "a.zip", change={tok: flip_sig}))
    assert not rep.ok and any(p.startswith(tok) and "signature does not verify" in p for p in rep.problems), \
        rep.problems
    rep = verify_bundle(_rewrite(res.path, tmp_path / "b.zip", drop={tok}))
    assert not rep.ok and any("token is missing" in p for p in rep.problems)

    def edit_manifest(data: bytes) -> bytes:
        m = json.loads(data)
        m["created_at"] = "2020-01-01T00:00:00Z"
        return json.dumps(m).encode()

    rep = verify_bundle(_rewrite(res.path, tmp_path / "c.zip", change={"MANIFEST.json": edit_manifest}))
    assert not rep.ok and any("message imprint does not match" in p for p in rep.problems)


def test_verify_token_unit(stamped):
    from storage import tsa

    res, d = stamped
    with zipfile.ZipFile(res.path) as zf:
        token = zf.read("timestamp/MANIFEST.json.tst")
        mbytes = zf.read("MANIFEST.json")
    good = tsa.verify_token(token, hashlib.sha256(mbytes).digest())
    assert good.ok and good.chain_length == 2  # the token carries the TSA certificate and (here) the CA
    bad = tsa.verify_token(token, hashlib.sha256(b"other").digest())
    assert not bad.ok and any("imprint" in p for p in bad.problems)
    junk = tsa.verify_token(b"\x30\x03\x02\x01\x00", b"0" * 32)
    assert not junk.ok and "unreadable" in junk.problems[0]


def test_tsa_failures_are_clear_errors(workspace, tsa_server, tmp_path):
    url, _ = tsa_server
    seed(workspace)
    workspace.config.data["evidence"]["tsa_url"] = url + "garbage"
    with pytest.raises(SourceError, match="not a TimeStampResp"):
        build_bundle(workspace, seller=1, output=tmp_path / "a.zip")
    workspace.config.data["evidence"]["tsa_url"] = "http://127.0.0.1:9/"
    with pytest.raises(SourceError, match="unreachable"):
        build_bundle(workspace, seller=1, output=tmp_path / "a.zip")
    assert not (tmp_path / "a.zip").exists()
    workspace.config.data["evidence"]["tsa_url"] = ""
    from storage.errors import ConfigError

    with pytest.raises(ConfigError, match="tsa_url"):
        build_bundle(workspace, seller=1, output=tmp_path / "a.zip", timestamp=True)
    res = build_bundle(workspace, seller=1, output=tmp_path / "a.zip", timestamp=False)
    assert not res.timestamped and verify_bundle(res.path).ok
