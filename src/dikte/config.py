"""One typed settings object.

Values come from, in rising priority: the defaults below, a TOML file (``--config``, ``DIKTE_CONFIG``
or ``<data_dir>/dikte.toml``) and ``DIKTE_<FIELD>`` environment variables. Every field has help text;
``docs/configuration.md`` lists them all (a test keeps it complete). An invalid value stops start-up
with the key, the value and what was expected.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from dikte.policy.tiers import Tier, UsageReset, default_tiers

# re-exported: the rest of Dikte reads sizes through the config
from dikte.policy.units import Size as Size
from dikte.policy.units import format_size as format_size
from dikte.policy.units import parse_size as parse_size


def _default_data_dir() -> Path:
    if os.geteuid() == 0:
        return Path("/var/lib/dikte")
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "dikte"


# The runtime images Dikte ships: name -> (requirements file in the package, description). Their
# lists are compiled for Python 3.11 (scripts/colab_requirements.py), so they are built with it.
SHIPPED_IMAGES = {
    "colab": ("Google Colab's packages at Colab's versions: numpy, pandas, scikit-learn, "
              "PyTorch, TensorFlow, JAX and about 580 more."),
    "minimal": "Python with ipykernel, ipywidgets, numpy, pandas, matplotlib, tqdm, requests "
               "and websockets.",
}
SHIPPED_PYTHON = "3.11"


def shipped_requirements(name: str) -> Path:
    """The pinned list of a shipped image, in the package."""
    return Path(__file__).resolve().parent / "images" / f"{name}.txt"


class ImageConfig(BaseModel):
    """A runtime image: a Python environment of its own that has ipykernel (Colab's "runtime
    version"). Either Dikte builds it from a requirements file (``dikte image build NAME``), or
    an admin brings an environment and names its python."""

    model_config = ConfigDict(extra="forbid")
    python: str = Field(
        "", description="Path of the python of an environment you bring, used as it is; it "
        "needs ipykernel. For an image Dikte builds, Dikte sets it to "
        "<images_dir>/NAME/bin/python.")
    requirements: str = Field(
        "", description="Path of a requirements file (pip's format, pinned versions make the "
        "build reproducible) that `dikte image build NAME` installs into an environment of the "
        "image's own; it needs ipykernel. Empty for colab and minimal: the lists Dikte ships.")
    python_version: str = Field(
        "", description="The interpreter a built image uses, as uv finds it: a version (3.11) "
        "or a python's path. Empty: 3.11 for colab and minimal, else the Python Dikte runs on.")
    description: str = Field("", description="What the image offers, shown to people.")

    @model_validator(mode="after")
    def _python_or_requirements(self) -> ImageConfig:
        if self.python and not os.path.isabs(self.python):
            raise ValueError(
                f"python = {self.python!r} is not the path of a python executable; to choose the "
                f"interpreter an image is built with, write python_version = {self.python!r} "
                "beside requirements")
        if self.python and self.requirements:
            raise ValueError("give either python (an environment you bring) or requirements "
                             "(an image Dikte builds), not both")
        return self

    @property
    def built_by_dikte(self) -> bool:
        return bool(self.requirements)


class AcceleratorConfig(BaseModel):
    """An accelerator the admin declares: a GPU to group, share or reserve, or one NVML cannot
    see. ``id`` equal to a discovered GPU's or MIG instance's UUID changes that device."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, description="The device's UUID (GPU-..., MIG-...) or a name.")
    type: str = Field(pattern=r"^[A-Za-z0-9_.-]+$",
                      description="The accelerator type, which is the shape people ask for: T4.")
    model: str = Field("", description="The model, shown to people and admins.")
    memory: Size = Field(0, description="Device memory in bytes; accepts sizes such as 16GiB.")
    visible_id: str = Field("", description="What CUDA_VISIBLE_DEVICES names it by; default id.")
    nodes: list[str] = Field(
        default_factory=list,
        description="Device nodes bound into the runtime's sandbox: /dev/nvidia0, or "
        "HOST_PATH:SANDBOX_PATH.")
    shared: bool = Field(False, description="Several runtimes may use it at once.")
    reserved: bool = Field(False, description="Keep it out of allocation.")


class Settings(BaseModel):
    """Everything an administrator can set."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    data_dir: Path = Field(
        default_factory=_default_data_dir,
        description="Where Dikte keeps its database, drives and runtime instance spaces "
        "(/var/lib/dikte as root, ~/.local/share/dikte otherwise).",
    )
    host: str = Field("127.0.0.1", description="Address `dikte serve` listens on.")
    port: int = Field(
        8750, ge=0, le=65535, description="Port `dikte serve` listens on; 0 picks a free one."
    )
    database_url: str = Field(
        "",
        description="SQLAlchemy URL of the database; empty means SQLite at <data_dir>/dikte.db. "
        "For PostgreSQL: postgresql+psycopg://user:password@host/dbname",
    )
    unsafe_no_sandbox: bool = Field(
        False,
        description="Run kernels without the bubblewrap sandbox and without resource limits. "
        "Only for one person developing on their own machine.",
    )
    trusted_proxies: str = Field(
        "",
        description="Comma-separated addresses of reverse proxies (for example TLS in front of "
        "Dikte) whose X-Forwarded-For and X-Forwarded-Proto Dikte believes; empty: none, so no "
        "local program can pose as another address (sign-in limits) or as https.",
    )
    runtime_network: Literal["isolated", "host"] = Field(
        "isolated",
        description="\"isolated\": each runtime has a network of its own (its own loopback; the "
        "internet through user-mode networking; the host's and other runtimes' loopback "
        "services out of reach; needs root). \"host\": runtimes share the host's network, "
        "for a single-person install that wants to reach services on its own loopback.",
    )
    runtime_backend: str = Field(
        "local", pattern=r"^[A-Za-z0-9_.-]+$",
        description="Where runtimes run: \"local\", on this machine; \"ray\", on the nodes "
        "of a Ray cluster (see ray_address and docs/cluster.md); or the name of a backend "
        "another package installs (entry point group dikte.runtime_backends).",
    )
    ray_address: str = Field(
        "",
        description="With runtime_backend = \"ray\": the cluster's head, HOST:PORT, or "
        "\"local\" for the loopback-only cluster that `dikte cluster local start` runs "
        "with this data dir.",
    )
    cluster_channel: str = Field(
        "",
        description="With runtime_backend = \"ray\": ADDRESS:PORT the nodes reach this "
        "control plane at for the runtime channel (TLS with this server's own certificate); "
        "empty: this machine's cluster address and a free port.",
    )
    ray_autoscaling: bool = Field(
        False,
        description="With runtime_backend = \"ray\": the cluster grows by itself (Ray's "
        "autoscaler, KubeRay), so a runtime larger than every machine now in it waits for "
        "one; false: such a runtime is refused at once with a sentence naming what it needs.",
    )
    runtime_cpus: float = Field(
        1.0, ge=0,
        description="With runtime_backend = \"ray\": CPUs each runtime reserves on its node "
        "(Ray's placement; the kernel may use more, shared by cpu weight); 0 reserves none.",
    )
    sandbox_uid_base: int = Field(
        600000,
        ge=1000,
        description="When Dikte runs as root, each person's runtimes run as the unprivileged "
        "user id sandbox_uid_base + person id.",
    )
    runtime_memory: Size = Field(
        12 * 2**30, description="RAM limit of one runtime (cgroup memory limit), e.g. 12GiB."
    )
    runtime_cpu_weight: int = Field(
        100, ge=1, le=10000, description="CPU share of one runtime relative to others (cgroup weight)."
    )
    runtime_pool: int = Field(
        2, ge=0, le=64,
        description="Runtimes kept started ahead, per runtime image and disk size asked for "
        "(the default image's from the start), so that a connect is answered at once: each "
        "is given to one person at connect and never reused. They count against nobody's "
        "limits; 0 turns this off. Local sandboxed runtimes only (needs root).",
    )
    runtime_start_concurrency: int = Field(
        0, ge=0,
        description="Runtimes started at once; those asked for beyond it wait their turn, one "
        "person's after another's. 0: this machine's number of CPUs.",
    )
    runtime_disk: Size = Field(
        50 * 2**30,
        description="Disk limit of one runtime (/content, /tmp, /root, installed packages, "
        "system changes): when Dikte runs as root, a file system of this size, so writes past it "
        "fail with 'No space left on device'; otherwise measured, and past it the runtime is "
        "stopped with the reason.",
    )
    disk_check_seconds: float = Field(
        5.0, gt=0, description="How often a runtime's disk use, and what it holds open of "
        "files deleted from the drive, is measured."
    )
    output_max_lines: int = Field(
        10000, ge=10, description="Most lines of text output kept per cell; the rest is cut with a note."
    )
    output_max_bytes: Size = Field(
        5 * 10**6, description="Most bytes of output kept per cell; the rest is cut with a note."
    )
    output_coalesce_seconds: float = Field(
        0.05, ge=0, le=5,
        description="A running cell's output changes are gathered for this long and sent to "
        "the notebook's viewers merged, so a cell printing 100,000 lines a second sends about "
        "20 messages a second instead of 100,000; the saved notebook keeps every line. 0 sends "
        "each change at once.",
    )
    websocket_max_message_bytes: Size = Field(
        10 * 2**20,
        description="Largest message a notebook's WebSocket accepts from a client; a larger one "
        "is refused with a sentence naming this limit (and one over four times it closes the "
        "socket). Send big data as a file upload instead.",
    )
    edit_max_ops: int = Field(
        1000, ge=1,
        description="Most operations one edit (over the WebSocket or POST /api/notebooks/edit) "
        "may carry; a larger batch is refused as a whole. Split it into several edits.",
    )
    cell_source_max_bytes: Size = Field(
        2 * 2**20,
        description="Largest source one cell may have (UTF-8 bytes); an edit that would make a "
        "cell larger is refused. Keep data in a file on the drive and read it from the cell.",
    )
    viewer_queue_max_messages: int = Field(
        2000, ge=10,
        description="Most messages waiting to be sent to one viewer (a browser tab); a viewer "
        "that falls further behind is sent a fresh copy of the notebook instead of the backlog.",
    )
    kernel_heartbeat_seconds: float = Field(
        30.0, gt=0,
        description="When a runtime's kernel has not answered its heartbeat for this long, the "
        "notebook says it may be hung and offers to interrupt or restart it (a cell that only "
        "runs long still answers).",
    )
    save_interval_seconds: float = Field(
        2.0, gt=0, description="While a cell runs, its notebook is saved at most this often."
    )
    upload_max_bytes: Size = Field(
        10 * 2**30, description="Largest file one upload may carry."
    )
    images: dict[str, ImageConfig] = Field(
        default_factory=lambda: {name: ImageConfig(description=about)
                                 for name, about in SHIPPED_IMAGES.items()},
        description="Runtime images by name, as TOML tables [images.NAME] (see docs/images.md): "
        "requirements = \"/path/requirements.txt\" for one Dikte builds, or python = "
        "\"/path/bin/python\" for an environment you bring. Default: the shipped colab and "
        "minimal; a table in the file replaces them, and an empty [images.colab] or "
        "[images.minimal] keeps the shipped one.",
    )
    images_dir: Path | None = Field(
        None, description="Where the images Dikte builds live, one folder each; empty: "
        "<data_dir>/images. Several servers may share one.")
    drives_dir: Path | None = Field(
        None, description="Where the people's drives are, one folder each; empty: "
        "<data_dir>/drives. On a cluster node: where the drives' shared filesystem is mounted "
        "there.")
    default_image: str = Field(
        "", description="Image a new runtime uses. Empty: chosen when the server starts, the "
        "first built of colab, minimal, then the other images by name.")
    tiers: dict[str, Tier] = Field(
        default_factory=default_tiers,
        description="Tiers by name, as TOML tables [tiers.NAME] (see docs/tiers.md); the "
        "shipped free, pro and pro_plus are modelled on Colab.",
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="What `dikte serve` logs: info logs start-up, recovery and runtime "
        "events; debug adds the web server's and the database migrations' own lines.")
    access_log: bool = Field(False, description="Log every HTTP request (off by default).")
    default_tier: str = Field("free", description="Tier of a person who has none set.")
    admin_tier: str = Field(
        "", description="Tier of the admin Dikte creates at first start; empty: the tier that "
        "allows the most standard runtimes at once (pro_plus of the shipped tiers), so the admin "
        "can use the web app and the CLI side by side.")
    usage_reset: UsageReset = Field(
        default_factory=UsageReset,
        description="When daily usage (accelerator hours) resets: time HH:MM and an IANA time zone.",
    )
    accelerators: list[AcceleratorConfig] = Field(
        default_factory=list,
        description="Accelerators the admin declares, as [[accelerators]] tables: to group GPUs "
        "into types, share or reserve them, or add ones NVML cannot see (see docs/gpu.md).",
    )
    discover_gpus: bool = Field(
        True, description="Find NVIDIA GPUs and MIG instances through NVML at start; none found "
        "is not an error.")
    reaper_seconds: float = Field(
        1.0, gt=0, description="How often runtimes are checked against their tier's time limits."
    )
    import_max_bytes: Size = Field(
        100 * 10**6, description="Largest notebook that \"Open from URL\" fetches."
    )
    import_clone_max_bytes: Size = Field(
        500 * 10**6,
        description="Most bytes a git repository's shallow clone may take while a notebook is "
        "copied out of it; past it the clone is stopped.",
    )
    import_timeout_seconds: float = Field(
        30.0, gt=0, description="How long fetching a notebook, or cloning its repository, may take."
    )
    import_allow_private_addresses: bool = Field(
        False,
        description="Let \"Open from URL\" reach loopback, private and link-local addresses "
        "(refused by default, so people cannot make the server fetch from its own network).",
    )
    import_github_raw_url: str = Field(
        "https://raw.githubusercontent.com",
        description="Where github.com/<user>/<repo>/blob/<ref>/<path> links are fetched from, "
        "as <this>/<user>/<repo>/<ref>/<path>.",
    )

    @model_validator(mode="after")
    def _images_resolved(self) -> Settings:
        """Shipped images get their lists, built ones the path of the python they will have
        (run again on every assignment, so it only derives)."""
        for name, image in self.images.items():
            if not image.python and not image.requirements:
                if name not in SHIPPED_IMAGES:
                    raise ValueError(f"images.{name} needs requirements (an image Dikte "
                                     "builds) or python (an environment you bring)")
                image.requirements = str(shipped_requirements(name))
                image.python_version = image.python_version or SHIPPED_PYTHON
                image.description = image.description or SHIPPED_IMAGES[name]
            if image.built_by_dikte:
                image.python = str(self.image_dir(name) / "bin" / "python")
        if self.default_image and self.default_image not in self.images:
            raise ValueError(f"default_image {self.default_image!r} is not one of the images "
                             f"({', '.join(sorted(self.images))})")
        return self

    def drives_root(self) -> Path:
        """The folder holding every person's drive (a runtime's drive volume)."""
        return self.drives_dir or self.data_dir / "drives"

    def image_dir(self, name: str) -> Path:
        """The folder of an image Dikte builds."""
        return (self.images_dir or self.data_dir / "images") / name

    @model_validator(mode="after")
    def _default_tier_exists(self) -> Settings:
        if self.default_tier not in self.tiers:
            raise ValueError(f"default_tier {self.default_tier!r} is not one of the tiers "
                             f"({', '.join(sorted(self.tiers))})")
        if self.admin_tier and self.admin_tier not in self.tiers:
            raise ValueError(f"admin_tier {self.admin_tier!r} is not one of the tiers "
                             f"({', '.join(sorted(self.tiers))})")
        return self

    @property
    def first_admin_tier(self) -> str:
        """``admin_tier``, or the tier allowing the most standard runtimes (default_tier on a
        tie)."""
        if self.admin_tier:
            return self.admin_tier

        def standard(name: str) -> int:
            limits = self.tiers[name].shapes.get("standard")
            return limits.max_sessions if limits is not None and limits.available else 0

        return max(sorted(self.tiers), key=lambda n: (standard(n), n == self.default_tier))

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'dikte.db'}"


class ConfigError(Exception):
    """Raised with a message naming the key, the value and what was expected."""


def _env_overrides(environ: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in Settings.model_fields:
        key = f"DIKTE_{name.upper()}"
        if key in environ and name not in ("images", "tiers", "usage_reset", "accelerators"):
            out[name] = environ[key]
    return out


def load_settings(
    config_file: Path | None = None,
    environ: dict[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Build the settings from file, environment and explicit overrides (highest)."""
    env = dict(os.environ if environ is None else environ)
    values: dict[str, Any] = {}
    path = config_file or (Path(env["DIKTE_CONFIG"]) if env.get("DIKTE_CONFIG") else None)
    if path is None:
        data_dir = overrides.get("data_dir") or env.get("DIKTE_DATA_DIR") or _default_data_dir()
        candidate = Path(data_dir) / "dikte.toml"
        path = candidate if candidate.is_file() else None
    if path is not None:
        try:
            values.update(tomllib.loads(Path(path).read_text()))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read config file {path}: {exc}") from exc
    values.update(_env_overrides(env))
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return Settings(**values)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"])
            lines.append(f"  {key} = {err.get('input')!r}: {err['msg']}")
        raise ConfigError("invalid configuration:\n" + "\n".join(lines)) from None
