"""Fixtures of the audience tests: the engine's SMTP sink and mailing maker."""

from apps.mailings.tests.conftest import fast_retries, make_mailing, sink

__all__ = ["fast_retries", "make_mailing", "sink"]
