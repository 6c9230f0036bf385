"""Ed25519 signing key for evidence bundles (``veille keys init``).

The private key is written PKCS#8 PEM with mode 0600 at the path named by the
setting ``evidence.signing_key`` (relative to the workspace). The public key
is written next to it (``.pub``, PEM) and copied into every signed bundle.
The key's fingerprint is the SHA-256 of its 32 raw public-key bytes: publish
it, so recipients can check a bundle was signed by you.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from . import custody
from .errors import ConfigError, IntegrityError
from .workspace import write_private


def key_path(ws) -> Path:
    p = Path(str(ws.config.get("evidence.signing_key") or "keys/signing.key")).expanduser()
    return p if p.is_absolute() else ws.root / p


def fingerprint(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def public_pem(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def init_key(ws, force: bool = False) -> dict:
    """Generate the workspace's signing key; refuse to overwrite one unless ``force``."""
    path = key_path(ws)
    if path.exists() and not force:
        pub = load_private_key(path).public_key()
        return {"path": str(path), "fingerprint": fingerprint(pub), "created": False}
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    tmp = path.with_name(path.name + ".tmp")
    write_private(tmp, pem)
    tmp.replace(path)
    pub = key.public_key()
    path.with_name(path.name + ".pub").write_bytes(public_pem(pub))
    fp = fingerprint(pub)
    custody.append(ws.db, "keys", {"event": "signing key created", "algorithm": "Ed25519", "fingerprint": fp,
                                   "replaced_existing": bool(force)},
                   subject_type="key", subject_id=fp[:16])
    return {"path": str(path), "fingerprint": fp, "created": True}


def load_private_key(path: Path) -> Ed25519PrivateKey:
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError as exc:
        raise ConfigError(f"no signing key at {path} (setting 'evidence.signing_key'): run 'veille keys init'") \
            from exc
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{path} is not a PEM private key: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"{path} is not an Ed25519 key")
    return key


def load_public_pem(data: bytes) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as exc:
        raise IntegrityError(f"not a PEM public key: {exc}") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise IntegrityError("the public key is not an Ed25519 key")
    return key


def verify(public_key: Ed25519PublicKey, signature: bytes, data: bytes) -> bool:
    try:
        public_key.verify(signature, data)
        return True
    except InvalidSignature:
        return False
