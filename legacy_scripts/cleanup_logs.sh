#!/bin/sh
# cleanup_logs.sh DAYS: compress logs older than a day, delete logs older than DAYS.
#
# LOG_DIR is the folder to clean (/var/log/legacy). Only files named *.log or
# *.log.N(.gz) are touched; anything else in the folder is left alone.
set -eu

DAYS=${1:-14}
LOG_DIR=${LOG_DIR:-/var/log/legacy}
case $DAYS in
    ''|*[!0-9]*) echo "usage: cleanup_logs.sh DAYS (a whole number)" >&2; exit 2 ;;
esac
if [ ! -d "$LOG_DIR" ]; then
    echo "LOG_DIR $LOG_DIR does not exist" >&2
    exit 1
fi

deleted=$(find "$LOG_DIR" -type f \( -name '*.log' -o -name '*.log.[0-9]*' \) -mtime +"$DAYS" -print -delete | wc -l)
find "$LOG_DIR" -type f \( -name '*.log.[0-9]' -o -name '*.log.[0-9][0-9]' \) -mtime +0 -exec gzip -f {} +
echo "deleted $deleted log files older than $DAYS days from $LOG_DIR"
