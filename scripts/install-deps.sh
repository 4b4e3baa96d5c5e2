#!/usr/bin/env bash
# Installs what tscompose needs on a Debian machine: the engine's parts from Debian packages and
# the npm dependencies. Idempotent; run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
packages=(runc conmon containernetworking-plugins catatonit busybox-static docker-registry redis-server redis-tools skopeo
  iptables iproute2 attr procps tmux git xz-utils bzip2 e2fsprogs)
missing=()
for p in "${packages[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p"); done
if [ "${#missing[@]}" -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# npm 11 can refuse `npm ci` over other platforms' optional packages missing from the lock file
# (they are never installed here); `npm install` then installs from the same lock.
npm ci --no-audit --no-fund --loglevel=silent || npm install --no-audit --no-fund --loglevel=error
npm run build --silent
