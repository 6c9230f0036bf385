"""Throughput of matchers.extract.extract on generated, realistic posts.

Usage: .venv/bin/python bench/extract_throughput.py [N] [--seed S]

Generates N posts (default 20,000) of 50-1,500 characters mixing French,
English, Arabic, Darija in Latin script, Spanish, Turkish, Persian and Russian
sentences, with identifiers in about half of them (fictional phone numbers in
many written forms, handles, links, emails, prices, IBANs, wallets, places).
Prints import time (startup, excluded), the number of posts, total characters,
posts/s and µs/post for extract() alone, on one core (single process).
"""

from __future__ import annotations

import random
import statistics
import sys
import time

SENTENCES = [
    "Bonjour, je propose des rendez-vous disponibles rapidement pour vos démarches.",
    "Rdv préfecture de Bobigny dispo cette semaine, paiement après confirmation.",
    "Je cherche de l'aide pour renouveler mon titre de séjour, quelqu'un a une astuce ?",
    "La prise de rendez-vous est gratuite, ne payez jamais un intermédiaire.",
    "Available appointments at the visa center, fast and guaranteed, contact me.",
    "I paid 120 euros to a guy and never got anything, be careful everyone.",
    "مواعيد متوفرة في مركز التأشيرات، تواصل معي عبر الواتساب",
    "كاين موعد فالقنصلية، الثمن مناسب، اتصل بيا",
    "salam khouya kayn rdv tls casa, 3ndi blasa had simana, twasel m3aya",
    "Citas disponibles para BLS, precio negociable, escríbeme por privado.",
    "Vize randevusu satılık, hızlı ve garantili, bana yazın.",
    "نوبت سفارت موجود است، برای اطلاعات بیشتر پیام دهید",
    "Запись в визовый центр, быстро и надежно, пишите в личку.",
    "Merci à tous pour vos conseils, j'ai finalement obtenu mon récépissé.",
    "Article : la revente de créneaux de rendez-vous en préfecture se développe.",
    "Vends canapé trois places en bon état, à récupérer sur place.",
    "Le cabinet d'avocats vous accompagne dans vos démarches de naturalisation.",
    "Service premium du prestataire officiel : 35 € pour un créneau en salon.",
    "Livraison rapide dans toute la France, discrétion assurée.",
    "Je suis disponible le soir après 18h, envoyez un message.",
]
IDS = [
    "Tel 06 39 98 {a:02d} {b:02d}",
    "☎ 0️⃣6️⃣ 3️⃣9️⃣ 9️⃣8️⃣ {a:02d} {b:02d}",
    "WhatsApp +33 6 39 98 {a:02d} {b:02d}",
    "wa.me/336399{a:02d}{b:02d}",
    "https://t.me/rdv_pref{a}",
    "@rdvpref{a}{b}",
    "snap: rdv.pref{a}",
    "insta: rdv_pref{b}",
    "contact: rdv{a}@seller.example",
    "rdv{a} [at] seller [dot] example",
    "prix {a}0 €",
    "{a}00 DH",
    "٠٦٣٩٩٨{a:02d}{b:02d}",
    "zéro six trente-neuf quatre-vingt-dix-huit douze {a}",
    "01.99.00.{a:02d}.{b:02d}",
    "https://rdv-pref{a}.example/offre?id={b}",
    "FR76 3000 6000 0112 3456 7890 189",
    "USDT TRC20: TJCnKsPa7y5okkXvQAidZBzqx3QyQ6sxMW",
    "TLS Casa",
    "préfecture de Créteil",
    "commande n° 2026{a:02d}{b:02d}1234 le 22/11/2026",
]


def make_posts(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    posts = []
    for _ in range(n):
        target = int(min(1500, max(50, rng.lognormvariate(5.6, 0.8))))
        parts: list[str] = []
        size = 0
        while size < target:
            if rng.random() < 0.18:
                frag = rng.choice(IDS).format(a=rng.randint(10, 99), b=rng.randint(10, 99))
            else:
                frag = rng.choice(SENTENCES)
            parts.append(frag)
            size += len(frag) + 1
        posts.append(" ".join(parts)[:1500])
    return posts


def main(argv: list[str]) -> None:
    n = int(argv[1]) if len(argv) > 1 and argv[1].isdigit() else 20_000
    seed = int(argv[argv.index("--seed") + 1]) if "--seed" in argv else 1
    t0 = time.perf_counter()
    from matchers.extract import extract

    extract("warm up 06 39 98 12 34 préfecture de Bobigny 150 €")
    t_import = time.perf_counter() - t0
    posts = make_posts(n, seed)
    chars = sum(map(len, posts))
    runs = []
    cpu = []
    total_entities = 0
    for _ in range(3):
        t = time.perf_counter()
        c = time.process_time()
        total_entities = sum(len(extract(p)) for p in posts)
        runs.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    best = min(runs)
    print(f"startup (imports + gazetteer): {t_import:.2f} s")
    print(f"posts: {n}, mean length {chars / n:.0f} chars, entities found: {total_entities}")
    print(f"extract: {n / best:,.0f} posts/s (best of 3; median {n / statistics.median(runs):,.0f}), "
          f"{best / n * 1e6:.1f} µs/post")
    print(f"CPU time: {n / min(cpu):,.0f} posts/s, {min(cpu) / n * 1e6:.1f} µs/post "
          f"(wall and CPU differ when the machine is shared)")


if __name__ == "__main__":
    main(sys.argv)
