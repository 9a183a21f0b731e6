"""The unsandboxed backend (``--unsafe-no-sandbox``) keeps the same contract."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

from dikte.runtimes.base import Alive, RuntimeSpec
from dikte.runtimes.persist import instance_dir_of, pid_of
from dikte.runtimes.procs import is_running
from dikte.runtimes.unsandboxed import UnsandboxedBackend
from tests.runtimes.runtime_helpers import Runtimes, gone, kernel, wait_exited


async def test_unsandboxed_runtime_lifecycle(
    spec: Callable[..., RuntimeSpec], drive: Path, data_dir: Path, runtimes: Runtimes,
    images: dict[str, str],
) -> None:
    backend = UnsandboxedBackend(data_dir, images=images)
    handle = await runtimes.start(backend, spec(drive))
    content = instance_dir_of(handle) / "content"
    async with kernel(handle) as k:
        out = (await k.run(
            "import os, subprocess\n"
            "print(os.getcwd(), sorted(os.listdir('.')), os.getuid())\n"
            "print(open('drive/MyDrive/hello.txt').read())\n"
            "open('kept.txt', 'w').write('kept')\n"
            "bg = subprocess.Popen(['sleep', '1000'])\n"
            "print(bg.pid)"
        )).ok().splitlines()
    assert out[0] == f"{content} ['drive'] {os.getuid()}"
    assert out[1] == "hello from the drive"
    sleeper = int(out[2])
    usage = await backend.usage(handle)
    assert usage.memory_bytes > 10 << 20 and usage.disk_bytes > 0

    restarted = await backend.restart_kernel(handle)
    assert not is_running(pid_of(handle), handle.private["pid_start"])
    assert not is_running(sleeper, None)  # the kernel's whole session ended
    async with kernel(restarted) as k:
        assert (await k.run("print(open('kept.txt').read())")).ok().strip() == "kept"

    state = json.loads(json.dumps(backend.state(restarted)))
    again = await UnsandboxedBackend(data_dir).reattach(state)
    assert again is not None and await backend.poll(again) == Alive()
    async with kernel(again) as k:
        k.client.execute("import os; os._exit(4)")
        exited = await wait_exited(backend, restarted)
    assert (exited.reason, exited.exit_code) == ("exited", 4)

    await backend.stop(restarted)
    assert gone(instance_dir_of(handle)) and (drive / "hello.txt").is_file()
    assert await UnsandboxedBackend(data_dir).reattach(state) is None
