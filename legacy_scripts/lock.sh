#!/bin/sh
# lock.sh NAME: the legacy crontab's lock helper (mkdir is atomic). Exits 1 when NAME is held.
# crontabber makes it unnecessary: import-crontab drops 'lock.sh NAME && ...; unlock.sh NAME'.
set -eu
dir=${LOCK_DIR:-/tmp}/legacy-$1.lock
if mkdir "$dir" 2>/dev/null; then
    echo $$ > "$dir/pid"
    exit 0
fi
echo "$1 is locked by pid $(cat "$dir/pid" 2>/dev/null || echo '?'); not starting" >&2
exit 1
