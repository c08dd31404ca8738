#!/bin/sh
# Re-record virsh's output on libvirt's test driver for the commands in commands.txt:
# each line "NAME: virsh arguments" writes NAME.out (stdout) and NAME.status (exit status).
# Commands run in a scratch directory, so relative file names land there (as the tests run
# virtkit in theirs). Run from this directory with Debian's libvirt-clients installed:
#   sh record.sh
set -u
here=$(pwd)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
while IFS= read -r line; do
    case "$line" in ''|'#'*) continue ;; esac
    name=${line%%:*}
    args=${line#*: }
    # shellcheck disable=SC2086
    (cd "$scratch" && virsh -c test:///default $args) > "$here/$name.out" 2>/dev/null
    echo $? > "$here/$name.status"
done < commands.txt
