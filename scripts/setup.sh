#!/usr/bin/env bash
# A fresh machine's first command: installs everything, puts `tscompose` on the PATH, builds the
# examples' base images from Debian packages (busybox, Redis; no public registry is needed), and
# runs the examples in examples/hello and examples/three-tier.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
npm link --silent >/dev/null 2>&1 || ln -sf "$PWD/bin/tscompose" /usr/local/bin/tscompose
bash scripts/base-images.sh
bash examples/hello/run.sh
bash examples/three-tier/run.sh
