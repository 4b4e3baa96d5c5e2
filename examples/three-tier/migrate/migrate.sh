#!/bin/sh
# Brings the store's data to schema version 2; running it again changes nothing.
set -eu
version=$(cat /data/schema-version 2>/dev/null || echo 0)
echo "migrate: schema at version $version"
if [ "$version" -lt 1 ]; then
  mkdir -p /data
  printf '["apple","pear"]' > /data/items
  echo 1 > /data/schema-version
  echo "migrate: applied 1 (items)"
fi
if [ "$version" -lt 2 ]; then
  printf '["apple","pear","plum"]' > /data/items
  echo 2 > /data/schema-version
  echo "migrate: applied 2 (plum)"
fi
echo "migrate: done"
