"""Each package re-exports its public names from `__init__`, with a sorted `__all__`."""

import importlib

import pytest


@pytest.mark.parametrize("package", ["servers", "simulator", "synthesizer", "evaluation"])
def test_all_is_sorted_and_complete(package):
    module = importlib.import_module(package)
    assert module.__all__ == sorted(module.__all__)
    for name in module.__all__:
        assert hasattr(module, name), f"{package}.{name} is in __all__ but missing"
