"""Version of the StacyVM Python SDK (read by pyproject.toml as well)."""

__version__ = "0.2.0"
