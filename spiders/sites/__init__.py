"""Spiders: the generic profile spider, one class per shipped profile, and per-site spiders."""
