"""Helpers shared by the test directories (importable: pyproject puts tests/ on sys.path)."""
