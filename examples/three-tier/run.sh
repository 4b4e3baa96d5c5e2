#!/usr/bin/env bash
# Brings the three-tier application up with health gating, asks the web front for data that
# travels web → api → store, shows the project, and takes it down again with its volume.
set -euo pipefail
tscompose="${TSCOMPOSE:-$(cd "$(dirname "$0")/../.." && pwd)/bin/tscompose}"
cd "$(dirname "$0")"
port="${WEB_PORT:-8080}"
"$tscompose" up -d --wait
"$tscompose" ps
body=$(node -e "require('http').get('http://127.0.0.1:${port}/cgi-bin/items',r=>{let d='';r.on('data',c=>d+=c);r.on('end',()=>process.stdout.write(d))}).on('error',e=>{console.error(e.message);process.exit(1)})")
echo "GET http://127.0.0.1:${port}/cgi-bin/items -> ${body}"
"$tscompose" down -v
