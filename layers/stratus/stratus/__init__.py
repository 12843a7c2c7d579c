"""Stratus: a serverless, Mixpeek-compatible namespace and vector-search API."""

__version__ = "0.1.0"
