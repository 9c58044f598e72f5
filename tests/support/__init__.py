"""Plain helpers shared by the suites: tests and conftests import from here, never from a
conftest. Fixtures live in `tests/conftest.py` (shared) or a folder's own `conftest.py`."""
