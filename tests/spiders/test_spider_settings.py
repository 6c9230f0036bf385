"""Checks that stand in for Scrapy settings veille switches off for their cost."""


def test_no_spider_callback_returns_a_value_from_a_generator():
    """What Scrapy's WARN_ON_GENERATOR_RETURN_VALUE checks at every response (switched off in
    spiders/settings.py for its cost) is checked here once, on every veille spider's methods."""
    import inspect

    from scrapy.utils.misc import is_generator_with_return_value, walk_modules_iter
    from scrapy.utils.spider import iter_spider_classes

    from spiders import settings

    assert settings.WARN_ON_GENERATOR_RETURN_VALUE is False
    checked = 0
    for mod in walk_modules_iter("spiders.sites"):
        for cls in iter_spider_classes(mod):
            for name, fn in inspect.getmembers(cls, inspect.isfunction):
                if fn.__module__.startswith("spiders.") and inspect.isgeneratorfunction(fn):
                    assert not is_generator_with_return_value(fn), f"{cls.__name__}.{name} returns a value"
                    checked += 1
    assert checked >= 5  # parse_listing, parse_ad, parse_search, parse_ad_json, parse …


def test_quiet_loggers_stops_dropped_debug_records_before_they_are_built():
    import logging

    from spiders.run import quiet_loggers

    names = ("scrapy", "veille")
    saved = {n: logging.getLogger(n).level for n in names}
    try:
        quiet_loggers("WARNING")
        for child in ("scrapy.core.engine", "scrapy.core.scraper", "veille.spiders.pipelines"):
            lg = logging.getLogger(child)
            assert not lg.isEnabledFor(logging.DEBUG) and not lg.isEnabledFor(logging.INFO)
            assert lg.isEnabledFor(logging.WARNING)
        quiet_loggers("INFO")  # --verbose
        assert logging.getLogger("scrapy.core.engine").isEnabledFor(logging.INFO)
        assert not logging.getLogger("scrapy.core.engine").isEnabledFor(logging.DEBUG)
    finally:
        for n, lv in saved.items():
            logging.getLogger(n).setLevel(lv)
