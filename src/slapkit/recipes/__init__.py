"""One module a recipe; entry points are declared in pyproject.toml."""
