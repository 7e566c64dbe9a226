"""Helpers shared by test modules (scripted client sessions, ...), imported as `tests.helpers.<module>`."""
