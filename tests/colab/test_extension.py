"""Dikte's IPython extension in a real sandboxed runtime: Colab's magics, and Colab features
Dikte does not offer failing with one sentence and no traceback."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from dikte.kernel.extension import BIGQUERY, TENSORFLOW_1, TENSORFLOW_NOTE
from dikte.runtimes.base import RuntimeHandle
from tests.colab.cells import Ran, run_cell
from tests.runtimes.runtime_helpers import kernel

Start = Callable[..., Awaitable[RuntimeHandle]]

NOT_OFFERED = {
    "from google.colab import auth\nauth.authenticate_user()":
        "google.colab.auth.authenticate_user() is not offered: Dikte has no Google sign-in",
    "from google.colab import auth\nauth.authenticate_service_account()":
        "google.colab.auth.authenticate_service_account() is not offered",
    "from google.colab import sheets\nsheets.InteractiveSheet(title='x')":
        "google.colab.sheets is not offered",
    "from google.colab import ai\nai.generate_text('hello')": "google.colab.ai is not offered",
    "from google.colab import snippets\nsnippets.register('https://example.com/s.ipynb')":
        "google.colab.snippets.register() is not offered",
    "from google.colab import autoviz\nautoviz.quickchart(None)":
        "google.colab.autoviz.quickchart() is not offered",
    "%tensorflow_version 1.x": TENSORFLOW_1,
    "%%bigquery df\nSELECT 1": BIGQUERY,
    "%bqsql SELECT 1": BIGQUERY,
}


def one_sentence(ran: Ran) -> str:
    assert ran.status == "error" and ran.ename == "NotOffered", ran
    assert ran.traceback == [ran.evalue]  # the sentence alone: no traceback
    sentence = ran.evalue
    assert sentence.endswith(".") and sentence.count(". ") == 0 and "\n" not in sentence
    return sentence


async def test_colab_features_dikte_does_not_offer_fail_with_one_sentence(
        sandboxed: Start) -> None:
    handle = await sandboxed()
    async with kernel(handle) as k:
        for code, start in NOT_OFFERED.items():
            sentence = one_sentence(await run_cell(k, code))
            assert sentence.startswith(start), (code, sentence)
        # code that guards such calls as it would outside Colab keeps working
        guarded = await run_cell(k, "from google.colab import auth\ntry:\n"
                                    "    auth.authenticate_user()\n"
                                    "except NotImplementedError as e:\n    print('skipped')")
    assert guarded.ok() == "skipped\n"


async def test_tensorflow_version_2_is_a_note_as_in_colab(sandboxed: Start) -> None:
    handle = await sandboxed()
    async with kernel(handle) as k:
        out = (await run_cell(k, "%tensorflow_version 2.x\nprint('next line runs')")).ok()
    assert out.splitlines() == [TENSORFLOW_NOTE, "next line runs"]


async def test_shell_magics_run_bash_and_fail_on_a_non_zero_exit(sandboxed: Start) -> None:
    handle = await sandboxed()
    async with kernel(handle) as k:
        cell = (await run_cell(k, "%%shell\nx=bash; echo \"from $x\"; cd /tmp && pwd")).ok()
        line = await run_cell(k, "r = %shell echo one; echo two >&2\nprint(r.returncode, "
                                 "repr(r.output))")
        failed = await run_cell(k, "%%shell\necho before\nexit 3")
        ignored = await run_cell(k, "%%shell --ignore-errors\nexit 3")
        cwd = (await run_cell(k, "%cd /tmp\n%shell pwd")).ok()
    assert cell == "from bash\n/tmp\n"
    assert line.ok() == "one\ntwo\n0 'one\\ntwo\\n'\n"
    assert failed.stdout == "before\n" and failed.ename == "CalledProcessError"
    assert "returned non-zero exit status 3" in failed.evalue
    assert ignored.status == "ok"
    assert cwd.splitlines()[-1] == "/tmp"


async def test_the_small_modules_colab_notebooks_lean_on(sandboxed: Start) -> None:
    handle = await sandboxed()
    async with kernel(handle) as k:
        ran = await run_cell(k, "%load_ext google.colab.data_table\n"
                                "import pandas as pd\n"
                                "from google.colab import data_table, syntax, errors\n"
                                "import google.colab\n"
                                "data_table.enable_dataframe_formatter()\n"
                                "print(syntax.sql('SELECT 1'), issubclass(errors.AuthorizationError,"
                                " errors.Error), google.colab.drive.__name__)\n"
                                "data_table.DataTable(pd.DataFrame({'a': [1, 2]}), "
                                "include_index=False)")
        html = await run_cell(k, "_._repr_html_()")
    assert ran.ok() == "SELECT 1 True google.colab.drive\n"
    assert "<table" in html.results[0] and "<th>a</th>" in html.results[0]


async def test_home_and_its_caches_are_the_runtimes_even_with_the_image_under_root(
        sandboxed: Start) -> None:
    """An image may live under /root (the tests' own cache does): the folders made to mount it
    in the runtime's home belong to the runtime, so pip, jedi and matplotlib can keep caches
    there (a matplotlib that cannot writes a warning into the first cell that plots)."""
    handle = await sandboxed()
    async with kernel(handle) as k:
        ran = await run_cell(k, "import os, pathlib, sys\n"
                                "cache = pathlib.Path.home() / '.cache'\n"
                                "cache.mkdir(exist_ok=True)\n"
                                "(cache / 'probe').write_text('ok')\n"
                                "print(os.access(cache, os.W_OK), sys.prefix.startswith('/root'))")
    writable, under_root = ran.ok().split()
    assert writable == "True", (ran, under_root)
