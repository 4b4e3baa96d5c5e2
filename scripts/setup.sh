#!/usr/bin/env bash
# A fresh machine's first command: installs everything, puts `tscompose` on the PATH, builds a
# busybox base image from Debian's busybox-static (no public registry is needed), and runs the
# example in examples/hello.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
npm link --silent >/dev/null 2>&1 || ln -sf "$PWD/bin/tscompose" /usr/local/bin/tscompose
bash scripts/base-images.sh
bash examples/hello/run.sh
bash examples/three-tier/run.sh
