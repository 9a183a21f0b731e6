"""``google.colab.userdata``: read the secrets of the Secrets panel (the key icon).

``get(key)`` asks Dikte's server over the runtime channel. The server answers only for this
runtime's person, and only with a secret whose "Notebook access" is on for this notebook, as
Colab's ``GetSecret`` does. Unlike Colab, nothing prompts in the browser when access is missing:
``NotebookAccessError`` says where to turn it on, and the next call succeeds once it is. It works
from any client (the web app, the CLI, a notebook with no browser open), since no page is asked.
Under ``dikte run`` (no server) the secrets are those given with ``--secret NAME``.
"""

from __future__ import annotations

import json
import os
import re
import threading
import urllib.parse

from . import _channel, errors

__all__ = ["NotebookAccessError", "SecretNotFoundError", "get"]


class NotebookAccessError(Exception):
    """This notebook has not been granted access to the secret (as in Colab, not an
    ``errors.Error``)."""

    def __init__(self, key: str, message: str | None = None) -> None:
        super().__init__(message or f"Notebook does not have access to secret {key}")
        self.key = key


class SecretNotFoundError(errors.Error):
    """There is no secret of this name."""

    def __init__(self, key: str, message: str | None = None) -> None:
        super().__init__(message or f"Secret {key} does not exist.")
        self.key = key


_lock = threading.Lock()
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,99}")  # what the Secrets panel accepts


def get(key: str) -> str:
    """The value of the secret ``key``.

    Raises ``SecretNotFoundError`` when you have no such secret, ``NotebookAccessError`` when
    its Notebook access is off for this notebook, and ``MessageError`` (as Colab's
    ``_message.MessageError``) when Dikte's server cannot be reached."""
    name = str(key)
    if not _NAME.fullmatch(name):
        raise SecretNotFoundError(name, f"Secret {name} does not exist: a secret's name is 1 to "
                                  "100 letters, digits, _ . or -, starting with a letter or _.")
    given = os.environ.get("DIKTE_RUN_SECRETS")
    if given is not None:  # `dikte run`: the secrets of its --secret options
        value = json.loads(given).get(name)
        if value is None:
            raise SecretNotFoundError(name, f"Secret {name} does not exist: this is a `dikte run` "
                                      f"run; give it with --secret {name} (from the environment "
                                      f"variable {name}) or --secret {name}=VARIABLE.")
        return str(value)
    with _lock:  # one request at a time, as Colab's blocking_request
        reply = _channel.call("GET", f"/secrets/{urllib.parse.quote(name, safe='')}",
                              what="userdata.get()")
    if not reply.get("exists"):
        raise SecretNotFoundError(name, reply.get("message"))
    if not reply.get("access"):
        raise NotebookAccessError(name, reply.get("message"))
    return str(reply.get("value") or "")
