#!/bin/sh
# unlock.sh NAME: release what lock.sh NAME took (and, when a job was killed, what it left behind).
set -eu
rm -rf "${LOCK_DIR:-/tmp}/legacy-$1.lock"
