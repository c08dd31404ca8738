#!/bin/sh
# Re-record virsh's output on libvirt's test driver for the commands in commands.txt:
# each line "NAME: virsh arguments" writes NAME.out (stdout) and NAME.status (exit status).
# Run from this directory with Debian's libvirt-clients installed:  sh record.sh
set -u
while IFS= read -r line; do
    case "$line" in ''|'#'*) continue ;; esac
    name=${line%%:*}
    args=${line#*: }
    # shellcheck disable=SC2086
    virsh -c test:///default $args > "$name.out" 2>/dev/null
    echo $? > "$name.status"
done < commands.txt
