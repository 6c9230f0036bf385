"""Throughput of classify + extract on generated posts (a benchmark, not a test).

Generates N posts (default 100,000) of 50-1,500 characters in mixed languages
(French 35 %, English 15 %, Arabic/Darija 15 %, Spanish 10 %, Russian 10 %,
Turkish 8 %, Persian 7 %; each post in one language with 10 % code-switching,
or every language in every post with --mix), built from offer, hard-negative
and filler sentences, with some obfuscation (zero-
width characters, leetspeak, spaced letters, emoji, look-alike letters) and
fictional phone numbers, then times ``classify`` and ``extract`` on one core.

Startup (importing the matchers, compiling the lexicons and the main pass's
narrower patterns, the extractor's first call) is measured separately and
excluded from the throughput. The classify-only and extract-only passes run
first and also warm the matchers' bounded caches for the passes after them.

Classify + extract is timed two ways, in ``--rounds`` alternating rounds
(interleaved, batched, interleaved, batched ...: an hour's drift on a shared
machine hits both), each figure the median of its rounds, in posts per
CPU-second (``time.process_time``; wall-clock figures are printed too), and
the batched path's speed-up as the median over rounds of its run against the
same round's interleaved run (less sensitive to drift than the two medians):

- **interleaved**: ``classify(p); extract(p)`` post by post (what the crawl's
  storage writer and ``storage.ingest.ingest`` do, one post at a time);
- **batched**: ``matchers.batch.analyse_many(posts, chunk=C)``: classify over a
  chunk of C posts, then extract over the same chunk, with per-post, per-stage
  failure isolation (the path of every bulk ingestion: ``ingest_many``,
  ``veille classify``, re-classification, the daily run). Default C is
  ``matchers.batch.CHUNK``.

``--chunks 64,128,256,512,1024`` times the batched path at each chunk size
instead, rotating the order of the sizes (and the interleaved run) every round.

The interleaved loop drops each result at once, so it triggers almost no
garbage collection; the batched path keeps a chunk's results alive until the
chunk is done (as ingestion keeps a batch's results until it commits), which
costs it a few per cent of collections (docs/classifier.md, "Bulk analysis").

    .venv/bin/python bench/classify_throughput.py            # 100k posts, 3 rounds
    .venv/bin/python bench/classify_throughput.py -n 20000 --json
    .venv/bin/python bench/classify_throughput.py -n 30000 --rounds 5 --chunks 64,128,256,512,1024
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import time
from pathlib import Path

try:
    import resource
except ImportError:  # pragma: no cover - not on Windows
    resource = None

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# (language, text) pools; a post is written in one language (see make_posts). Filler sentences are
# neutral text; the hard negatives are in NEGATIVES.
OFFERS = [
    ("fr", "RDV préfecture dispo cette semaine, 60€, contactez moi au 06 39 98 {a} {b}"),
    ("fr", "Vente rendez-vous VFS Global Alger, visa France, 15000 DA, WhatsApp +33 6 39 98 {a} {b}"),
    ("en", "We book your embassy appointment in 48 hours, guaranteed, DM on telegram @slots_{a}"),
    ("es", "Vendo cita extranjería huellas Madrid 50 euros, escríbeme"),
    ("tr", "Hızlı vize randevusu alınır, fiyat 150 Euro, DM"),
    ("ar", "kayn rdv TLS Rabat, taman 1200dh, sift f lkhas"),
    ("ar", "مواعيد الفيزا متوفرة، الثمن 1500 درهم، راسلوني واتساب"),
    ("fa", "نوبت سفارت فرانسه فوری، قیمت ۱۵ میلیون تومان"),
    ("ru", "Продам запись в визовый центр, недорого, пишите в лс"),
    ("fr", "Vends faux passeport et fausse carte d'identité, livraison rapide, contact rdv{a}@mail.example"),
    ("en", "Buy real and fake passports, ID cards and driving licences, registered, https://docs-{a}.example/shop"),
    ("ru", "Купить паспорт с проводкой по базе, доставка"),
]
NEGATIVES = [
    ("fr", "Je cherche un rendez-vous à la préfecture depuis deux mois, quelqu'un peut m'aider ?"),
    ("fr", "Attention : la prise de rendez-vous est gratuite, ne payez jamais un intermédiaire."),
    ("fr", "J'ai payé 120 € à un homme pour avoir un rendez-vous, c'était une arnaque."),
    ("en", "Appointments at the visa centre are free of charge. Never pay intermediaries."),
    ("en", "Police arrested a gang selling fake passports for 3000 euros each."),
    ("es", "Busco cita para extranjería, alguien sabe cómo conseguirla?"),
    ("fr", "Terrain à vendre avec titre foncier, 500 m², 45000 €, tel 01 99 00 {a} {b}"),
    ("fr", "Location studio meublé 550€/mois, pièce d'identité demandée."),
    ("ar", "أبحث عن موعد في القنصلية الفرنسية، هل من مساعدة؟"),
    ("tr", "Vize randevusu bulamıyorum, nasıl alabilirim? Yardım lütfen"),
    ("ru", "Подскажите, как записаться в визовый центр?"),
    ("fa", "کسی میدونه چطور نوبت سفارت بگیرم؟"),
]
FILLER = [
    ("fr", "Bonjour à tous, j'espère que vous allez bien."),
    ("fr", "Le marché du quartier ouvre samedi matin avec des produits frais."),
    ("fr", "Merci de partager autour de vous."),
    ("fr", "Vends canapé trois places en bon état, à récupérer sur place."),
    ("fr", "Cours de guitare pour débutants, le mercredi après-midi."),
    ("en", "The weather was nice and the train was on time for once."),
    ("en", "Please read the group rules before posting anything."),
    ("es", "El fin de semana fuimos a la playa con la familia."),
    ("es", "Mañana hay partido en el estadio, nos vemos allí."),
    ("tr", "Hafta sonu hava çok güzeldi, parkta yürüdük."),
    ("ar", "السلام عليكم، كيف حالكم جميعا؟"),
    ("ar", "الجو جميل اليوم والحمد لله، نتمنى لكم عطلة سعيدة."),
    ("fa", "سلام به همه دوستان عزیز"),
    ("ru", "Всем привет, хорошего дня!"),
    ("ru", "Сегодня хорошая погода, гуляли в парке с детьми."),
]
LANG_WEIGHTS = {"fr": 35, "en": 15, "es": 10, "ar": 15, "tr": 8, "fa": 7, "ru": 10}
ZW = "\u200b"


def _obfuscate(s: str, rnd: random.Random) -> str:
    k = rnd.random()
    words = s.split(" ")
    i = rnd.randrange(len(words))
    w = words[i]
    if len(w) < 4:
        return s
    if k < 0.25:
        w = ZW.join(w)
    elif k < 0.5:
        w = w[0] + w[1:-1].replace("e", "3").replace("a", "@").replace("o", "0") + w[-1]
    elif k < 0.7:
        w = " ".join(w)
    elif k < 0.85:
        w = "🔥".join(w)
    else:
        w = w.replace("a", "а").replace("o", "о").replace("e", "е")  # Cyrillic look-alikes
    words[i] = w
    return " ".join(words)


def make_posts(n: int, seed: int = 42, mix: bool = False) -> list[str]:
    """n posts; each in one language (weights LANG_WEIGHTS) with 10 % code-switching, or, with
    ``mix``, sentences of every language in every post (the first version of this benchmark)."""
    rnd = random.Random(seed)
    langs = list(LANG_WEIGHTS)
    weights = [LANG_WEIGHTS[x] for x in langs]

    def pick(pool, lang):
        if mix or rnd.random() < 0.1:
            return rnd.choice(pool)[1]
        return rnd.choice([x for x in pool if x[0] == lang] or pool)[1]

    posts = []
    for _ in range(n):
        lang = rnd.choices(langs, weights)[0]
        target = rnd.randint(50, 1500)
        parts: list[str] = []
        kind = rnd.random()
        if kind < 0.3:
            parts.append(pick(OFFERS, lang))
        elif kind < 0.6:
            parts.append(pick(NEGATIVES, lang))
        size = sum(len(p) for p in parts)
        while size < target:
            p = pick(FILLER, lang)
            parts.insert(rnd.randrange(len(parts) + 1), p)
            size += len(p) + 1
        text = " ".join(parts).format(a=f"{rnd.randrange(100):02d}", b=f"{rnd.randrange(100):02d}")
        if rnd.random() < 0.3:
            text = _obfuscate(text, rnd)
        posts.append(text[:target] if len(text) > target else text)
    return posts


def _median(xs: list[float]) -> float:
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=100_000, help="number of posts (default 100000)")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    ap.add_argument("--no-pin", action="store_true", help="do not pin the process to one CPU")
    ap.add_argument("--mix", action="store_true",
                    help="put sentences of every language in every post (harder on normalisation)")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds of interleaved and batched (default 3)")
    ap.add_argument("--chunk", type=int, default=None, help="chunk size of the batched path (default matchers.batch.CHUNK)")
    ap.add_argument("--chunks", default=None, help="comma-separated chunk sizes to compare (e.g. 64,128,256,512,1024)")
    args = ap.parse_args()
    if not args.no_pin and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})

    t0 = time.perf_counter()
    from matchers import classify, extract
    from matchers.batch import CHUNK, analyse_many
    from matchers.classify import get_lexicon

    lex = get_lexicon()
    if hasattr(lex, "compile_scan_variants"):  # the main pass's narrower patterns, compiled lazily otherwise
        lex.compile_scan_variants()
    classify("RDV préfecture dispo 50€")
    extract("RDV préfecture dispo 50€ +33 6 39 98 00 12")
    startup = time.perf_counter() - t0

    posts = make_posts(args.n, mix=args.mix)
    chars = sum(len(p) for p in posts)
    n = len(posts)

    def run(fn) -> tuple[float, float]:
        w0, c0 = time.perf_counter(), time.process_time()
        for p in posts:
            fn(p)
        return time.perf_counter() - w0, time.process_time() - c0

    def interleaved() -> tuple[float, float]:
        w0, c0 = time.perf_counter(), time.process_time()
        for p in posts:
            classify(p)
            extract(p)
        return time.perf_counter() - w0, time.process_time() - c0

    def batched(size: int) -> tuple[float, float]:
        w0, c0 = time.perf_counter(), time.process_time()
        for o in analyse_many(posts, chunk=size):
            if o.classify_error is not None or o.extract_error is not None:
                raise RuntimeError(f"a stage failed: {o.errors()}")
        return time.perf_counter() - w0, time.process_time() - c0

    wall_c, cpu_c = run(classify)  # these two passes also warm the matchers' caches for the rounds below
    wall_e, cpu_e = run(extract)
    sizes = [int(x) for x in args.chunks.split(",")] if args.chunks else [args.chunk or CHUNK]
    modes: list[str | int] = ["interleaved", *sizes]
    per_mode: dict[str | int, list[tuple[float, float]]] = {m: [] for m in modes}
    for r in range(args.rounds):
        order = modes[r % len(modes):] + modes[:r % len(modes)] if args.chunks else modes
        for m in order:
            per_mode[m].append(interleaved() if m == "interleaved" else batched(int(m)))
    cats: dict[str, int] = {}
    for p in posts[:5000]:
        c = classify(p).category
        cats[c] = cats.get(c, 0) + 1

    def rates(m) -> dict:
        xs = per_mode[m]
        out = {"cpu_posts_per_s_median": round(_median([n / c for _, c in xs])),
               "posts_per_s_median": round(_median([n / w for w, _ in xs])),
               "cpu_posts_per_s_rounds": [round(n / c) for _, c in xs]}
        if m != "interleaved":  # CPU time of the same round's interleaved run / this run's, minus 1
            out["speedup_same_round_median"] = round(
                _median([i[1] / c - 1 for (_, c), i in zip(xs, per_mode["interleaved"], strict=True)]), 3)
        return out

    inter = rates("interleaved")
    fig = {
        "posts": n, "mean_chars": round(chars / n), "lexicon": lex.version,
        "languages": "every language in every post" if args.mix else "one language per post, 10 % code-switching",
        "startup_s": round(startup, 3), "rounds": args.rounds,
        "classify_posts_per_s": round(n / wall_c), "extract_posts_per_s": round(n / wall_e),
        "classify_cpu_posts_per_s": round(n / cpu_c), "extract_cpu_posts_per_s": round(n / cpu_e),
        "classify_extract_posts_per_s": inter["posts_per_s_median"],
        "classify_extract_cpu_posts_per_s": inter["cpu_posts_per_s_median"],
        "classify_extract_cpu_posts_per_s_rounds": inter["cpu_posts_per_s_rounds"],
        "classify_extract_mb_per_s": round(chars * inter["posts_per_s_median"] / n / 1e6, 2),
        "batched": {str(m): {"chunk": m, **rates(m)} for m in sizes},
        "categories_first_5000": cats,
        "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024) if resource else None,
        "load_average_1min": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python "
                   f"{platform.python_version()}, pinned to one CPU: {not args.no_pin}",
    }
    if len(sizes) == 1:
        b = fig["batched"][str(sizes[0])]
        fig["batched_chunk"] = sizes[0]
        fig["batched_cpu_posts_per_s"] = b["cpu_posts_per_s_median"]
        fig["batched_posts_per_s"] = b["posts_per_s_median"]
    if args.json:
        print(json.dumps(fig, indent=2))
        return
    print(f"{fig['posts']} posts, mean {fig['mean_chars']} chars, {fig['languages']}, lexicon {fig['lexicon']}")
    print(f"startup (imports, lexicon compile, first calls): {fig['startup_s']} s")
    print(f"classify:           {fig['classify_posts_per_s']:>8} posts/s ({fig['classify_cpu_posts_per_s']} per CPU-second)")
    print(f"extract:            {fig['extract_posts_per_s']:>8} posts/s ({fig['extract_cpu_posts_per_s']} per CPU-second)")
    print(f"classify + extract, medians of {args.rounds} alternating rounds:")
    print(f"  interleaved per post: {fig['classify_extract_posts_per_s']:>8} posts/s "
          f"({fig['classify_extract_cpu_posts_per_s']} per CPU-second, {fig['classify_extract_mb_per_s']} MB/s; "
          f"rounds {inter['cpu_posts_per_s_rounds']})")
    for m in sizes:
        b = fig["batched"][str(m)]
        print(f"  batched, chunk {m:>5}: {b['posts_per_s_median']:>8} posts/s ({b['cpu_posts_per_s_median']} per "
              f"CPU-second, {b['cpu_posts_per_s_median'] / inter['cpu_posts_per_s_median'] - 1:+.1%}; "
              f"rounds {b['cpu_posts_per_s_rounds']}; against the same round's interleaved run, median "
              f"{b['speedup_same_round_median']:+.1%})")
    print(f"categories (first 5000): {cats}")
    print(f"max RSS {fig['max_rss_mb']} MB; machine: {fig['machine']}; load average {fig['load_average_1min']} "
          "(wall-clock figures are only meaningful on an idle machine; per-CPU-second figures are less "
          "sensitive to other processes)")


if __name__ == "__main__":
    main()
