"""slapkit: promise-based zc.buildout recipes for SlapOS instance profiles.

Importing this package is cheap on purpose: recipes and the runner live in
submodules that buildout loads through entry points.
"""

__version__ = "0.2.0.dev0"
