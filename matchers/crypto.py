"""Checksum validation for crypto wallet addresses and IBANs (pure functions).

* Bitcoin / Litecoin legacy addresses: Base58Check (double SHA-256), with the
  version byte of the chain;
* Bitcoin / Litecoin SegWit addresses: Bech32 (BIP 173) and Bech32m (BIP 350);
* TRON addresses (where USDT-TRC20 is usually paid): Base58Check, version 0x41;
* Ethereum (and every EVM chain, incl. USDT-ERC20): 0x + 40 hex digits; a
  mixed-case address is checked against its EIP-55 checksum (Keccak-256);
* IBAN: the length of the country (ISO 13616 registry, plus the countries
  using IBAN-like numbers: Maghreb and West Africa) and the mod-97 check.
"""

from __future__ import annotations

import hashlib

_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {c: i for i, c in enumerate(_B58)}


def b58decode(s: str) -> bytes | None:
    n = 0
    for c in s:
        i = _B58_INDEX.get(c)
        if i is None:
            return None
        n = n * 58 + i
    body = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    pad = len(s) - len(s.lstrip("1"))
    return b"\x00" * pad + body


def b58check(s: str) -> bytes | None:
    """The payload (version byte + hash) of a valid Base58Check string, else None."""
    raw = b58decode(s)
    if raw is None or len(raw) < 5:
        return None
    payload, chk = raw[:-4], raw[-4:]
    if hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4] != chk:
        return None
    return payload


_BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_BECH32_INDEX = {c: i for i, c in enumerate(_BECH32)}


def _polymod(values) -> int:
    gen = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
    chk = 1
    for v in values:
        b = chk >> 25
        chk = ((chk & 0x1FFFFFF) << 5) ^ v
        for i in range(5):
            if (b >> i) & 1:
                chk ^= gen[i]
    return chk


def bech32_verify(addr: str) -> tuple[str, str] | None:
    """``(hrp, "bech32"|"bech32m")`` for a valid SegWit-style string, else None."""
    if addr.lower() != addr and addr.upper() != addr:
        return None
    addr = addr.lower()
    pos = addr.rfind("1")
    if pos < 1 or pos + 7 > len(addr) or len(addr) > 90:
        return None
    hrp, data = addr[:pos], addr[pos + 1:]
    try:
        values = [_BECH32_INDEX[c] for c in data]
    except KeyError:
        return None
    expanded = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    pm = _polymod(expanded + values)
    if pm == 1:
        variant = "bech32"
    elif pm == 0x2BC830A3:
        variant = "bech32m"
    else:
        return None
    if not values:
        return None
    witver = values[0]
    if witver > 16 or (witver == 0) != (variant == "bech32"):
        return None
    return hrp, variant


# --- Keccak-256 (the pre-standard SHA-3 used by Ethereum), for EIP-55 ---
_RC = [
    0x0000000000000001, 0x0000000000008082, 0x800000000000808A, 0x8000000080008000,
    0x000000000000808B, 0x0000000080000001, 0x8000000080008081, 0x8000000000008009,
    0x000000000000008A, 0x0000000000000088, 0x0000000080008009, 0x000000008000000A,
    0x000000008000808B, 0x800000000000008B, 0x8000000000008089, 0x8000000000008003,
    0x8000000000008002, 0x8000000000000080, 0x000000000000800A, 0x800000008000000A,
    0x8000000080008081, 0x8000000000008080, 0x0000000080000001, 0x8000000080008008,
]
_ROT = [
    [0, 36, 3, 41, 18], [1, 44, 10, 45, 2], [62, 6, 43, 15, 61], [28, 55, 25, 21, 56], [27, 20, 39, 8, 14],
]
_M64 = (1 << 64) - 1


def _rol(x: int, n: int) -> int:
    return ((x << n) | (x >> (64 - n))) & _M64 if n else x


def _keccak_f(a: list[list[int]]) -> None:
    for rc in _RC:
        c = [a[x][0] ^ a[x][1] ^ a[x][2] ^ a[x][3] ^ a[x][4] for x in range(5)]
        d = [c[(x - 1) % 5] ^ _rol(c[(x + 1) % 5], 1) for x in range(5)]
        for x in range(5):
            for y in range(5):
                a[x][y] ^= d[x]
        b = [[0] * 5 for _ in range(5)]
        for x in range(5):
            for y in range(5):
                b[y][(2 * x + 3 * y) % 5] = _rol(a[x][y], _ROT[x][y])
        for x in range(5):
            for y in range(5):
                a[x][y] = b[x][y] ^ ((~b[(x + 1) % 5][y]) & b[(x + 2) % 5][y])
        a[0][0] ^= rc


def keccak256(data: bytes) -> bytes:
    rate = 136
    msg = bytearray(data)
    msg.append(0x01)
    while len(msg) % rate:
        msg.append(0)
    msg[-1] |= 0x80
    a = [[0] * 5 for _ in range(5)]
    for off in range(0, len(msg), rate):
        block = msg[off:off + rate]
        for i in range(rate // 8):
            x, y = i % 5, i // 5
            a[x][y] ^= int.from_bytes(block[8 * i:8 * i + 8], "little")
        _keccak_f(a)
    out = b""
    for i in range(4):
        x, y = i % 5, i // 5
        out += a[x][y].to_bytes(8, "little")
    return out


def eip55_ok(addr: str) -> bool:
    """True when ``0x…`` has a correct EIP-55 mixed-case checksum."""
    hexpart = addr[2:]
    h = keccak256(hexpart.lower().encode("ascii")).hex()
    for c, hc in zip(hexpart, h[:40], strict=True):
        if c.isalpha() and (c.isupper() != (int(hc, 16) >= 8)):
            return False
    return True


def wallet_kind(s: str) -> tuple[str, dict] | None:
    """``(normalised address, extra)`` for a valid wallet address, else None."""
    if s[:2] in ("0x", "0X") and len(s) == 42:
        body = s[2:]
        try:
            int(body, 16)
        except ValueError:
            return None
        if body == "0" * 40:
            return None
        extra = {"chain": "ethereum", "note": "EVM address (ETH, USDT-ERC20, BSC …)"}
        if body.lower() != body and body.upper() != body:
            if not eip55_ok("0x" + body):
                return None
            extra["checksum"] = "eip55"
        else:
            extra["checksum"] = "none"
        return "0x" + body.lower(), extra
    low = s.lower()
    if low.startswith(("bc1", "ltc1")):
        r = bech32_verify(s)
        if not r:
            return None
        hrp, variant = r
        chain = {"bc": "bitcoin", "ltc": "litecoin"}.get(hrp)
        if chain is None:
            return None
        return low, {"chain": chain, "checksum": variant}
    payload = b58check(s)
    if payload is None or len(payload) != 21:
        return None
    ver = payload[0]
    if s[0] == "T" and ver == 0x41:
        return s, {"chain": "tron", "checksum": "base58check", "note": "TRON address (USDT-TRC20)"}
    if s[0] == "1" and ver == 0x00:
        return s, {"chain": "bitcoin", "checksum": "base58check"}
    if s[0] == "3" and ver == 0x05:
        return s, {"chain": "bitcoin", "checksum": "base58check", "note": "P2SH (Bitcoin, or Litecoin legacy)"}
    if s[0] in "LM" and ver in (0x30, 0x32):
        return s, {"chain": "litecoin", "checksum": "base58check"}
    return None


# IBAN lengths by country (ISO 13616 registry and the IBAN-like national
# formats of the Maghreb and of the UEMOA/CEMAC banks).
IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AO": 25, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BF": 28, "BG": 22,
    "BH": 22, "BI": 27, "BJ": 28, "BR": 29, "BY": 28, "CF": 27, "CG": 27, "CH": 21, "CI": 28, "CM": 27,
    "CR": 22, "CV": 25, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27, "DK": 18, "DO": 28, "DZ": 26, "EE": 20,
    "EG": 29, "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GA": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18,
    "GN": 28, "GQ": 27, "GR": 27, "GT": 28, "GW": 25, "HN": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23,
    "IQ": 23, "IR": 26, "IS": 26, "IT": 27, "JO": 30, "KM": 27, "KW": 30, "KZ": 20, "LB": 28, "LC": 32,
    "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25, "MA": 28, "MC": 27, "MD": 24, "ME": 22, "MG": 27,
    "MK": 19, "ML": 28, "MR": 27, "MT": 31, "MU": 30, "MZ": 25, "NE": 28, "NI": 28, "NL": 18, "NO": 15,
    "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24, "SC": 31, "SD": 18,
    "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SN": 28, "ST": 25, "SV": 28, "TD": 27, "TG": 28, "TL": 23,
    "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}


def iban_mod97(compact: str) -> bool:
    r = compact[4:] + compact[:4]
    digits = "".join(str(int(c, 36)) for c in r)
    return int(digits) % 97 == 1


def valid_iban(raw: str) -> tuple[str, int] | None:
    """``(compact IBAN, number of characters of raw used)`` when raw starts with a valid IBAN."""
    cc = raw[:2].upper()
    n = IBAN_LENGTHS.get(cc)
    if n is None:
        return None
    chars: list[str] = []
    used = 0
    for i, c in enumerate(raw):
        if c in " -":
            continue
        chars.append(c.upper())
        if len(chars) == n:
            used = i + 1
            break
    if len(chars) < n:
        return None
    if used < len(raw) and raw[used] not in " -":
        return None  # the IBAN would end inside a longer code
    compact = "".join(chars)
    if not compact[2:4].isdigit() or not compact.isalnum() or not compact.isascii():
        return None
    if not iban_mod97(compact):
        return None
    return compact, used
