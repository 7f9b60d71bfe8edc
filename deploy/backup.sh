#!/bin/sh
# Nightly backup for cron: the database (SQLite online backup, or pg_dump for PostgreSQL), corpus/
# and .env, into BACKUP_DIR (default /srv/backup/isobot), keeping KEEP_DAYS days (default 30).
# Usage: deploy/backup.sh [BACKUP_DIR]    (run from anywhere; works on the install it lives in)
set -eu
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
dest="${1:-${BACKUP_DIR:-/srv/backup/isobot}}"
keep="${KEEP_DAYS:-30}"
stamp="$(date +%Y-%m-%d_%H%M)"
mkdir -p "$dest"
umask 077

# The database URL comes from the same settings the bot reads (.env, environment).
url="$(.venv/bin/python -c 'from retrieval.settings import load_settings; print(load_settings().effective_database_url)')"
case "$url" in
  sqlite*)
    # A plain file copy can miss pages still in the WAL file; SQLite's backup API cannot.
    .venv/bin/python - "$url" "$dest/isobot-$stamp.db" <<'PY'
import sqlite3, sys
from sqlalchemy.engine import make_url
src = sqlite3.connect(make_url(sys.argv[1]).database)
dst = sqlite3.connect(sys.argv[2])
src.backup(dst)
dst.close()
src.close()
PY
    ;;
  postgresql*)
    # pg_dump takes libpq URLs without the SQLAlchemy driver suffix.
    pg_dump -Fc -f "$dest/isobot-$stamp.dump" "$(echo "$url" | sed 's/^postgresql+[a-z0-9]*:/postgresql:/')"
    ;;
  *)
    echo "backup: unsupported DATABASE_URL scheme: ${url%%:*}" >&2
    exit 1
    ;;
esac

files="corpus"
[ -f .env ] && files="$files .env"
tar czf "$dest/corpus-$stamp.tar.gz" $files
find "$dest" -maxdepth 1 -type f \( -name 'isobot-*' -o -name 'corpus-*' \) -mtime +"$keep" -delete
echo "backup: $dest/*-$stamp.* written"
