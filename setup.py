# The metadata is in pyproject.toml (PEP 621). This shim lets older tools
# (pip's legacy editable mode, setuptools 67.8 as SlapOS software releases
# pin) build the package.
from setuptools import setup

setup()
