#!/bin/sh
# pg_backup.sh: dump one PostgreSQL database with pg_dump and keep the newest KEEP dumps.
#
# Connection from the usual libpq variables (PGHOST, PGPORT, PGUSER, PGDATABASE; the
# password from ~/.pgpass). BACKUP_DIR is where dumps go, KEEP how many to keep (7).
# The dump is written under a temporary name and renamed once complete, so a dump
# that fails or is killed (crontabber's timeout) never replaces a good one and is
# never counted by the rotation. Exit code 0 only when the dump and rotation worked.
set -eu

: "${PGDATABASE:?set PGDATABASE to the database to dump}"
BACKUP_DIR=${BACKUP_DIR:-/var/backups/postgres}
KEEP=${KEEP:-7}
case $KEEP in
    ''|*[!0-9]*) echo "KEEP must be a whole number, not '$KEEP'" >&2; exit 2 ;;
esac

mkdir -p "$BACKUP_DIR"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
final="$BACKUP_DIR/$PGDATABASE-$stamp.dump"
partial="$final.partial"
trap 'rm -f "$partial"' EXIT INT TERM

echo "dumping $PGDATABASE to $final"
pg_dump --format=custom --no-password --file="$partial" "$PGDATABASE"
mv "$partial" "$final"
echo "dump complete: $(wc -c < "$final") bytes"

# Rotation: the names sort by time; delete all but the newest KEEP complete dumps.
ls -1 "$BACKUP_DIR" | grep -E "^$PGDATABASE-[0-9]{8}T[0-9]{6}Z\.dump\$" | sort -r | tail -n +"$((KEEP + 1))" |
while IFS= read -r old; do
    echo "rotating out $old"
    rm -f "$BACKUP_DIR/$old"
done
