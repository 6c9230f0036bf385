"""One spider class per shipped profile, so that ``scrapy list`` / ``scrapy crawl leboncoin`` work.

Profiles that name their own spider (``spider = "ouedkniss"``) get it from
``spiders/sites/<name>.py`` instead.
"""

from __future__ import annotations

from ..profile import list_profiles, load_profile
from .profile_spider import ProfileSpider


def _make(name: str) -> type[ProfileSpider]:
    return type(f"{name.title().replace('_', '')}Spider", (ProfileSpider,),
                {"name": name, "profile_name": name, "__module__": __name__})


for _name in list_profiles():
    if load_profile(_name).spider == "profile":
        globals()[f"{_name.title().replace('_', '')}Spider"] = _make(_name)
