"""RFC 3161 timestamps: request one from a TSA and verify a token offline.

:func:`request_timestamp` sends a ``TimeStampReq`` (SHA-256 message imprint,
random nonce, ``certReq`` true) to the URL in ``evidence.tsa_url`` and returns
the ``TimeStampResp`` and the token inside it. :func:`verify_token` checks a
token with no network: the message imprint equals the data's hash, the
``message-digest`` signed attribute equals the hash of the TSTInfo, the
signature over the signed attributes verifies with the TSA certificate carried
in the token (or given), the ESS signing-certificate attribute names that
certificate, the certificate is for time stamping, the time lies within its
validity, and each certificate of the chain is signed by the next one.
Whether the chain's root is trustworthy is for the recipient to decide: its
fingerprint is reported.
"""

from __future__ import annotations

import hashlib
import secrets
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC

from asn1crypto import algos, cms, pem, tsp, x509
from cryptography import x509 as cx509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from .errors import IntegrityError, SourceError

MAX_RESPONSE_BYTES = 1_000_000
_HASHES = {"sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512, "sha1": hashes.SHA1,
           "sha224": hashes.SHA224}


def build_request(digest: bytes, nonce: int | None = None) -> tuple[bytes, int]:
    """DER TimeStampReq over a SHA-256 digest; returns (request, nonce)."""
    nonce = nonce if nonce is not None else secrets.randbits(63)
    req = tsp.TimeStampReq({
        "version": "v1",
        "message_imprint": {"hash_algorithm": {"algorithm": "sha256"}, "hashed_message": digest},
        "nonce": nonce,
        "cert_req": True,
    })
    return req.dump(), nonce


def request_timestamp(url: str, digest: bytes, timeout: float = 30.0) -> bytes:
    """POST a TimeStampReq to the TSA; return the DER token (ContentInfo)."""
    body, nonce = build_request(digest)
    if not url.startswith(("http://", "https://")):
        raise SourceError(f"TSA URL must be http(s): {url!r}")
    req = urllib.request.Request(url, data=body, method="POST",
                                 headers={"Content-Type": "application/timestamp-query",
                                          "Accept": "application/timestamp-reply"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - scheme checked above
            data = resp.read(MAX_RESPONSE_BYTES + 1)
    except (urllib.error.URLError, OSError) as exc:
        raise SourceError(f"timestamp authority {url} unreachable: {getattr(exc, 'reason', exc)}") from exc
    if len(data) > MAX_RESPONSE_BYTES:
        raise SourceError(f"timestamp authority {url}: answer larger than {MAX_RESPONSE_BYTES} bytes")
    return parse_response(data, digest, nonce)


def parse_response(data: bytes, digest: bytes, nonce: int | None = None) -> bytes:
    try:
        resp = tsp.TimeStampResp.load(data)
        status = resp["status"]["status"].native
    except (ValueError, TypeError, KeyError) as exc:
        raise SourceError(f"timestamp authority answered something that is not a TimeStampResp: {exc}") from exc
    if status not in ("granted", "granted_with_mods"):
        text = resp["status"]["status_string"].native if resp["status"]["status_string"] else None
        raise SourceError(f"timestamp authority refused the request: {status} {text or ''}".strip())
    token = resp["time_stamp_token"]
    tst = _tst_info(token)
    if tst["message_imprint"]["hashed_message"].native != digest:
        raise SourceError("timestamp authority answered for another hash")
    if nonce is not None and tst["nonce"].native != nonce:
        raise SourceError("timestamp authority answered with another nonce")
    return token.dump()


def _tst_info(token: cms.ContentInfo) -> tsp.TSTInfo:
    sd = token["content"]
    eci = sd["encap_content_info"]
    if eci["content_type"].native != "tst_info":
        raise IntegrityError("the token does not hold a TSTInfo")
    return eci["content"].parsed


@dataclass
class TimestampReport:
    ok: bool = False
    problems: list[str] = field(default_factory=list)
    gen_time: str | None = None
    serial: int | None = None
    policy: str | None = None
    tsa: str | None = None
    tsa_cert_sha256: str | None = None
    root_subject: str | None = None
    root_sha256: str | None = None
    chain_length: int = 0

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def _cert_key(c: x509.Certificate) -> tuple:
    return (c.issuer.dump(), c["tbs_certificate"]["serial_number"].native)


def _verify_sig(public_key, signature: bytes, data: bytes, sig_algo: str, hash_name: str, params=None) -> None:
    h = _HASHES.get(hash_name)
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        public_key.verify(signature, data)
    elif isinstance(public_key, rsa.RSAPublicKey):
        if sig_algo == "rsassa_pss":
            mgf_hash = _HASHES[params["mask_gen_algorithm"]["parameters"]["algorithm"].native]
            pad = padding.PSS(mgf=padding.MGF1(mgf_hash()), salt_length=params["salt_length"].native)
            public_key.verify(signature, data, pad, _HASHES[params["hash_algorithm"]["algorithm"].native]())
        else:
            public_key.verify(signature, data, padding.PKCS1v15(), h())
    elif isinstance(public_key, ec.EllipticCurvePublicKey):
        public_key.verify(signature, data, ec.ECDSA(h()))
    else:
        raise InvalidSignature(f"unsupported key type {type(public_key).__name__}")


def load_certs(data: bytes) -> list[x509.Certificate]:
    """Certificates from PEM (one or more) or a single DER certificate."""
    out = []
    if pem.detect(data):
        for _t, _h, der in pem.unarmor(data, multiple=True):
            out.append(x509.Certificate.load(der))
    elif data:
        out.append(x509.Certificate.load(data))
    return out


def verify_token(token_der: bytes, data_digest: bytes, extra_certs: list[x509.Certificate] | None = None
                 ) -> TimestampReport:
    """Verify an RFC 3161 token offline against the SHA-256 ``data_digest``."""
    rep = TimestampReport()
    p = rep.problems
    try:
        token = cms.ContentInfo.load(token_der)
        if token["content_type"].native != "signed_data":
            raise ValueError("not a CMS SignedData")
        sd = token["content"]
        tst = _tst_info(token)
        tst_bytes = sd["encap_content_info"]["content"].contents
        rep.gen_time = tst["gen_time"].native.astimezone(UTC).isoformat().replace("+00:00", "Z")
        rep.serial = tst["serial_number"].native
        rep.policy = tst["policy"].native
    except (ValueError, TypeError, KeyError, IntegrityError) as exc:
        rep.problems.append(f"timestamp token unreadable: {exc}")
        return rep
    mi = tst["message_imprint"]
    algo = mi["hash_algorithm"]["algorithm"].native
    if algo != "sha256":
        p.append(f"timestamp: message imprint uses {algo}, expected sha256")
    if mi["hashed_message"].native != data_digest:
        p.append("timestamp: message imprint does not match the SHA-256 of MANIFEST.json")
    certs = [c.chosen for c in (sd["certificates"] or []) if c.name == "certificate"]
    certs += list(extra_certs or [])
    by_key = {_cert_key(c): c for c in certs}
    signer_infos = sd["signer_infos"]
    if len(signer_infos) != 1:
        p.append(f"timestamp: expected one signer, found {len(signer_infos)}")
        return rep
    si = signer_infos[0]
    sid = si["sid"]
    signer = None
    if sid.name == "issuer_and_serial_number":
        signer = by_key.get((sid.chosen["issuer"].dump(), sid.chosen["serial_number"].native))
    else:
        ski = sid.chosen.native
        signer = next((c for c in certs if c.key_identifier == ski), None)
    if signer is None:
        p.append("timestamp: the TSA certificate is not in the token nor in the stored chain")
        return rep
    rep.tsa = signer.subject.human_friendly
    rep.tsa_cert_sha256 = hashlib.sha256(signer.dump()).hexdigest()
    hash_name = si["digest_algorithm"]["algorithm"].native
    if hash_name not in _HASHES:
        p.append(f"timestamp: unsupported digest {hash_name}")
        return rep
    attrs = si["signed_attrs"]
    if not attrs:
        p.append("timestamp: no signed attributes")
        return rep
    values = {a["type"].native: a["values"] for a in attrs}
    md = values.get("message_digest")
    if md is None or md[0].native != hashlib.new(hash_name, tst_bytes).digest():
        p.append("timestamp: message-digest attribute does not match the TSTInfo")
    ct = values.get("content_type")
    if ct is None or ct[0].native != "tst_info":
        p.append("timestamp: content-type attribute is not tst_info")
    ess = values.get("signing_certificate_v2") or values.get("signing_certificate")
    if ess is None:
        p.append("timestamp: no ESS signing-certificate attribute")
    else:
        first = ess[0]["certs"][0]
        if "hash_algorithm" in first:  # v2
            halg = first["hash_algorithm"]["algorithm"].native or "sha256"
            want = hashlib.new(halg, signer.dump()).digest()
        else:
            want = hashlib.sha1(signer.dump()).digest()  # noqa: S324 - ESS v1 is defined with SHA-1
        if first["cert_hash"].native != want:
            p.append("timestamp: ESS signing-certificate attribute names another certificate")
    signed_bytes = b"\x31" + attrs.dump()[1:]  # [0] IMPLICIT -> SET OF for the signature input
    try:
        cert = cx509.load_der_x509_certificate(signer.dump())
        algo_obj: algos.SignedDigestAlgorithm = si["signature_algorithm"]
        _verify_sig(cert.public_key(), si["signature"].native, signed_bytes, algo_obj.signature_algo,
                    hash_name, algo_obj["parameters"] if algo_obj.signature_algo == "rsassa_pss" else None)
    except (InvalidSignature, ValueError, KeyError, TypeError) as exc:
        p.append(f"timestamp: signature does not verify with the TSA certificate ({exc or 'invalid'})")
    eku = signer.extended_key_usage_value
    if eku is None or "time_stamping" not in eku.native:
        p.append("timestamp: the TSA certificate is not for time stamping (extendedKeyUsage)")
    gen = tst["gen_time"].native
    validity = signer["tbs_certificate"]["validity"]
    if not (validity["not_before"].native <= gen <= validity["not_after"].native):
        p.append("timestamp: the time lies outside the TSA certificate's validity")
    # chain: follow issuers among the known certificates
    chain = [signer]
    cur = signer
    while cur.subject != cur.issuer and len(chain) < 10:
        issuer = next((c for c in certs if c.subject == cur.issuer and c is not cur), None)
        if issuer is None:
            break
        try:
            cx509.load_der_x509_certificate(cur.dump()).verify_directly_issued_by(
                cx509.load_der_x509_certificate(issuer.dump()))
        except (ValueError, TypeError, InvalidSignature) as exc:
            p.append(f"timestamp: certificate {cur.subject.human_friendly} is not signed by its issuer ({exc})")
        chain.append(issuer)
        cur = issuer
    rep.chain_length = len(chain)
    rep.root_subject = chain[-1].subject.human_friendly
    rep.root_sha256 = hashlib.sha256(chain[-1].dump()).hexdigest()
    rep.ok = not p
    return rep


def token_certificates(token_der: bytes) -> list[x509.Certificate]:
    token = cms.ContentInfo.load(token_der)
    return [c.chosen for c in (token["content"]["certificates"] or []) if c.name == "certificate"]


def certs_to_pem(certs: list[x509.Certificate]) -> bytes:
    return b"".join(pem.armor("CERTIFICATE", c.dump()) for c in certs)


__all__ = ["TimestampReport", "build_request", "certs_to_pem", "load_certs", "parse_response",
           "request_timestamp", "token_certificates", "verify_token"]
