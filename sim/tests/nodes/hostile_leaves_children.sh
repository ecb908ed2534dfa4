#!/bin/sh
# A hostile node: before becoming an echo node it starts a process that leaves the node's
# process group (setsid), ignores SIGTERM and SIGHUP, holds the node's stdin, stdout and
# stderr open, and has a child of its own. It logs both pids.
setsid sh -c 'trap "" TERM HUP; sleep 300 & echo "grandchild pid $!" >&2; wait' &
echo "child pid $!" >&2
exec python3 "$(dirname "$0")/echo.py" "$@"
