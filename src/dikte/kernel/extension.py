"""The IPython extension every Dikte runtime loads at kernel start (``--ext``).

It makes Colab's magics behave as in a Colab notebook, or fail with one sentence:

- ``%shell`` / ``%%shell [--ignore-errors]``: run a command or the cell with bash, streaming its
  output; a non-zero exit raises ``subprocess.CalledProcessError`` (as in Colab).
- ``%tensorflow_version``: Colab no longer switches TensorFlow versions either; ``2.x`` (or no
  argument) prints a note and goes on, ``1.x`` fails with one sentence.
- ``%%bigquery`` / ``%%bqsql``: fail with one sentence (Dikte has no Google sign-in). Loading
  google-cloud-bigquery's own extension (``%load_ext google.cloud.bigquery``) replaces them.

and shows a :class:`~dikte.kernel.errors.NotOffered` error as its sentence alone, without a
traceback. It also lets packages installed under a namespace package that is already imported
(``google``, once ``google.colab`` is) import without a restart (:mod:`dikte.kernel.namespaces`).

Each part is set up on its own; a part that fails is reported on the kernel's log and the kernel
starts anyway (IPython itself also catches an extension that fails to load).
"""

from __future__ import annotations

import codecs
import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

from dikte.kernel import namespaces
from dikte.kernel.errors import NotOffered

TENSORFLOW_NOTE = ("Dikte runtimes have no TensorFlow version switch; %tensorflow_version has no "
                   "effect (the TensorFlow installed in the runtime is used; add one with "
                   "%pip install tensorflow).")
TENSORFLOW_1 = ("%tensorflow_version 1.x is not offered: TensorFlow 1.x does not run on current "
                "Python, so port the notebook to TensorFlow 2 (%pip install tensorflow).")
BIGQUERY = ("The %%bigquery magic is not offered: it needs Google sign-in, which Dikte does not "
            "have; %pip install google-cloud-bigquery and create a bigquery.Client from a "
            "service-account key kept in your secrets (google.colab.userdata) instead.")


class ShellResult:
    """What ``%shell`` returns: the command, its exit code and its output (as Colab's)."""

    def __init__(self, args: str, returncode: int, output: str) -> None:
        self.args = args
        self.returncode = returncode
        self.output = output

    def check_returncode(self) -> None:
        if self.returncode:
            raise subprocess.CalledProcessError(self.returncode, self.args, output=self.output)

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        """Shows nothing: the output was already streamed."""


def run_bash(script: str) -> ShellResult:
    """Run ``script`` with bash in the kernel's working directory, streaming its output."""
    proc = subprocess.Popen(["bash", "-c", script], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=os.getcwd())
    assert proc.stdout is not None
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    chunks: list[str] = []
    try:
        while chunk := os.read(proc.stdout.fileno(), 65536):
            text = decoder.decode(chunk)
            chunks.append(text)
            sys.stdout.write(text)
            sys.stdout.flush()
    except KeyboardInterrupt:
        proc.terminate()
        raise
    finally:
        proc.stdout.close()
        proc.wait()
    chunks.append(decoder.decode(b"", final=True))
    return ShellResult(script, proc.returncode, "".join(chunks))


def shell_line(line: str) -> ShellResult:
    result = run_bash(line)
    result.check_returncode()
    return result


def shell_cell(line: str, cell: str) -> None:
    result = run_bash(cell)
    if "--ignore-errors" not in line.split():
        result.check_returncode()


def tensorflow_version(line: str) -> None:
    wanted = line.strip()
    if wanted.startswith("1"):
        raise NotOffered(TENSORFLOW_1)
    print(TENSORFLOW_NOTE)


def bigquery(line: str, cell: str | None = None) -> None:
    raise NotOffered(BIGQUERY)


def register_magics(ipython: Any) -> None:
    ipython.register_magic_function(shell_line, magic_kind="line", magic_name="shell")
    ipython.register_magic_function(shell_cell, magic_kind="cell", magic_name="shell")
    ipython.register_magic_function(tensorflow_version, magic_kind="line",
                                    magic_name="tensorflow_version")
    for name in ("bigquery", "bqsql"):
        ipython.register_magic_function(bigquery, magic_kind="line_cell", magic_name=name)


def _sentence_only(shell: Any, etype: type[BaseException], value: BaseException, tb: Any,
                   tb_offset: int | None = None) -> list[str]:
    stb = [str(value)]
    shell._showtraceback(etype, value, stb)
    return stb


def show_not_offered_briefly(ipython: Any) -> None:
    ipython.set_custom_exc((NotOffered,), _sentence_only)


def find_new_namespace_folders(ipython: Any) -> None:
    namespaces.install()


SETUP: tuple[Callable[[Any], None], ...] = (show_not_offered_briefly, register_magics,
                                            find_new_namespace_folders)


def load_ipython_extension(ipython: Any) -> None:
    for step in SETUP:
        try:
            step(ipython)
        except Exception as exc:  # the kernel must start whatever happens here
            print(f"dikte.kernel.extension: {step.__name__} failed: {exc!r}", file=sys.__stderr__)
