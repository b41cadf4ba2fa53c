#!/bin/sh
# crontabber.sh: the one line left in the crontab once the jobs moved to crontabber.
#
#   * * * * * /opt/legacy_scripts/crontabber.sh >> /var/log/crontabber.log 2>&1
#
# Like Socorro's wrapper of the same name: it sets up the environment cron does not
# give (virtualenv, PATH, the config file), then runs one crontabber tick. Any
# arguments are passed on, so the same wrapper serves 'list', 'nagios', 'configtest'
# and '--job NAME --force' by hand. crontabber locks each job itself, so this wrapper
# needs no flock: overlapping ticks skip the jobs that are still running.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
CRONTABBER_INI=${CRONTABBER_INI:-$HERE/crontabber.ini}
CRONTABBER_VENV=${CRONTABBER_VENV:-/opt/crontabber/venv}

if [ -x "$CRONTABBER_VENV/bin/crontabber" ]; then
    PATH=$CRONTABBER_VENV/bin:$PATH
fi
PATH=$PATH:/usr/local/bin:/usr/bin:/bin
export PATH

# Site settings (PGHOST, BACKUP_DIR...) for the jobs, if the host has them.
if [ -r /etc/default/crontabber ]; then
    . /etc/default/crontabber
fi

exec crontabber --admin.conf="$CRONTABBER_INI" "$@"
