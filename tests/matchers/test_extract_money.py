"""Prices with currency, crypto wallets (checksums) and IBANs (mod 97).

Wallet addresses are built here from made-up payloads with encoders written
independently of matchers/crypto.py, so the checksum code is really tested.
"""

import hashlib

import pytest

from matchers.crypto import keccak256
from matchers.extract import extract


def ents(text, kind=None):
    out = extract(text)
    for e in out:
        assert text[e.start:e.end] == e.raw, e
    return [e for e in out if kind is None or e.kind == kind]


def vals(text, kind):
    return [e.value for e in ents(text, kind)]


# --- Prices -------------------------------------------------------------------

@pytest.mark.parametrize("text,value,amount,currency", [
    ("150€", "150 EUR", 150, "EUR"),
    ("150 €", "150 EUR", 150, "EUR"),
    ("150 euros", "150 EUR", 150, "EUR"),
    ("€150", "150 EUR", 150, "EUR"),
    ("EUR 150", "150 EUR", 150, "EUR"),
    ("99,90 €", "99.9 EUR", 99.9, "EUR"),
    ("1 500 €", "1500 EUR", 1500, "EUR"),
    ("1.500€", "1500 EUR", 1500, "EUR"),
    ("2k€", "2000 EUR", 2000, "EUR"),
    ("1,5k €", "1500 EUR", 1500, "EUR"),
    ("1 500 DH", "1500 MAD", 1500, "MAD"),
    ("1500dhs", "1500 MAD", 1500, "MAD"),
    ("800 dirhams", "800 MAD", 800, "MAD"),
    ("٥٠٠ درهم", "500 MAD", 500, "MAD"),
    ("500 MAD", "500 MAD", 500, "MAD"),
    ("20 000 DA", "20000 DZD", 20000, "DZD"),
    ("5000 dinars algériens", "5000 DZD", 5000, "DZD"),
    ("٣٠٠٠ دج", "3000 DZD", 3000, "DZD"),
    ("80 DT", "80 TND", 80, "TND"),
    ("300 TND", "300 TND", 300, "TND"),
    ("1000 TL", "1000 TRY", 1000, "TRY"),
    ("₺1000", "1000 TRY", 1000, "TRY"),
    ("2.000 lira", "2000 TRY", 2000, "TRY"),
    ("۵۰۰۰۰۰۰ تومان", "5000000 IRT", 5000000, "IRT"),
    ("5 000 000 rials", "5000000 IRR", 5000000, "IRR"),
    ("$200", "200 USD", 200, "USD"),
    ("200 USD", "200 USD", 200, "USD"),
    ("50 000 FCFA", "50000 XOF", 50000, "XOF"),
    ("３００€", "300 EUR", 300, "EUR"),
    ("۱۵ میلیون تومان", "15000000 IRT", 15000000, "IRT"),
    ("۵۰۰ هزار تومان", "500000 IRT", 500000, "IRT"),
    ("15 bin TL", "15000 TRY", 15000, "TRY"),
    ("20 millions DA", "20000000 DZD", 20000000, "DZD"),
    ("3 millions d'euros", "3000000 EUR", 3000000, "EUR"),
    ("٥ آلاف درهم", "5000 MAD", 5000, "MAD"),
    ("€2k", "2000 EUR", 2000, "EUR"),
])
def test_prices(text, value, amount, currency):
    [p] = ents(f"Prix : {text} seulement", "price")
    assert p.value == value
    assert p.extra["amount"] == amount and p.extra["currency"] == currency


def test_ambiguous_dinar_is_flagged():
    [p] = ents("500 dinars", "price")
    assert p.extra["ambiguous"] is True and set(p.extra["currencies"]) == {"DZD", "TND"}


@pytest.mark.parametrize("text,low,high", [
    ("entre 100 et 200 euros pièce", "100 EUR", "200 EUR"),
    ("de 200 à 3 500 €", "200 EUR", "3500 EUR"),
    ("entre 4 500 et 20 000 dinars algériens", "4500 DZD", "20000 DZD"),
    ("de 2000 a 5000 dirhams", "2000 MAD", "5000 MAD"),
    ("100-150€", "100 EUR", "150 EUR"),
    ("€100-150", "100 EUR", "150 EUR"),
    ("1000/1500 DH", "1000 MAD", "1500 MAD"),
    ("between 100 and 150 USD", "100 USD", "150 USD"),
])
def test_price_ranges(text, low, high):
    found = ents(text, "price")
    assert [e.value for e in found] == [low, high]
    assert [e.extra["range"] for e in found] == ["low", "high"]


@pytest.mark.parametrize("text,value", [
    ("j'ai 25 ans et 200 euros", "200 EUR"),
    ("rdv 06 39 98 12 34 - 150€", "150 EUR"),
])
def test_not_ranges(text, value):
    found = ents(text, "price")
    assert [e.value for e in found] == [value]
    assert "range" not in found[0].extra


def test_price_range_and_price_after_phone():
    assert vals("entre 150€ et 200€", "price") == ["150 EUR", "200 EUR"]
    text = "+33 6 39 98 12 34 500 €"
    assert vals(text, "price") == ["500 EUR"]
    assert vals(text, "phone") == ["+33639981234"]


def test_price_span():
    text = "rdv dispo 120 € à payer"
    [p] = ents(text, "price")
    assert p.raw == "120 €"


@pytest.mark.parametrize("text", [
    "j'ai 25 ans",
    "rdv à 14h30",
    "en 2026",
    "06 39 98 12 34",
    "Eurostar 150",
    "100 dans la file",
    "page 150 europe",
    "Tl;dr 150",
])
def test_not_prices(text):
    assert vals(text, "price") == []


# --- Wallets ------------------------------------------------------------------

_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def b58check_encode(payload: bytes) -> str:
    data = payload + hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4]
    n = int.from_bytes(data, "big")
    out = ""
    while n:
        n, r = divmod(n, 58)
        out = _B58[r] + out
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + out


def bech32_encode(hrp: str, witver: int, prog: bytes, m: bool = False) -> str:
    charset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
    acc, bits, data = 0, 0, [witver]
    for b in prog:
        acc = (acc << 8) | b
        bits += 8
        while bits >= 5:
            bits -= 5
            data.append((acc >> bits) & 31)
    if bits:
        data.append((acc << (5 - bits)) & 31)

    def polymod(values):
        gen = [0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3]
        chk = 1
        for v in values:
            top = chk >> 25
            chk = (chk & 0x1FFFFFF) << 5 ^ v
            for i in range(5):
                chk ^= gen[i] if ((top >> i) & 1) else 0
        return chk

    exp = [ord(x) >> 5 for x in hrp] + [0] + [ord(x) & 31 for x in hrp]
    const = 0x2BC830A3 if m else 1
    pm = polymod(exp + data + [0] * 6) ^ const
    return hrp + "1" + "".join(charset[d] for d in data + [(pm >> 5 * (5 - i)) & 31 for i in range(6)])


FAKE20 = hashlib.sha256(b"veille fictional wallet").digest()[:20]
BTC_P2PKH = b58check_encode(b"\x00" + FAKE20)
BTC_P2SH = b58check_encode(b"\x05" + FAKE20)
TRON = b58check_encode(b"\x41" + FAKE20)
LTC = b58check_encode(b"\x30" + FAKE20)
BECH32 = bech32_encode("bc", 0, FAKE20)
BECH32M = bech32_encode("bc", 1, hashlib.sha256(b"veille taproot").digest(), m=True)


def eip55(addr_hex: str) -> str:
    h = keccak256(addr_hex.encode()).hex()
    return "0x" + "".join(c.upper() if c.isalpha() and int(h[i], 16) >= 8 else c for i, c in enumerate(addr_hex))


ETH_LOWER = "0x" + hashlib.sha256(b"veille eth").hexdigest()[:40]
ETH_MIXED = eip55(ETH_LOWER[2:])


def test_keccak_known_vectors():
    assert keccak256(b"").hex() == "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    assert keccak256(b"abc").hex() == "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45"
    assert len(keccak256(b"x" * 500)) == 32


@pytest.mark.parametrize("spec", [
    # EIP-55's own test vectors
    "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
    "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
    "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
    "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
])
def test_eip55_vectors(spec):
    [w] = ents(f"ETH {spec}", "wallet")
    assert w.value == spec.lower() and w.extra["checksum"] == "eip55"


@pytest.mark.parametrize("addr,chain", [
    (BTC_P2PKH, "bitcoin"),
    (BTC_P2SH, "bitcoin"),
    (TRON, "tron"),
    (LTC, "litecoin"),
    (BECH32, "bitcoin"),
    (BECH32M, "bitcoin"),
    (BECH32.upper(), "bitcoin"),
    (ETH_LOWER, "ethereum"),
    (ETH_MIXED, "ethereum"),
])
def test_wallets(addr, chain):
    text = f"Paiement USDT/BTC uniquement : {addr}, merci"
    [w] = ents(text, "wallet")
    assert w.extra["chain"] == chain
    assert w.raw == addr
    assert w.value in (addr, addr.lower())


def test_tron_note_mentions_usdt():
    [w] = ents(f"USDT TRC20 {TRON}", "wallet")
    assert "USDT" in w.extra["note"]


def _flip(s: str, i: int) -> str:
    c = s[i]
    alt = "2" if c != "2" else "3"
    return s[:i] + alt + s[i + 1:]


@pytest.mark.parametrize("bad", [
    _flip(BTC_P2PKH, 10),  # broken Base58Check
    _flip(TRON, 12),
    BECH32[:-1] + ("q" if BECH32[-1] != "q" else "p"),  # broken bech32 checksum
    BECH32[:10] + BECH32[10:].upper(),  # mixed case is invalid bech32
    ETH_LOWER[:-1],  # 39 hex digits
    ETH_LOWER + "a",  # 41 hex digits
    "0x" + "g" * 40,
    "0x" + "0" * 40,
    ETH_MIXED[:5] + ETH_MIXED[5:].swapcase(),  # EIP-55 checksum wrong
    b58check_encode(b"\x07" + FAKE20),  # unknown version byte
])
def test_invalid_wallets(bad):
    assert vals(f"wallet {bad} end", "wallet") == []


# --- IBAN ---------------------------------------------------------------------

def iban(country: str, bban: str) -> str:
    digits = "".join(str(int(c, 36)) for c in bban + country + "00")
    check = 98 - int(digits) % 97
    return f"{country}{check:02d}{bban}"


@pytest.mark.parametrize("text,value", [
    ("FR76 3000 6000 0112 3456 7890 189", "FR7630006000011234567890189"),
    ("FR7630006000011234567890189", "FR7630006000011234567890189"),
    ("fr76 3000 6000 0112 3456 7890 189", "FR7630006000011234567890189"),
    ("GB82 WEST 1234 5698 7654 32", "GB82WEST12345698765432"),
    ("FR76-3000-6000-0112-3456-7890-189", "FR7630006000011234567890189"),
    (iban("MA", "000000000000000000000001"), iban("MA", "000000000000000000000001")),
    (iban("TN", "00000000000000000001"), iban("TN", "00000000000000000001")),
    (iban("DZ", "0000000000000000000001"), iban("DZ", "0000000000000000000001")),
    (iban("SN", "A00000000000000000000001"), iban("SN", "A00000000000000000000001")),
    (iban("CI", "A00000000000000000000001"), iban("CI", "A00000000000000000000001")),
])
def test_ibans(text, value):
    assert vals(f"Virement sur {text} merci", "iban") == [value]


@pytest.mark.parametrize("text", [
    "FR76 3000 6000 0112 3456 7890 188",  # bad checksum
    "FR76 3000 6000 0112 3456 7890 18",  # too short for France
    "FR7630006000011234567890189123",  # longer code that merely starts like an IBAN
    "XX76 3000 6000 0112 3456 7890 189",  # unknown country
    "GB82 WEST 1234 5698 7654 33",
])
def test_invalid_ibans(text):
    assert vals(text, "iban") == []


def test_iban_digits_are_not_phones():
    text = "IBAN FR76 3000 6000 0112 3456 7890 189"
    assert [e.kind for e in ents(text)] == ["iban"]
