"""Regenerate src/dikte/images/colab.txt and minimal.txt, the shipped runtime images' pinned
lists, from Colab's published pip freeze.

    .venv/bin/python scripts/colab_requirements.py /work/shared/reference/colab-pip-freeze.txt

Every package of the freeze is kept at Colab's version, except those listed below (left out, or
moved to another version, each with its reason); then uv resolves the whole list for the image's
Python on manylinux x86_64 and writes every package it installs pinned, so a build installs
exactly that set. The ``minimal`` image is the few packages in MINIMAL at the versions the
``colab`` list has, with what they need.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

from uv import find_uv_bin

PYTHON = "3.11"  # the shipped images' interpreter (dikte.runtimes.images.SHIPPED_PYTHON)
IMAGES = Path(__file__).resolve().parents[1] / "src" / "dikte" / "images"
# Colab's everyday stack and what Dikte's kernel helpers import (numpy, pandas; IPython and
# ipykernel come with ipykernel), and pip, so that `!pip install` in a notebook is the image's
MINIMAL = ["ipykernel", "ipywidgets", "numpy", "pandas", "matplotlib", "tqdm", "requests",
           "websockets", "pip"]

# Google's services: they need a Google account or Google Cloud credentials (Dikte's google.colab
# shim says what to use instead), or they are Colab's own front end and server.
GOOGLE = {
    "google", "google-adk", "google-ai-generativelanguage", "google-api-core",
    "google-api-python-client", "google-auth", "google-auth-httplib2", "google-auth-oauthlib",
    "google-cloud-bigquery", "google-cloud-bigquery-connection", "google-cloud-bigquery-storage",
    "google-cloud-core", "google-cloud-dataproc", "google-cloud-datastore",
    "google-cloud-firestore", "google-cloud-functions", "google-cloud-language",
    "google-cloud-monitoring", "google-cloud-resource-manager", "google-cloud-spanner",
    "google-cloud-storage", "google-cloud-translate", "google-colab", "google-genai",
    "google-generativeai", "google-resumable-media", "grpc-google-iam-v1", "bigframes",
    "bigquery-magics", "db-dtypes", "pandas-gbq", "pydata-google-auth", "earthengine-api",
    "eerepr", "geemap", "firebase-admin", "gcsfs", "gspread", "gspread-dataframe", "pydrive2",
    "oauth2client", "dataproc-spark-connect", "spanner-graph-notebook",
    "keyrings-google-artifactregistry-auth", "opentelemetry-resourcedetector-gcp",
    "jupyter-kernel-gateway",
}
# Colab's VM: bindings of Debian/Ubuntu system libraries that have no wheels (they build from
# source against headers Dikte's hosts need not have), a language model installed from GitHub,
# Python 3.13-only backports, Intel/NVIDIA runtime libraries Colab's CPU build of torch carries.
SYSTEM = {
    "dbus-python", "pygobject", "python-apt", "pycairo", "gdal", "cyipopt", "rpy2", "dlib",
    "psycopg2", "en-core-web-sm", "launchpadlib", "lazr-restfulclient", "lazr-uri", "wadllib",
    "audioop-lts", "standard-aifc", "standard-chunk", "standard-sunau", "mkl", "intel-openmp",
    "intel-cmplr-lib-ur", "tbb", "tcmlib", "umf", "onemkl-license", "nvidia-nccl-cu13",
    "polars-runtime-32",
    # Colab's classic notebook server (Dikte is the server); it pins jupyter_client < 8
    "notebook", "nbclassic", "notebook-shim", "jupyter-server", "jupyter-server-terminals",
    "jupyter-console", "ipyparallel",
}
# Dikte's kernel side and its widget manager: ipykernel 6.29+ (IPython 8+) answers completion
# and inspection as Dikte's page asks, and the page renders ipywidgets 8's models (Colab still
# ships ipywidgets 7, whose models the page's manager does not know). The rest of their closure
# follows them.
DIKTE = {
    "ipykernel": "ipykernel>=6.29", "ipython": "ipython>=8.18", "ipywidgets": "ipywidgets>=8.1",
    "widgetsnbextension": "", "jupyterlab-widgets": "", "jupyter-client": "", "traitlets": "",
    "ipython-genutils": "", "backcall": "", "pickleshare": "", "comm": "", "matplotlib-inline": "",
    "prompt-toolkit": "", "jupyter-core": "", "pyzmq": "", "tornado": "", "debugpy": "",
}
# Colab's build of torch and its companions is the CPU one (+cpu, from PyTorch's own index);
# PyPI has only one Linux build, which carries CUDA's libraries (several GB) and runs on CPUs too.
LOCAL_VERSION = re.compile(r"\+cpu$")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def wanted(freeze: str) -> list[str]:
    out = []
    for line in freeze.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, version = line.partition("==")
        key = canonical(name.split("@")[0].strip())
        if key in GOOGLE or key in SYSTEM:
            continue
        if key in DIKTE:
            if DIKTE[key]:
                out.append(DIKTE[key])
            continue
        if not sep:
            raise SystemExit(f"unexpected line in the freeze: {line}")
        out.append(f"{name}=={LOCAL_VERSION.sub('', version)}")
    return out


def compile_pins(pins: list[str]) -> subprocess.CompletedProcess[str]:
    with tempfile.NamedTemporaryFile("w", suffix=".in") as source:
        source.write("\n".join(pins) + "\n")
        source.flush()
        return subprocess.run(
            [find_uv_bin(), "pip", "compile", source.name, "--python-version", PYTHON,
             "--python-platform", "x86_64-manylinux_2_28", "--no-header", "--no-annotate",
             "--quiet"], capture_output=True, text=True)


# what uv names when a pin cannot be had: a release for newer Pythons only, or two pins that
# exclude each other (the first named gives way)
BLOCKED = re.compile(r"(?:require|and|Because) ([A-Za-z0-9_.-]+)==([^ ,]+)[ ,]")


def main() -> None:
    pins = wanted(Path(sys.argv[1]).read_text())
    relaxed: list[str] = []
    while True:
        r = compile_pins(pins)
        if r.returncode == 0:
            break
        m = BLOCKED.search(r.stderr)
        if m is None or len(relaxed) > 80:
            raise SystemExit(r.stderr)
        name, version = m.group(1), m.group(2)
        pins = [f"{name}<={version}" if p == f"{name}=={version}" else p for p in pins]
        if f"{name}<={version}" not in pins:
            raise SystemExit(f"cannot relax {name}=={version}:\n{r.stderr}")
        relaxed.append(f"{name}=={version}")
        print(f"relaxed {name}=={version}: {r.stderr.splitlines()[1].strip()[:160]}")
    header = (
        "# Dikte's `colab` runtime image: the packages of Google Colab's CPU runtime, pinned.\n"
        "# Generated by scripts/colab_requirements.py from Colab's published pip freeze for\n"
        f"# Python {PYTHON} on Linux x86_64; that script says what is left out and why (Google's\n"
        "# services, Colab's system bindings and server) and what differs (ipykernel, IPython and\n"
        "# ipywidgets are the versions Dikte's page speaks to; torch is PyPI's build, which\n"
        "# carries CUDA's libraries and runs on CPUs too). Regenerate rather than edit.\n"
        + "".join(f"# Colab's {pin} cannot be installed with the rest on Python {PYTHON}: the newest"
                  " release before it that can\n" for pin in relaxed)
    )
    write(IMAGES / "colab.txt", header, r.stdout)
    versions = dict(line.split("==", 1) for line in r.stdout.splitlines() if "==" in line)
    r = compile_pins([f"{name}=={versions[name]}" for name in MINIMAL])
    if r.returncode != 0:
        raise SystemExit(r.stderr)
    write(IMAGES / "minimal.txt", (
        "# Dikte's `minimal` runtime image: IPython's kernel, widgets and Colab's everyday stack\n"
        f"# ({', '.join(MINIMAL)}) at the `colab` image's versions, for Python {PYTHON}.\n"
        "# Generated by scripts/colab_requirements.py with colab.txt. Regenerate rather than edit.\n"
    ), r.stdout)


def write(path: Path, header: str, pins: str) -> None:
    path.write_text(header + pins)
    print(f"{path}: {sum(1 for x in pins.splitlines() if '==' in x)} packages")


if __name__ == "__main__":
    main()
