# crontabber's job watcher (crontabber.supervision): it kills a job's process group if the
# runner that started the job dies. Its stdin is the lifeline, whose only writer is the
# runner: first the process group to guard, then "done" when the runner is finished with
# it; end of file before "done" means the runner died. $1: the SIGTERM grace, in tenths of
# a second. The descriptors it inherits keep the job's lock alive until it exits.
trap '' HUP INT TERM PIPE
grace=$1
read -r group || exit 0
[ "$group" = none ] && exit 0
read -r word && [ "$word" = done ] && exit 0

alive() {  # a member of the group that is not a zombie (init may reap those late)
    [ -d /proc/self ] || { kill -s 0 -- "-$group" 2>/dev/null; return; }
    for stat in /proc/[0-9]*/stat; do
        read -r line < "$stat" 2>/dev/null || continue
        set -- ${line##*") "}
        [ "$3" = "$group" ] && [ "$1" != Z ] && [ "$1" != X ] && return 0
    done
    return 1
}

kill -s TERM -- "-$group" 2>/dev/null || exit 0
n=0
while [ "$n" -lt "$grace" ] && alive; do sleep 0.1; n=$((n + 1)); done
if alive; then
    kill -s KILL -- "-$group" 2>/dev/null
    # SIGKILL is only queued: wait until the group is gone before exiting, since exiting lets the
    # job's lock go (a second copy must never start while a first one still holds its files)
    n=0
    while [ "$n" -lt 100 ] && alive; do sleep 0.05; n=$((n + 1)); done
fi
exit 0
