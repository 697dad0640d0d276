"""One module a recipe; entry points are declared in setup.py."""
