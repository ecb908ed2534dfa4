#!/bin/sh
# A wrapper that starts the echo node as a child without `exec`: killing the wrapper alone
# would leave the child running. It logs the child's pid so a test can check it is gone.
exec 3<&0
python3 "$(dirname "$0")/echo.py" "$@" <&3 &
child=$!
echo "child pid $child" >&2
wait "$child"
