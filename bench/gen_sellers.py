"""Seeded generator of labelled synthetic cross-platform seller data.

    .venv/bin/python bench/gen_sellers.py --posts 100000 --seed 7 -o /tmp/sellers-100k

writes ``posts.jsonl`` (veille's JSONL Post format) and ``truth.jsonl``
(``{"url", "seller"}`` per line) in the output folder.

What it models (all values fictional: ARCEP fiction phone ranges, ``.example``
domains, invented handles and texts written for this generator):

* sellers with 1-4 accounts on several platforms (Telegram, Snapchat,
  WhatsApp, Instagram, Leboncoin, Vivastreet, Avito, Ouedkniss, Tayara);
* handle variants across platforms (``rdv_prefecture_75`` / ``rdv.prefecture75``
  / ``rdvprefecture75``), some accounts with an unrelated handle;
* phones written in many ways (``06 39 98 12 34``, ``+33639981234``,
  ``06.39.98.12.34``, ``0 6 3 9 9 8 1 2 3 4``, ``06-39-98-12-34``);
* paraphrased, templated texts in French, Arabic, English and Spanish with
  emoji, price lists and places;
* hard negatives: agency numbers shared by many unrelated sellers, stock /
  stolen photos (one perceptual hash used by many sellers), popular templates
  copied verbatim by unrelated sellers, generic handles (``rdv_prefecture_93``
  vs ``rdv_prefecture_75``), many sellers in the same city at the same price.
"""

from __future__ import annotations

import argparse
import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

FICTION_PREFIXES = ["+33199 00", "+33261 91", "+33353 01", "+33465 71", "+33536 49", "+33639 98", "+33700 00"]
PLATFORMS = ["telegram", "snapchat", "whatsapp", "instagram", "leboncoin", "vivastreet", "avito_ma",
             "ouedkniss", "tayara"]
CLASSIFIEDS = {"leboncoin", "vivastreet", "avito_ma", "ouedkniss", "tayara"}
CITIES = ["Bobigny", "Nanterre", "Créteil", "Paris", "Lyon", "Marseille", "Lille", "Toulouse", "Evry", "Cergy",
          "Casablanca", "Rabat", "Alger", "Oran", "Tunis", "Fès", "Tanger"]
CITIES_AR = ["الدار البيضاء", "الرباط", "الجزائر", "وهران", "تونس", "فاس", "طنجة"]
WORDS = ["rdv", "prefecture", "visa", "pref", "titre", "sejour", "rendezvous", "consulat", "vfs", "tls", "dossier",
         "express", "rapide", "service", "agence", "pro", "officiel", "paris", "mada", "karim", "sami", "nadia",
         "yassine", "amine", "lina", "omar", "sara", "bilal", "rania", "hamza", "noor", "malik", "ines"]
GENERIC_BASES = ["rdv_prefecture", "rdv_visa", "visa_express", "prefecture_rdv", "rdv_tls", "vfs_rdv"]

# Phrase banks written for this generator: {lang: {slot: [variants]}}.
BANK = {
    "fr": {
        "open": ["Bonjour à tous", "Salam", "Disponible", "Nouveau", "🔥 Urgent 🔥", "Bonsoir", "Dispo cette semaine",
                 "📢 Annonce"],
        "offer": ["je vends des RDV préfecture", "rendez-vous préfecture disponibles", "je propose des créneaux",
                  "je prends vos rendez-vous", "RDV garanti", "vente de rendez-vous", "créneaux libres",
                  "je m'occupe de votre rendez-vous"],
        "what": ["titre de séjour", "naturalisation", "renouvellement de titre", "récépissé", "carte de résident",
                 "visa France", "regroupement familial", "passeport talent", "ANEF", "visa Schengen"],
        "where": ["à {city}", "préfecture de {city}", "sur {city} et alentours", "secteur {city}",
                  "{city} uniquement"],
        "price": ["{p}€ le rdv", "prix {p} euros", "tarif {p}€", "{p} € seulement", "à partir de {p}€"],
        "list": ["titre {p}€, naturalisation {q}€", "récépissé {p}€ / visa {q}€", "{p}€ simple, {q}€ urgent"],
        "trust": ["paiement après confirmation", "sérieux uniquement", "pas de remboursement", "résultat garanti",
                  "livraison en 48h", "clients satisfaits", "discret et rapide"],
        "contact": ["contactez-moi au {phone}", "whatsapp {phone}", "appelez le {phone}", "tél {phone}",
                    "joignable au {phone}"],
        "tg": ["telegram @{h}", "tg: @{h}", "écrivez sur telegram @{h}"],
        "snap": ["snap: {h}", "snapchat {h}", "ajoutez-moi sur snap {h}"],
        "mail": ["mail {e}", "écrivez à {e}"],
        "agency": ["agence partenaire {phone}", "notre agence: {phone}", "standard {phone}"],
    },
    "en": {
        "open": ["Hello everyone", "Available now", "NEW", "✅ Limited", "Hi", "This week only"],
        "offer": ["selling prefecture appointments", "appointment slots available", "I book your appointment",
                  "guaranteed visa appointment", "slots for sale", "fast appointment booking"],
        "what": ["residence permit", "Schengen visa", "citizenship", "visa interview", "permit renewal",
                 "student visa"],
        "where": ["in {city}", "at {city} office", "{city} area", "{city} only"],
        "price": ["{p} EUR per slot", "price {p}€", "only {p} euros", "{p}€ each"],
        "list": ["permit {p}€, visa {q}€", "standard {p}€ / urgent {q}€"],
        "trust": ["pay after confirmation", "serious buyers only", "no refunds", "100% guaranteed",
                  "done in 48h", "trusted seller"],
        "contact": ["call {phone}", "whatsapp {phone}", "text me on {phone}", "phone {phone}"],
        "tg": ["telegram @{h}", "tg @{h}", "message me on telegram @{h}"],
        "snap": ["snap {h}", "add me on snapchat {h}"],
        "mail": ["email {e}", "write to {e}"],
        "agency": ["partner agency {phone}", "our office {phone}"],
    },
    "es": {
        "open": ["Hola", "Disponible", "Nuevo", "Urgente", "Buenas"],
        "offer": ["vendo citas de extranjería", "citas disponibles", "consigo tu cita", "cita garantizada",
                  "tramito tu cita"],
        "what": ["huellas", "NIE", "nacionalidad", "visado Schengen", "renovación de residencia"],
        "where": ["en {city}", "oficina de {city}", "zona {city}"],
        "price": ["{p}€ la cita", "precio {p} euros", "solo {p}€"],
        "list": ["huellas {p}€, NIE {q}€", "normal {p}€ / urgente {q}€"],
        "trust": ["pago tras confirmar", "solo serios", "garantizado", "rápido y discreto"],
        "contact": ["llama al {phone}", "whatsapp {phone}", "tel {phone}"],
        "tg": ["telegram @{h}", "tg @{h}"],
        "snap": ["snap {h}"],
        "mail": ["correo {e}"],
        "agency": ["agencia {phone}", "oficina {phone}"],
    },
    "ar": {
        "open": ["السلام عليكم", "متوفر الآن", "جديد", "عاجل", "مرحبا"],
        "offer": ["نبيع مواعيد القنصلية", "مواعيد فيزا متوفرة", "نحجز لك موعد", "موعد مضمون", "حجز مواعيد بسرعة",
                  "بيع مواعيد السفارة"],
        "what": ["فيزا فرنسا", "فيزا شنغن", "بطاقة الإقامة", "تجديد الإقامة", "فيزا دراسة", "لم الشمل"],
        "where": ["في {city}", "مركز {city}", "منطقة {city}"],
        "price": ["السعر {p} درهم", "{p} يورو فقط", "ب {p} دينار"],
        "list": ["فيزا {p} درهم، إقامة {q} درهم", "عادي {p} / مستعجل {q}"],
        "trust": ["الدفع بعد التأكيد", "للجادين فقط", "مضمون مئة بالمئة", "خدمة سريعة", "ثقة وأمان"],
        "contact": ["واتساب {phone}", "اتصل على {phone}", "للتواصل {phone}", "رقم {phone}"],
        "tg": ["تلغرام @{h}", "telegram @{h}"],
        "snap": ["سناب {h}", "snap {h}"],
        "mail": ["ايميل {e}"],
        "agency": ["الوكالة {phone}", "مكتبنا {phone}"],
    },
}
LANG_WEIGHTS = [("fr", 0.5), ("ar", 0.25), ("en", 0.15), ("es", 0.10)]
EMOJI = ["✅", "🔥", "📞", "👉", "💯", "⚡", "📌", "🇫🇷", "⭐"]


def fiction_numbers(rng: random.Random) -> list[str]:
    nums = [f"{p.replace(' ', '')}{i:04d}" for p in FICTION_PREFIXES for i in range(10000)]
    rng.shuffle(nums)
    return nums


def write_phone(rng: random.Random, e164: str) -> str:
    """The same number written as a seller might."""
    nat = "0" + e164[3:]
    pairs = [nat[i:i + 2] for i in range(0, 10, 2)]
    style = rng.random()
    if style < 0.3:
        return " ".join(pairs)
    if style < 0.45:
        return e164
    if style < 0.6:
        return ".".join(pairs)
    if style < 0.7:
        return "-".join(pairs)
    if style < 0.8:
        return "+33 " + nat[1] + " " + " ".join(pairs[1:])
    if style < 0.9:
        return nat
    return "0033" + e164[3:]


def handle_variant(rng: random.Random, base: str) -> str:
    r = rng.random()
    if r < 0.35:
        return base
    if r < 0.55:
        return base.replace("_", ".")
    if r < 0.7:
        return base.replace("_", "")
    if r < 0.85:
        return base + rng.choice(["_", ".", ""]) + str(rng.randint(1, 99))
    return rng.choice(["the", "real", "official", "mr"]) + "_" + base


def new_handle(rng: random.Random) -> str:
    k = rng.choice([2, 2, 3])
    h = "_".join(rng.sample(WORDS, k))
    if rng.random() < 0.5:
        h += "_" + str(rng.randint(1, 999))
    return h


class Seller:
    def __init__(self, sid: int, rng: random.Random, pools: dict):
        self.id = sid
        self.lang = rng.choices([lang for lang, _ in LANG_WEIGHTS], [w for _, w in LANG_WEIGHTS])[0]
        self.city = rng.choice(CITIES_AR if self.lang == "ar" and rng.random() < 0.5 else CITIES)
        nums = pools["numbers"]
        self.phones = [nums.pop()] if nums and rng.random() < 0.85 else []
        if self.phones and nums and rng.random() < 0.15:
            self.phones.append(nums.pop())
        used = pools["handles"]
        while True:  # an account name is unique on a platform: no two sellers share a base handle
            if rng.random() < 0.05:
                base = rng.choice(GENERIC_BASES) + "_" + str(rng.randint(1, 999))  # generic: hard negative
            else:
                base = new_handle(rng)
            if base not in used:
                break
        used.add(base)
        self.base = base
        self.tg = self.snap = None
        if rng.random() < 0.6:
            self.tg = handle_variant(rng, base)
            while ("telegram", self.tg) in pools["accounts"]:
                self.tg = handle_variant(rng, base) + str(rng.randint(100, 9999))
            pools["accounts"].add(("telegram", self.tg))
        if rng.random() < 0.3:
            self.snap = handle_variant(rng, base).replace("_", ".")
            while ("snapchat", self.snap) in pools["accounts"]:
                self.snap = handle_variant(rng, base).replace("_", ".") + str(rng.randint(100, 9999))
            pools["accounts"].add(("snapchat", self.snap))
        self.email = f"{base.replace('_', '.')}{rng.randint(1, 99)}@mail.example" if rng.random() < 0.1 else None
        n_acc = rng.choices([1, 2, 3, 4], [0.35, 0.35, 0.2, 0.1])[0]
        plats = rng.sample(PLATFORMS, n_acc)
        self.accounts = []
        for p in plats:
            if p in CLASSIFIEDS:
                handle = f"u{rng.randint(10**8, 10**9)}"  # classifieds show a user id
            elif p == "telegram" and self.tg:
                handle = self.tg  # already reserved
            elif p == "snapchat" and self.snap:
                handle = self.snap
            elif p == "whatsapp" and self.phones:
                handle = self.phones[0]
            else:
                handle = new_handle(rng) if rng.random() < 0.15 else handle_variant(rng, base)
                while (p, handle) in pools["accounts"]:
                    handle = new_handle(rng)  # an unrelated-looking handle on this account
            pools["accounts"].add((p, handle))
            self.accounts.append((p, handle))
        b = BANK[self.lang]
        self.templates = []
        if rng.random() < 0.25 and pools["templates"][self.lang]:
            self.templates.append(rng.choice(pools["templates"][self.lang]))  # copied popular template
        for _ in range(rng.choice([1, 1, 2])):
            self.templates.append(make_template(rng, b))
        self.price = rng.choice([30, 40, 50, 60, 70, 80, 100, 120, 150, 200, 250, 300, 500])
        self.photos = [rng.getrandbits(64) for _ in range(rng.choice([0, 1, 1, 2, 3]))]
        self.stock = rng.choice(pools["stock"]) if pools["stock"] and rng.random() < 0.2 else None
        self.agency = rng.choice(pools["agency"]) if pools["agency"] and rng.random() < 0.12 else None
        self.wants_tg = rng.random() < 0.5
        self.wants_snap = rng.random() < 0.3


def make_template(rng: random.Random, b: dict) -> list[tuple[str, str]]:
    slots = ["open", "offer", "what", "where", rng.choice(["price", "list"]), "trust"]
    if rng.random() < 0.5:
        slots.append("trust")
    return [(slot, rng.choice(b[slot])) for slot in slots]


def render(rng: random.Random, s: Seller, template, b: dict, post_no: int) -> tuple[str, float]:
    price = s.price if rng.random() < 0.7 else rng.choice([s.price - 10, s.price + 10, s.price + 20])
    q = price * 2
    parts = []
    for slot, phrase in template:
        if rng.random() < 0.2:  # paraphrase: swap a phrase for another of the same slot
            phrase = rng.choice(b[slot])
        if rng.random() < 0.05:
            continue
        parts.append(phrase.format(city=s.city, p=price, q=q))
    if rng.random() < 0.3:
        i = rng.randrange(1, len(parts)) if len(parts) > 1 else 0
        parts[i:i + 2] = parts[i:i + 2][::-1]
    contacts = []
    if s.phones and rng.random() < 0.75:
        contacts.append(rng.choice(b["contact"]).format(phone=write_phone(rng, rng.choice(s.phones))))
    if s.tg and s.wants_tg and rng.random() < 0.7:
        contacts.append(rng.choice(b["tg"]).format(h=s.tg))
    if s.snap and s.wants_snap and rng.random() < 0.7:
        contacts.append(rng.choice(b["snap"]).format(h=s.snap))
    if s.email and rng.random() < 0.5:
        contacts.append(rng.choice(b["mail"]).format(e=s.email))
    if s.agency and rng.random() < 0.6:
        contacts.append(rng.choice(b["agency"]).format(phone=write_phone(rng, s.agency)))
    sep = rng.choice([". ", ", ", " - ", "\n", " "])
    text = sep.join(parts + contacts)
    if rng.random() < 0.4:
        text = rng.choice(EMOJI) + " " + text + " " + rng.choice(EMOJI)
    return text, float(price)


def generate(n_posts: int, seed: int, out_dir: Path) -> dict:
    rng = random.Random(seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    n_sellers = max(10, n_posts // 10)
    pools = {
        "numbers": fiction_numbers(rng),
        "handles": set(),
        "accounts": set(),
        "stock": [rng.getrandbits(64) for _ in range(max(3, n_sellers // 300))],
        "templates": {lang: [make_template(rng, BANK[lang]) for _ in range(max(2, n_sellers // 400))]
                      for lang in BANK},
    }
    # agency numbers are taken from the same fiction pool: each is shared by many sellers
    pools["agency"] = [pools["numbers"].pop() for _ in range(max(2, n_sellers // 200))]
    sellers = [Seller(i + 1, rng, pools) for i in range(n_sellers)]
    # posts per seller: heavy-tailed (most post a few times, some a lot)
    weights = [rng.paretovariate(1.3) for _ in sellers]
    total_w = sum(weights)
    counts = [max(1, int(round(w / total_w * n_posts))) for w in weights]
    diff = n_posts - sum(counts)
    i = 0
    while diff != 0:
        j = i % len(counts)
        if diff > 0:
            counts[j] += 1
            diff -= 1
        elif counts[j] > 1:
            counts[j] -= 1
            diff += 1
        i += 1
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    pid = 0
    plan = [(s, k) for s, k in zip(sellers, counts, strict=True)]
    order = []
    for s, k in plan:
        order.extend([s.id] * k)
    rng.shuffle(order)
    by_id = {s.id: s for s in sellers}
    with open(out_dir / "posts.jsonl", "w", encoding="utf-8") as fp, \
            open(out_dir / "truth.jsonl", "w", encoding="utf-8") as ft:
        for sid in order:
            s = by_id[sid]
            pid += 1
            platform, handle = rng.choice(s.accounts)
            b = BANK[s.lang]
            text, price = render(rng, s, rng.choice(s.templates), b, pid)
            media = []
            for ph in s.photos:
                if rng.random() < 0.5:
                    noisy = ph ^ (1 << rng.randrange(64)) if rng.random() < 0.5 else ph
                    media.append({"url": f"https://img.example/{pid}-{len(media)}.jpg", "kind": "photo",
                                  "phash": f"{noisy:016x}"})
            if s.stock is not None and rng.random() < 0.5:
                media.append({"url": f"https://img.example/{pid}-s.jpg", "kind": "photo", "phash": f"{s.stock:016x}"})
            url = f"https://{platform.replace('_', '-')}.example/p/{pid}"
            post = {
                "platform": platform, "source": f"{platform}.example", "url": url, "external_id": str(pid),
                "author": handle if platform not in CLASSIFIEDS else rng.choice(["Karim", "Sami", "Nadia", "Pro"]),
                "author_handle": handle, "title": "", "text": text, "price": price,
                "currency": "EUR", "posted_at": (t0 + timedelta(minutes=pid)).isoformat().replace("+00:00", "Z"),
                "lang": s.lang, "media": media,
            }
            fp.write(json.dumps(post, ensure_ascii=False) + "\n")
            ft.write(json.dumps({"url": url, "seller": sid}) + "\n")
    meta = {"posts": pid, "sellers": n_sellers, "seed": seed, "agency_numbers": len(pools["agency"]),
            "stock_photos": len(pools["stock"])}
    (out_dir / "meta.json").write_text(json.dumps(meta, indent=2))
    return meta


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--posts", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("-o", "--out", type=Path, required=True)
    a = ap.parse_args()
    print(json.dumps(generate(a.posts, a.seed, a.out)))


if __name__ == "__main__":
    main()
