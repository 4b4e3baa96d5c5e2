#!/bin/sh
# Brings the data in Redis to schema version 2, each step one MULTI/EXEC transaction; running it
# again changes nothing.
set -eu
cli() { redis-cli -h "${REDIS_HOST:-redis}" "$@"; }
version=$(cli GET schema-version)
version=${version:-0}
echo "migrate: schema at version $version"
if [ "$version" -lt 1 ]; then
  printf '%s\n' MULTI 'DEL items' 'RPUSH items apple pear' 'SET schema-version 1' EXEC | cli >/dev/null
  echo "migrate: applied 1 (items)"
fi
if [ "$version" -lt 2 ]; then
  printf '%s\n' MULTI 'RPUSH items plum' 'SET schema-version 2' EXEC | cli >/dev/null
  echo "migrate: applied 2 (plum)"
fi
[ "$(cli GET schema-version)" = 2 ] || { echo "migrate: schema is not at version 2" >&2; exit 1; }
echo "migrate: done"
