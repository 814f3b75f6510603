#!/usr/bin/env bash
# Install the loaxa village agent on Raspberry Pi OS / Debian (run as root).
#
#   install.sh --controller HOST [--source SPEC] [--prefix /opt/loaxa]
#   install.sh --controller HOST --destdir DIR     # stage files only (images, tests)
#   --systemd-version N   the target's systemd (default: from `systemctl --version`)
#
# What it does: Debian packages (python3-venv, chrony, libopus0), a system user
# `loaxa-agent` in the `audio` and `gpio` groups, a virtualenv in PREFIX/venv with loaxa
# installed from SOURCE (default: the checkout this script lives in), the systemd unit,
# chrony with the controller as a fallback time source, journald kept off the SD card,
# and a polkit rule so a signed reboot command can reboot the box. It does not start the
# agent: enrol first, then enable it (the script prints both commands). Where the
# target's systemd is 254 or later, a drop-in makes restarts back off (5 s growing to
# 2 min); older ones (Debian 12: 252) keep the unit's fixed 5 s pause, never giving up.
#
# --destdir DIR writes the files under DIR and skips packages, users, the virtualenv and
# systemctl, so the result can be inspected (tests) or baked into an image.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
prefix=/opt/loaxa
source_spec="$repo"
controller=""
destdir=""
packages=1
systemd_version=""

usage() {
  sed -n '2,6p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

while [ $# -gt 0 ]; do
  case "$1" in
    --controller) controller=${2:?}; shift 2 ;;
    --source) source_spec=${2:?}; shift 2 ;;
    --prefix) prefix=${2:?}; shift 2 ;;
    --destdir) destdir=${2:?}; packages=0; shift 2 ;;
    --no-packages) packages=0; shift ;;
    --systemd-version) systemd_version=${2:?}; shift 2 ;;
    -h|--help) usage ;;
    *) echo "install.sh: unknown option $1" >&2; usage ;;
  esac
done

[ -n "$controller" ] || { echo "install.sh: --controller HOST is required" >&2; usage; }
case "$controller" in
  *[!A-Za-z0-9.:-]*) echo "install.sh: invalid controller address: $controller" >&2; exit 2 ;;
esac
case "$prefix" in
  /*) ;;
  *) echo "install.sh: --prefix must be an absolute path" >&2; exit 2 ;;
esac
if [ -z "$systemd_version" ] && command -v systemctl >/dev/null; then
  # "systemd 252 (252.38-1~deb12u1)": the second word.
  systemd_version=$(systemctl --version 2>/dev/null | awk 'NR == 1 { print $2 }') || true
fi
case "$systemd_version" in
  "") ;;
  *[!0-9]*) echo "install.sh: not a systemd version: $systemd_version" >&2; exit 2 ;;
esac

user=loaxa-agent
state_dir=/var/lib/loaxa-agent
root="${destdir%/}"

if [ -z "$destdir" ] && [ "$(id -u)" -ne 0 ]; then
  echo "install.sh: run as root (or use --destdir to stage files)" >&2
  exit 1
fi

if [ "$packages" = 1 ]; then
  echo "loaxa: installing Debian packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends python3 python3-venv chrony libopus0 \
    ca-certificates
fi

if [ -z "$destdir" ]; then
  getent group gpio >/dev/null || groupadd --system gpio
  if ! getent passwd "$user" >/dev/null; then
    useradd --system --user-group --home-dir "$state_dir" --no-create-home \
      --shell /usr/sbin/nologin --groups audio,gpio "$user"
  else
    usermod -a -G audio,gpio "$user"
  fi
  echo "loaxa: virtualenv in $prefix/venv"
  [ -x "$prefix/venv/bin/python" ] || python3 -m venv "$prefix/venv"
  "$prefix/venv/bin/python" -m pip install -q --upgrade pip
  # The [agent] extra brings PortAudio output and GPIO for the amplifier relay.
  "$prefix/venv/bin/python" -m pip install -q "${source_spec}[agent]"
fi

install -d -m 0755 "$root/etc/systemd/system" "$root/etc/chrony/conf.d" \
  "$root/etc/systemd/journald.conf.d" "$root/etc/polkit-1/rules.d"
sed "s#/opt/loaxa/venv#$prefix/venv#g" "$repo/deploy/systemd/loaxa-agent.service" \
  > "$root/etc/systemd/system/loaxa-agent.service"
chmod 0644 "$root/etc/systemd/system/loaxa-agent.service"
dropins="$root/etc/systemd/system/loaxa-agent.service.d"
if [ "${systemd_version:-0}" -ge 254 ]; then
  install -d -m 0755 "$dropins"
  install -m 0644 "$repo/deploy/systemd/loaxa-restart-backoff.conf" \
    "$dropins/restart-backoff.conf"
else
  # A reinstall after a downgrade must not leave keys this systemd does not know.
  rm -f "$dropins/restart-backoff.conf"
  echo "loaxa: systemd ${systemd_version:-unknown} < 254: restarts keep a fixed 5 s pause"
fi
sed "s#@CONTROLLER@#$controller#g" "$here/chrony-loaxa.conf" > "$root/etc/chrony/conf.d/loaxa.conf"
install -m 0644 "$here/journald-loaxa.conf" "$root/etc/systemd/journald.conf.d/loaxa.conf"
install -m 0644 "$here/polkit-loaxa-agent.rules" "$root/etc/polkit-1/rules.d/50-loaxa-agent.rules"
install -d -m 0750 "$root$state_dir"

if [ -z "$destdir" ]; then
  chown "$user:$user" "$state_dir"
  systemctl daemon-reload
  systemctl restart systemd-journald || true
  systemctl restart chrony || systemctl restart chronyd || true
fi

cat <<EOF
loaxa: agent installed. Next, with the one-time code from the commune operator:

  sudo -u $user $prefix/venv/bin/loaxa agent enroll --data-dir $state_dir \\
      --endpoint tcp://$controller:PORT --server-key 'KEY' --code XXXX-XXXX-XXXX
  systemctl enable --now loaxa-agent
EOF
