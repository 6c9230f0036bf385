"""Language-agnostic MinHash signatures and LSH band keys, vectorised with numpy.

Texts are compared as sets of character shingles (``SHINGLE`` code points) of
a lightly normalised text: NFKC, case-folded, every run of characters that is
neither a letter nor a digit (in any script) becomes one space. Digits,
Arabic, Cyrillic, CJK … are *kept*: prices, phone fragments and non-Latin
wording are what make two ads of one seller alike.

Hashes are computed from the code points with fixed constants, never with
Python's salted ``hash()``: a signature stored today matches one computed
next month (incremental clustering relies on it).

Public API: :func:`normalise_text`, :func:`signatures` (many texts at once),
:func:`similarity` (estimated Jaccard), :func:`band_keys_matrix` (LSH).
"""

from __future__ import annotations

import re
import unicodedata

import numpy as np

NUM_PERM = 64
SHINGLE = 4
#: Texts are cut to this many characters before shingling (bounded work).
MAX_CHARS = 4000
_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)
_EMPTY = np.uint32(0xFFFFFFFF)

_rng = np.random.Generator(np.random.PCG64(20261122))
_XOR = _rng.integers(1, 2**63, size=NUM_PERM, dtype=np.uint64)
_MUL = (_rng.integers(1, 2**63, size=NUM_PERM, dtype=np.uint64) | np.uint64(1))
_NONWORD = re.compile(r"[\W_]+", re.UNICODE)


def normalise_text(text: str) -> str:
    """NFKC + casefold; punctuation, symbols and emoji runs become one space."""
    if not text:
        return ""
    t = unicodedata.normalize("NFKC", text[:MAX_CHARS]).casefold()
    return _NONWORD.sub(" ", t).strip()


def _mix(h: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser (uint64 arithmetic wraps modulo 2**64)."""
    h = h ^ (h >> np.uint64(30))
    h = h * np.uint64(0xBF58476D1CE4E5B9)
    h = h ^ (h >> np.uint64(27))
    h = h * np.uint64(0x94D049BB133111EB)
    return h ^ (h >> np.uint64(31))


def _batch_hashes(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Shingle hashes of many texts in one vectorised pass: (hashes, start offset of each text's run).

    Every text must be non-empty. A text shorter than ``SHINGLE`` gives one
    shingle padded with zeros; windows that would cross into the next text
    are dropped.
    """
    padded = [t if len(t) >= SHINGLE else t + "\x00" * (SHINGLE - len(t)) for t in texts]
    lens = np.fromiter((len(t) for t in padded), dtype=np.int64, count=len(padded))
    cps = np.frombuffer("".join(padded).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    n = len(cps) - SHINGLE + 1
    h = np.zeros(n, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for k in range(SHINGLE):
            h = h * np.uint64(1_000_003) + cps[k:k + n]
        h = _mix(h)
    starts = np.concatenate(([0], np.cumsum(lens)[:-1]))
    counts = lens - SHINGLE + 1
    keep = np.ones(n, dtype=bool)
    # drop the SHINGLE-1 windows at the end of each text (they straddle two texts)
    for k in range(1, SHINGLE):
        pos = starts[1:] - k
        keep[pos[pos >= 0]] = False
    h = h[keep]
    offs = np.concatenate(([0], np.cumsum(counts)[:-1]))
    return h, offs


def signatures(norm_texts: list[str], batch_chars: int = 2_000_000) -> np.ndarray:
    """MinHash signatures (uint32, ``len(texts) x NUM_PERM``) of *normalised* texts.

    An empty text gets an all-``0xFFFFFFFF`` signature (see :func:`is_empty`).
    """
    out = np.full((len(norm_texts), NUM_PERM), _EMPTY, dtype=np.uint32)
    rows_all = [i for i, t in enumerate(norm_texts) if t]
    pos = 0
    while pos < len(rows_all):
        rows, total = [], 0
        while pos < len(rows_all) and (total < batch_chars or not rows):
            i = rows_all[pos]
            rows.append(i)
            total += len(norm_texts[i])
            pos += 1
        allh, starts = _batch_hashes([norm_texts[i] for i in rows])
        rows_arr = np.asarray(rows)
        with np.errstate(over="ignore"):
            for p in range(NUM_PERM):
                v = ((allh ^ _XOR[p]) * _MUL[p]) >> np.uint64(32)
                out[rows_arr, p] = np.minimum.reduceat(v, starts).astype(np.uint32)
    return out


def is_empty(sig: np.ndarray) -> bool:
    return bool(sig[0] == _EMPTY and (sig == _EMPTY).all())


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Estimated Jaccard similarity of the two shingle sets."""
    return float(np.count_nonzero(a == b)) / NUM_PERM


def band_keys_matrix(sigs: np.ndarray, bands: int) -> np.ndarray:
    """Band keys for many signatures at once: ``len(sigs) x bands`` int64 (stable, non-negative)."""
    rows = NUM_PERM // bands
    n = sigs.shape[0]
    out = np.empty((n, bands), dtype=np.int64)
    s64 = sigs.astype(np.uint64)
    with np.errstate(over="ignore"):
        for b in range(bands):
            h = np.full(n, np.uint64(b + 1) * np.uint64(0x9E3779B97F4A7C15), dtype=np.uint64)
            for r in range(rows):
                h = _mix(h ^ s64[:, b * rows + r])
            out[:, b] = (h >> np.uint64(1)).astype(np.int64)
    return out
