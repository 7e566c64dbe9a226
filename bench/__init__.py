"""Benchmarks: `python bench/run.py [--quick] [--json PATH]` (see BENCHMARKS.md)."""
