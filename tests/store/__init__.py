"""The store's contract suite (a package, so its conftest does not shadow tests/conftest.py)."""
