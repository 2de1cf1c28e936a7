"""The package version: one literal, read by setuptools (pyproject.toml) and at run time."""

__version__ = "0.1.0"
