#!/usr/bin/env bash
# Builds the examples' base images offline, from Debian packages, as `image import` of a root
# filesystem (no public registry is needed):
# - `busybox:latest`: Debian's busybox-static, /bin/busybox with one link per applet, /etc/passwd
#   and /etc/group;
# - `tscompose-examples/redis:7`: the busybox root plus Debian's redis-server and redis-cli with
#   the shared libraries they load (from ldd), a config for containers, data in /data, run as the
#   `redis` user (999) as Docker's official image does. Unlike that image it declares no
#   `VOLUME /data`: the examples also run redis-cli clients on it, and each of their containers
#   would get an anonymous volume that outlives `down` (mount a named volume at /data instead).
# Each image is built only when missing. TSCOMPOSE names the CLI (default: this checkout's).
set -euo pipefail
tscompose="${TSCOMPOSE:-$(dirname "$0")/../bin/tscompose}"
REDIS_IMAGE=tscompose-examples/redis:7

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# busybox_rootfs DIR: a static busybox root in DIR.
busybox_rootfs() {
  local root=$1
  mkdir -p "$root"/{bin,sbin,etc,proc,sys,dev,tmp,root,var/www,run,home}
  chmod 1777 "$root/tmp"
  cp /usr/bin/busybox "$root/bin/busybox"
  for applet in $(/usr/bin/busybox --list); do [ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"; done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' > "$root/etc/group"
}

# copy_with_libs ROOT BINARY...: each binary at its own path in ROOT, with every shared library
# and the dynamic loader it needs (ldd's resolved paths, symlinks followed).
copy_with_libs() {
  local root=$1 bin lib
  shift
  for bin in "$@"; do
    install -D -m 0755 "$(readlink -f "$bin")" "$root$bin"
    for lib in $(ldd "$bin" | grep -o '/[^ ]*'); do
      [ -e "$root$lib" ] || install -D -m 0755 "$(readlink -f "$lib")" "$root$lib"
    done
  done
}

if ! "$tscompose" image inspect busybox:latest >/dev/null 2>&1; then
  busybox_rootfs "$work/busybox"
  tar -C "$work/busybox" --numeric-owner -cf - . | "$tscompose" image import -c 'CMD ["sh"]' - busybox:latest >/dev/null
  echo "built busybox:latest from Debian's busybox-static"
fi

if ! "$tscompose" image inspect "$REDIS_IMAGE" >/dev/null 2>&1; then
  for tool in /usr/bin/redis-server /usr/bin/redis-cli; do
    [ -x "$tool" ] || { echo "base-images: $tool is missing: apt-get install redis-server redis-tools (scripts/install-deps.sh)" >&2; exit 1; }
  done
  root="$work/redis"
  busybox_rootfs "$root"
  copy_with_libs "$root" /usr/bin/redis-server /usr/bin/redis-cli
  echo 'redis:x:999:999:redis:/data:/bin/false' >> "$root/etc/passwd"
  echo 'redis:x:999:' >> "$root/etc/group"
  mkdir -p "$root/etc/redis" "$root/data"
  chown 999:999 "$root/data"
  # Listening on every address without a password needs protected mode off, as the official
  # image does; the network (an internal one in the examples) is the boundary.
  printf '%s\n' 'bind * -::*' 'protected-mode no' 'port 6379' 'dir /data' 'daemonize no' 'logfile ""' > "$root/etc/redis/redis.conf"
  tar -C "$root" --numeric-owner -cf - . | "$tscompose" image import \
    -c 'CMD ["redis-server", "/etc/redis/redis.conf"]' -c 'EXPOSE 6379' -c 'WORKDIR /data' -c 'USER redis' \
    - "$REDIS_IMAGE" >/dev/null
  echo "built $REDIS_IMAGE from Debian's redis-server $(/usr/bin/redis-server --version | grep -o 'v=[0-9.]*' | cut -c3-)"
fi
