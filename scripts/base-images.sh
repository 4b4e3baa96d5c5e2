#!/usr/bin/env bash
# Builds the `busybox:latest` base image from Debian's busybox-static, as `image import` of a
# root filesystem: /bin/busybox with one link per applet, /etc/passwd and /etc/group.
set -euo pipefail
tscompose="${TSCOMPOSE:-$(dirname "$0")/../bin/tscompose}"
if "$tscompose" image inspect busybox:latest >/dev/null 2>&1; then exit 0; fi
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,sbin,etc,proc,sys,dev,tmp,root,var/www,run,home}
chmod 1777 "$root/tmp"
cp /usr/bin/busybox "$root/bin/busybox"
for applet in $(/usr/bin/busybox --list); do [ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"; done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$root/etc/group"
tar -C "$root" --numeric-owner -cf - . | "$tscompose" image import -c 'CMD ["sh"]' - busybox:latest >/dev/null
echo "built busybox:latest from Debian's busybox-static"
