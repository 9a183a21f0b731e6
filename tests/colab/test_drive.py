"""``google.colab.drive`` in a real sandboxed runtime: the drive is always at
/content/drive/MyDrive, and mount() behaves as Colab's does around it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from dikte.runtimes.base import RuntimeHandle
from dikte.runtimes.local import LocalBackend
from tests.colab.cells import run_cell
from tests.runtimes.runtime_helpers import kernel

Start = Callable[..., Awaitable[RuntimeHandle]]
IMPORT = "from google.colab import drive\n"


async def test_mounting_the_drive_where_colab_does(sandboxed: Start,
                                                   local_backend: LocalBackend) -> None:
    handle = await sandboxed()
    async with kernel(handle) as k:
        first = (await run_cell(k, IMPORT + "drive.mount('/content/drive')")).ok()
        again = (await run_cell(k, "drive.mount('/content/drive', timeout_ms=5000)")).ok()
        forced = (await run_cell(k, "drive.mount('/content/drive', force_remount=True)")).ok()
        seen = (await run_cell(k, "print(open('/content/drive/MyDrive/hello.txt').read())")).ok()
    assert first == "Mounted at /content/drive\n"
    assert again == ("Drive already mounted at /content/drive; to attempt to forcibly remount, "
                     'call drive.mount("/content/drive", force_remount=True).\n')
    assert forced == "Mounted at /content/drive\n"
    assert seen == "hello from the drive\n"
    # a kernel restart does not unmount (as in Colab): "Restart and run all" says so
    restarted = await local_backend.restart_kernel(handle)
    async with kernel(restarted) as k:
        out = (await run_cell(k, IMPORT + "drive.mount('/content/drive')")).ok()
    assert out.startswith("Drive already mounted at /content/drive;")


async def test_mounting_elsewhere_reaches_the_same_drive(sandboxed: Start, drive: Path) -> None:
    handle = await sandboxed()
    async with kernel(handle) as k:
        out = (await run_cell(k, IMPORT +
                              "drive.mount('/content/gdrive')\n"
                              "print(open('/content/gdrive/MyDrive/hello.txt').read())\n"
                              "open('/content/gdrive/MyDrive/via_gdrive.txt', 'w').write('ok')\n"
                              "import os; os.chdir('/content')\n"
                              "drive.mount('mnt')\n"
                              "print(sorted(os.listdir('/content/mnt/MyDrive')))")).ok()
    assert out.splitlines() == ["Mounted at /content/gdrive", "hello from the drive",
                                "Mounted at mnt", "['hello.txt', 'via_gdrive.txt']"]
    assert (drive / "via_gdrive.txt").read_text() == "ok"


async def test_colabs_rules_for_the_mountpoint(sandboxed: Start) -> None:
    handle = await sandboxed()
    cases = {
        "'/content/my drive'": "Mountpoint must not contain a space.",
        "'/content/full'": "Mountpoint must not already contain files",
        "'/content/link'": "Mountpoint must not be a symlink",
        "'/content/file.txt'": "Mountpoint must either be a directory or not exist",
        "'/content/no/such/parent'": "Mountpoint must be in a directory that exists",
        "'/content/drive/MyDrive/sub'": "Mountpoint must not be inside the drive itself",
        "'/content/x', timeout_ms=-1": "timeout_ms must be a positive number of milliseconds, "
                                       "not -1",
    }
    async with kernel(handle) as k:
        (await run_cell(k, IMPORT + "import os\nos.makedirs('/content/full/a')\n"
                               "os.symlink('/tmp', '/content/link')\n"
                               "open('/content/file.txt', 'w').close()")).ok()
        for args, message in cases.items():
            ran = await run_cell(k, f"drive.mount({args})")
            assert (ran.ename, ran.evalue) == ("ValueError", message), args


async def test_readonly_is_accepted_and_says_it_is_not_enforced(sandboxed: Start) -> None:
    handle = await sandboxed()
    async with kernel(handle) as k:
        ran = await run_cell(k, IMPORT + "drive.mount('/content/drive', readonly=True)")
    assert ran.ok() == "Mounted at /content/drive\n"
    assert ran.stderr == ("Note: readonly=True is not enforced in Dikte; your drive stays "
                          "writable, so take care not to change files you only meant to read.\n")


async def test_flush_and_unmount(sandboxed: Start, drive: Path) -> None:
    handle = await sandboxed()
    async with kernel(handle) as k:
        before = (await run_cell(k, IMPORT + "drive.flush_and_unmount()")).ok()
        (await run_cell(k, "drive.mount('/content/drive'); drive.mount('/content/gdrive')\n"
                           "open('/content/drive/MyDrive/late.txt', 'w').write('flushed')")).ok()
        flushed = await run_cell(k, "drive.flush_and_unmount()")
        after = (await run_cell(k, "import os\n"
                                   "print(os.listdir('/content/gdrive'), "
                                   "os.path.isdir('/content/drive/MyDrive'))\n"
                                   "drive.flush_and_unmount()\n"
                                   "drive.mount('/content/drive')")).ok()
    assert before == "Drive not mounted, so nothing to flush and unmount.\n"
    assert (flushed.ok(), flushed.stderr) == ("", "")  # silent when it worked, as in Colab
    assert after.splitlines() == ["[] True", "Drive not mounted, so nothing to flush and unmount.",
                                  "Mounted at /content/drive"]
    assert (drive / "late.txt").read_text() == "flushed"


async def test_the_legacy_my_drive_path_is_the_same_drive(sandboxed: Start, drive: Path) -> None:
    """Old notebooks write to /content/drive/My Drive, which Colab still has."""
    handle = await sandboxed()
    async with kernel(handle) as k:
        out = (await run_cell(k, "open('/content/drive/My Drive/legacy.txt', 'w').write('old')\n"
                                 "print(open('/content/drive/MyDrive/legacy.txt').read())")).ok()
    assert out == "old\n"
    assert (drive / "legacy.txt").read_text() == "old"


async def test_cv2_imshow_shows_a_png_in_rgb_order(sandboxed: Start) -> None:
    handle = await sandboxed()
    code = (
        "import struct, zlib\nimport numpy as np\n"
        "from google.colab.patches import cv2_imshow\n"
        "shown = []\n"
        "import IPython.display as d\n"
        "real = d.display\n"
        "d.display = lambda obj, **kw: shown.append(obj)\n"
        "bgr = np.zeros((2, 3, 3), dtype=np.int32)\n"
        "bgr[..., 0] = 300  # blue, past 255: clipped as Colab does\n"
        "cv2_imshow(bgr)\n"
        "d.display = real\n"
        "png = shown[0].data\n"
        "assert png.startswith(b'\\x89PNG\\r\\n\\x1a\\n')\n"
        "w, h = struct.unpack('>II', png[16:24])\n"
        "idat = png[png.index(b'IDAT') + 4:png.index(b'IEND') - 8]\n"
        "rows = zlib.decompress(idat)\n"
        "print(w, h, list(rows[1:4]))\n"
        "try:\n    cv2_imshow(np.zeros((4,)))\nexcept ValueError as e:\n    print(e)\n"
        "cv2_imshow(np.full((5, 5), 128))\n"
    )
    async with kernel(handle) as k:
        ran = await run_cell(k, code)
    lines = ran.ok().splitlines()
    assert lines[0] == "3 2 [0, 0, 255]"  # blue in BGR is the last channel in RGB
    assert "this array's shape is (4,)" in lines[1]
    assert ran.results == ["<IPython.core.display.Image object>"]  # a real PNG output
