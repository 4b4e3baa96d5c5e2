#!/usr/bin/env bash
# Brings the three-tier application up with health gating, asks the web front for data that
# travels web → api → redis twice (the visit counter goes up), shows the project, and takes it
# down again with its volume.
set -euo pipefail
tscompose="${TSCOMPOSE:-$(cd "$(dirname "$0")/../.." && pwd)/bin/tscompose}"
cd "$(dirname "$0")"
port="${WEB_PORT:-8080}"
get() {
  node -e "require('http').get('http://127.0.0.1:${port}$1',r=>{let d='';r.on('data',c=>d+=c);r.on('end',()=>{process.stdout.write(d);process.exit(r.statusCode===200?0:1)})}).on('error',e=>{console.error(e.message);process.exit(1)})"
}
"$tscompose" up -d --wait
"$tscompose" ps
for _ in 1 2; do echo "GET http://127.0.0.1:${port}/cgi-bin/items -> $(get /cgi-bin/items)"; done
"$tscompose" down -v
