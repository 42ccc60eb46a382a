"""Shared test settings: one hypothesis profile for the whole suite.

``derandomize=True`` makes every run draw the same examples, so CI is deterministic and
a failure seen once is seen again; ``print_blob=True`` prints the line that reproduces a
failing example. Choose another profile with ``HYPOTHESIS_PROFILE=dev`` (random draws, more
examples) when hunting for bugs locally.
"""
import os

from hypothesis import settings

settings.register_profile('ci', max_examples=30, deadline=None, derandomize=True, print_blob=True)
settings.register_profile('dev', max_examples=300, deadline=None, print_blob=True)
settings.load_profile(os.environ.get('HYPOTHESIS_PROFILE', 'ci'))


def pytest_configure(config):
    config.addinivalue_line('markers', 'slow: takes seconds (deselect with -m "not slow" while iterating)')
