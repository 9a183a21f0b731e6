"""Pre-started runtimes use the runtime tests' fixtures (tests/runtimes/conftest.py): a real
sandbox host, a data dir with a secret, a person's drive, a local backend and specs."""

from tests.runtimes.conftest import data_dir, drive, images, local_backend, runtimes, sandbox_host, spec

__all__ = ["data_dir", "drive", "images", "local_backend", "runtimes", "sandbox_host", "spec"]
