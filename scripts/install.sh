#!/usr/bin/env bash
# Installs Outpost as a systemd service on Raspberry Pi OS / Debian (arm64, armhf, amd64):
#
#   sudo scripts/install.sh [outpost-X.Y.Z.tgz] [--gateway-id ID]   install or upgrade (run it again: harmless)
#   sudo scripts/install.sh --uninstall [--purge]                   remove; config and data kept unless --purge
#
# From a tarball made by `npm pack` (dist/ built by its prepack, production dependencies pinned by the
# npm-shrinkwrap.json it adds), or from this checkout (dist/ must be built: npm run build). Production
# dependencies only, no compiler: classic-level (LevelDB) loads its bundled prebuild for linux-arm64,
# linux-arm (armv6/armv7) and linux-x64. Needs Node.js >= 20.19 and npm; downloads nothing but the npm
# packages of the lockfile.
#
#   /opt/outpost                 the app (replaced on upgrade)
#   /etc/outpost/outpost.yaml    the config, written only if absent (never overwritten)
#   /etc/outpost/env             secrets as VAR=value lines, for ${VAR} in the config
#   /var/lib/outpost             the outbox (kept across upgrades and --uninstall)
#   /etc/systemd/system/outpost.service, enabled; /usr/local/bin/outpost
#
# --prefix P puts all of that under P (the files name P's paths; no system user, no systemctl: for tests
# and trying it out); DESTDIR=D stages files under D with their final paths (packaging).
set -euo pipefail

MIN_NODE_MAJOR=20
MIN_NODE_MINOR=19
SERVICE_USER=outpost

usage() {
  sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'
  echo "options: --prefix P  --gateway-id ID  --node PATH  --tarball FILE  --uninstall  --purge  -h"
}
die() {
  echo "install.sh: $*" >&2
  exit "${EXIT_CODE:-1}"
}
say() { echo "install.sh: $*"; }

prefix=""
tarball=""
gateway_id=""
node="${NODE:-}"
mode=install
purge=false
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix="${2:?--prefix needs a directory}"; shift 2 ;;
    --prefix=*) prefix="${1#*=}"; shift ;;
    --gateway-id) gateway_id="${2:?--gateway-id needs a value}"; shift 2 ;;
    --gateway-id=*) gateway_id="${1#*=}"; shift ;;
    --node) node="${2:?--node needs a path}"; shift 2 ;;
    --tarball) tarball="${2:?--tarball needs a file}"; shift 2 ;;
    --uninstall) mode=uninstall; shift ;;
    --purge) purge=true; shift ;;
    -h | --help) usage; exit 0 ;;
    -*) usage >&2; EXIT_CODE=64 die "unknown option $1" ;;
    *) tarball="$1"; shift ;;
  esac
done
if $purge && [ "$mode" != uninstall ]; then EXIT_CODE=64 die "--purge goes with --uninstall"; fi
prefix="${prefix%/}"
if [ -n "$prefix" ]; then prefix="$(mkdir -p "$prefix" && cd "$prefix" && pwd)"; fi
destdir="${DESTDIR:-}"
destdir="${destdir%/}"
# A system install changes the machine itself (user, systemd); a --prefix or DESTDIR one only files.
system=true
if [ -n "$prefix" ] || [ -n "$destdir" ]; then system=false; fi

app="$prefix/opt/outpost"
etc="$prefix/etc/outpost"
config="$etc/outpost.yaml"
envfile="$etc/env"
data="$prefix/var/lib/outpost"
unit_dir="$prefix/etc/systemd/system"
bin="$prefix/usr/local/bin/outpost"
R="$destdir" # where files land: ${R}${path}

if $system && [ "$(id -u)" -ne 0 ]; then
  EXIT_CODE=77 die "a system install needs root: sudo $0 $* (or --prefix DIR to install under DIR)"
fi

systemd_running() { [ -d /run/systemd/system ]; }
pid1() { cat /proc/1/comm 2>/dev/null || echo unknown; }

# ------------------------------------------------------------------------------------------ uninstall
if [ "$mode" = uninstall ]; then
  if $system && systemd_running; then
    systemctl disable --now outpost.service 2>/dev/null || true
  fi
  rm -f "$R$unit_dir/outpost.service" "$R$bin"
  rm -rf "$R$app"
  if $system && systemd_running; then systemctl daemon-reload; fi
  if $purge; then
    rm -rf "$R$etc" "$R$data"
    if $system && getent passwd "$SERVICE_USER" >/dev/null; then userdel "$SERVICE_USER" 2>/dev/null || true; fi
    say "removed Outpost, its config ($etc) and its data ($data)"
  else
    say "removed Outpost; kept the config ($etc) and the outbox ($data): --uninstall --purge removes them too"
  fi
  exit 0
fi

# ------------------------------------------------------------------------------------------ Node, npm
node_advice="Raspberry Pi OS and Debian 12 ship Node.js 18: install Node.js >= $MIN_NODE_MAJOR.$MIN_NODE_MINOR (Debian 13's nodejs package, or NodeSource's nodejs 20 or 22), then run this again. Nothing was changed."
if [ -z "$node" ]; then node="$(command -v node || command -v nodejs || true)"; fi
if [ -z "$node" ] || [ ! -x "$node" ]; then
  EXIT_CODE=69 die "Node.js not found${node:+ at $node}. $node_advice"
fi
node="$(cd "$(dirname "$node")" && pwd)/$(basename "$node")"
node_version="$("$node" -p 'process.versions.node' 2>/dev/null || true)"
IFS=. read -r major minor _ <<<"${node_version:-0.0.0}"
if ! [[ "$major" =~ ^[0-9]+$ && "$minor" =~ ^[0-9]+$ ]] ||
  [ "$major" -lt "$MIN_NODE_MAJOR" ] || { [ "$major" -eq "$MIN_NODE_MAJOR" ] && [ "$minor" -lt "$MIN_NODE_MINOR" ]; }; then
  EXIT_CODE=69 die "$node is Node.js ${node_version:-of an unknown version}; Outpost needs >= $MIN_NODE_MAJOR.$MIN_NODE_MINOR. $node_advice"
fi
export PATH="$(dirname "$node"):$PATH" # npm runs on this node
npm="$(command -v npm || true)"
[ -n "$npm" ] || EXIT_CODE=69 die "npm not found (it installs the dependencies once): apt-get install npm. Nothing was changed."

# ------------------------------------------------------------------------------------------ the package
checkout="$(cd "$(dirname "$0")/.." && pwd)"
mkdir -p "$R$prefix/opt"
stage="$(mktemp -d "$R$prefix/opt/.outpost-install.XXXXXX")"
trap 'rm -rf "$stage"' EXIT
from_checkout=false
if [ -n "$tarball" ]; then
  [ -f "$tarball" ] || EXIT_CODE=66 die "no such tarball: $tarball"
  say "unpacking $tarball"
else
  [ -f "$checkout/dist/gateway/cli.js" ] ||
    EXIT_CODE=66 die "$checkout has no dist/: run 'npm run build' there first, or pass a tarball made by 'npm pack'"
  say "packing $checkout (its built dist/)"
  from_checkout=true
  tarball="$stage/$(cd "$checkout" && npm pack --ignore-scripts --silent --pack-destination "$stage" | tail -n1)"
fi
tar -xzf "$tarball" -C "$stage"
pkg="$stage/package"
[ -f "$pkg/dist/gateway/cli.js" ] || EXIT_CODE=65 die "$tarball has no dist/gateway/cli.js (was it made by 'npm pack' with the prepack build?)"
if $from_checkout && [ ! -f "$pkg/npm-shrinkwrap.json" ] && [ -f "$checkout/package-lock.json" ]; then
  cp "$checkout/package-lock.json" "$pkg/package-lock.json" # the checkout's pinned versions
fi
say "installing production dependencies with npm ($(npm --version), Node.js $node_version, $(uname -m))"
if [ -f "$pkg/npm-shrinkwrap.json" ] || [ -f "$pkg/package-lock.json" ]; then
  (cd "$pkg" && npm ci --omit=dev --no-audit --no-fund --loglevel=error >&2)
else
  (cd "$pkg" && npm install --omit=dev --no-audit --no-fund --loglevel=error >&2)
fi
version="$("$node" -p "require('$pkg/package.json').version")"

# Swap the new app in; the old one goes only once the new one is in place.
if [ -d "$R$app" ]; then mv "$R$app" "$stage/previous"; fi
mv "$pkg" "$R$app"

# ------------------------------------------------------------------------------------------ user, dirs
if $system; then
  if ! getent passwd "$SERVICE_USER" >/dev/null; then
    useradd --system --user-group --home-dir /var/lib/outpost --no-create-home \
      --shell /usr/sbin/nologin --comment "Outpost MQTT gateway" "$SERVICE_USER"
    say "created the system user $SERVICE_USER"
  fi
else
  say "--prefix/DESTDIR: no system user (files belong to $(id -un)); the unit still says User=$SERVICE_USER"
fi
mkdir -p "$R$etc" "$R$data" "$R$unit_dir" "$(dirname "$R$bin")"
chmod 0755 "$R$etc"
chmod 0750 "$R$data"
if $system; then chown "$SERVICE_USER:$SERVICE_USER" "$R$data"; fi

# ------------------------------------------------------------------------------------------ config
config_state="kept as it was"
if [ -e "$R$config" ]; then
  if [ -n "$gateway_id" ]; then say "$config exists: --gateway-id not applied (edit gatewayId there)"; fi
  gateway_id="$(sed -n 's/^gatewayId: *\([^ #]*\).*/\1/p' "$R$config" | head -n1)"
else
  if [ -z "$gateway_id" ]; then
    suggested="$(hostname -s 2>/dev/null | tr -c 'A-Za-z0-9_.\n-' '-' | sed 's/^[^A-Za-z0-9]*//')"
    suggested="${suggested:-outpost}-$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')"
    if [ -t 0 ] && [ -t 1 ]; then
      echo "The gateway id names this gateway upstream (message identity, {gatewayId} in topics and"
      echo "commands); every gateway needs its own."
      read -r -p "Gateway id [$suggested]: " gateway_id || true
    fi
    gateway_id="${gateway_id:-$suggested}"
  fi
  [[ "$gateway_id" =~ ^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$ ]] ||
    EXIT_CODE=64 die "gateway id \"$gateway_id\": letters, digits, '_', '-' or '.' only, starting with a letter or digit"
  umask 027
  cat >"$R$config" <<EOF
# yaml-language-server: \$schema=$app/config/outpost.schema.json
# Outpost on this machine, written once by scripts/install.sh (an upgrade never overwrites it). After a
# change: outpost check-config $config && sudo systemctl restart outpost
# Every key: $app/config/outpost.schema.json; a full example: $app/config/example.yaml.

# Names this gateway upstream (message identity, {gatewayId} in topics and commands): one per gateway.
gatewayId: $gateway_id
dataDir: $data
log: { level: info }

broker:
  listeners:
    - { type: tcp, host: 0.0.0.0, port: 1883 }
  # Devices log in: one line per device, printed by \`outpost passwd NAME\`.
  allowAnonymous: false
  users: []

outbox:
  durability: fsync # PUBACK only after the reading is on disk
  # Readings wait up to 50 ms to share an fsync with others (the PUBACK still follows it): at 500
  # readings/s, 630 bytes written to the card per reading instead of 7.4 KB (README: SD-card wear).
  commitDelayMs: 50
  maxBytes: 1GiB
  whenFull: reject

# Where readings go, for example (the password as CLOUD_PASSWORD=... in $envfile):
#   - { name: cloud, type: mqtt, url: "mqtts://broker.example:8883", username: $gateway_id, password: "\${CLOUD_PASSWORD}" }
upstreams: []
routes: []

http: { host: 127.0.0.1, port: 9180 }
EOF
  umask 022
  config_state="written now"
fi
if [ ! -e "$R$envfile" ]; then
  (umask 027 && printf '# Secrets for %s: VAR=value lines, used as ${VAR} in the config.\n' "$config" >"$R$envfile")
fi
if $system; then chgrp "$SERVICE_USER" "$R$config" "$R$envfile" && chmod 0640 "$R$config" "$R$envfile"; fi

# ------------------------------------------------------------------------------------------ command, unit
cat >"$R$bin" <<EOF
#!/bin/sh
# The outpost command, written by Outpost's scripts/install.sh.
: "\${OUTPOST_CONFIG:=$config}"
export OUTPOST_CONFIG
exec "$node" "$app/dist/gateway/cli.js" "\$@"
EOF
chmod 0755 "$R$bin"
sed -e "s#/usr/bin/node #$node #" \
  -e "s#/opt/outpost#$app#g" -e "s#/etc/outpost#$etc#g" -e "s#/var/lib/outpost#$data#g" \
  "$R$app/systemd/outpost.service" >"$R$unit_dir/outpost.service"
chmod 0644 "$R$unit_dir/outpost.service"

service_state="installed as $unit_dir/outpost.service"
if $system && systemd_running; then
  systemctl daemon-reload
  systemctl enable outpost.service >/dev/null 2>&1
  if systemctl is-active --quiet outpost.service; then
    systemctl restart outpost.service
    service_state="enabled, restarted on the new version"
  else
    service_state="enabled (starts at boot)"
  fi
elif $system; then
  service_state="installed, not enabled: systemd is not running here (PID 1 is $(pid1)); on a systemd machine: systemctl enable --now outpost"
else
  service_state="$service_state, not enabled (--prefix/DESTDIR: systemctl not run)"
fi

# ------------------------------------------------------------------------------------------ what next
cat <<EOF

Outpost $version is installed in $app (Node.js $node_version at $node).
  config    $config ($config_state), gateway id: ${gateway_id:-?}
  secrets   $envfile (VAR=value lines for \${VAR} in the config)
  outbox    $data
  service   $service_state
  command   $bin

Next:
  1. Add a user per device:  $bin passwd sensor-1
     and paste the line it prints under broker.users in $config
  2. Add your cloud under upstreams: (and routes:) in $config, secrets in $envfile
  3. Check it:   $bin check-config --env $config
  4. Start it:   sudo systemctl start outpost    logs: journalctl -u outpost -f
  Status:        http://127.0.0.1:9180/api/status (on this machine; /metrics for Prometheus)
EOF
if [ -z "$destdir" ]; then
  echo
  "$node" "$app/dist/gateway/cli.js" check-config "$config" || true
fi
