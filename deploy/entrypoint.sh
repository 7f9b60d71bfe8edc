#!/bin/sh
# Container start: migrate the database, refresh the index (keeps the last good one on a bad
# corpus), then serve. The offline embedding model is rebuilt into $ISOBOT_DATA_DIR on first use.
set -e
isobot db upgrade
if ! isobot reindex --quiet; then
  echo "entrypoint: reindex failed; serving the last good index (see the lines above)" >&2
fi
exec isobot run
