"""``google.colab.syntax``: marks a string's language for the editor; returns it unchanged."""

from __future__ import annotations

__all__ = ["css", "html", "javascript", "sql"]


def html(s: str) -> str:
    return s


def javascript(s: str) -> str:
    return s


def sql(s: str) -> str:
    return s


def css(s: str) -> str:
    return s
