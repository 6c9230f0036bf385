"""The shipped lexicon is compiled once per process, even when threads ask for it at the same time
(a crawl's writer process warms it up in a thread while its database thread classifies the first ads)."""

import importlib
import threading
import time

C = importlib.import_module("matchers.classify")


def test_threads_asking_at_once_compile_the_lexicon_once(monkeypatch):
    compiled = C.get_lexicon()  # the real one, to hand back
    calls = []

    def slow_load(directory=None):
        calls.append(threading.get_ident())
        time.sleep(0.2)  # long enough for every thread to arrive while the first one compiles
        return compiled

    monkeypatch.setattr(C, "_LEX", None)
    monkeypatch.setattr(C, "load_lexicon", slow_load)
    got = []
    threads = [threading.Thread(target=lambda: got.append(C.get_lexicon())) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and len(got) == 4 and all(g is compiled for g in got)
