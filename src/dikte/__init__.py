"""Dikte: a self-hosted notebook platform in the spirit of Google Colab."""

__version__ = "0.1.0"
