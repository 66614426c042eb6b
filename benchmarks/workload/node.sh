#!/bin/sh
# A stand-in Octavia node for benchmarks: cheap, real shell work on a bare sshd node.
# Service state is a file per unit under ROOT/HOST/run; every action appends
# "<action> <args>" to ROOT/HOST/ops, so the benchmark runner can check that
# octavia-upgrade, ansible-playbook and the ssh loop did exactly the same work.
# ROOT/first receives the time of the first action after it was removed (resume figure).
root=$1; host=$2; act=$3; shift 3
d="$root/$host"
[ -e "$root/first" ] || date +%s.%N > "$root/first"
echo "$act $*" >> "$d/ops"
case "$act" in
  noop) ;;
  stop) rm -f "$d/run/$1" ;;
  start) : > "$d/run/$1" ;;
  is-active) [ -e "$d/run/$1" ] || exit 3 ;;
  version) cat "$d/version" ;;
  lib-version) cat "$d/lib-version" ;;
  upgrade) echo "$1" > "$d/version"; echo "$2" > "$d/lib-version" ;;
  backup-config) cp "$d/octavia.conf" "$d/octavia.conf.bak" ;;
  write-config) printf '[DEFAULT]\ndebug = False\n[api_settings]\nrelease = %s\n' "$1" > "$d/octavia.conf" ;;
  read-config) cat "$d/octavia.conf" ;;
  migrate) [ ! -e "$root/fail-migrate" ] || { echo "migration failed" >&2; exit 1; }
           echo "$1" > "$root/db-revision" ;;
  cleanup) rm -f "$d/octavia.conf.bak" ;;
  mark-done) echo "$1" > "$d/upgraded-to" ;;
  *) echo "node.sh: unknown action $act" >&2; exit 2 ;;
esac
