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
