#!/usr/bin/env bash
# One command from a fresh Debian machine (as root) to a working loaxa checkout:
# the Debian packages loaxa needs, a virtualenv in .venv, the package itself; then
#   quickstart.sh demo   runs `loaxa demo`
#   quickstart.sh test   runs the full test suite (what .ci/run calls)
#   quickstart.sh setup  only sets up
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
mode=${1:-demo}
shift || true
venv="$root/.venv"

# ffmpeg/espeak-ng/sox (+ libsox-fmt-base for AMR): audio import and test material; mosquitto: the private broker;
# systemd: systemd-analyze for unit checks; chromium/tmux: report and TUI tests.
apt_packages=(python3 python3-venv python3-dev gcc mosquitto mosquitto-clients ffmpeg
              espeak-ng sox libsox-fmt-base systemd tmux chromium libportaudio2
              ca-certificates)

missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "loaxa: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

python=${PYTHON:-python3}
"$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' \
  || { echo "loaxa needs Python >= 3.11 (found $("$python" --version))" >&2; exit 1; }

stamp="$venv/.loaxa-installed"
if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv"
fi
# Reinstall when pyproject.toml changed since the last install.
if [ ! -f "$stamp" ] || [ "$root/pyproject.toml" -nt "$stamp" ]; then
  "$venv/bin/python" -m pip install -q --upgrade pip
  "$venv/bin/python" -m pip install -q -e "$root[test]"
  touch "$stamp"
fi

cd "$root"
case "$mode" in
  setup) echo "loaxa: ready in $venv" ;;
  demo)  exec "$venv/bin/loaxa" demo "$@" ;;
  # Most end-to-end tests wait on real time (air times, heartbeats, outages): two workers
  # (LOAXA_TEST_WORKERS) halve the wall time; a test file stays on one worker.
  test)  exec "$venv/bin/python" -m pytest -n "${LOAXA_TEST_WORKERS:-2}" --dist loadfile "$@" ;;
  *) echo "usage: $0 demo|test|setup [args...]" >&2; exit 2 ;;
esac
