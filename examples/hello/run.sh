#!/usr/bin/env bash
# The example: a web server in a container, published on 127.0.0.1, reached from the host.
set -euo pipefail
tscompose="${TSCOMPOSE:-$(dirname "$0")/../../bin/tscompose}"
here=$(cd "$(dirname "$0")" && pwd)
"$tscompose" -f "$here/compose.yaml" config --services >/dev/null
"$tscompose" container rm -f hello-web >/dev/null 2>&1 || true
"$tscompose" container run -d --name hello-web -p 127.0.0.1:8080:80 -v "$here/site:/var/www:ro" busybox httpd -f -p 80 -h /var/www >/dev/null
"$tscompose" container ls --filter name=hello-web
for _ in $(seq 1 50); do
  if out=$(node -e "require('http').get('http://127.0.0.1:8080/',r=>{let d='';r.on('data',c=>d+=c);r.on('end',()=>{process.stdout.write(d)})}).on('error',()=>process.exit(1))" 2>/dev/null); then
    echo "GET http://127.0.0.1:8080/ -> $out"
    break
  fi
  sleep 0.1
done
"$tscompose" container rm -f hello-web >/dev/null
