#!/bin/sh
# A simulated Octavia control plane for engine tests on bare sshd nodes.
# State lives under ROOT/HOST (nodes share the test machine's filesystem);
# every action appends "<epoch> <host> <action> <args>" to ROOT/ops.log so
# tests can assert the order in which things really happened on the nodes.
root=$1; host=$2; act=$3; shift 3
d="$root/$host"
mkdir -p "$d/run"
log() { echo "$(date +%s.%N) $host $*" >> "$root/ops.log"; }
case "$act" in
  stop)
    log stop "$1"
    if [ -f "$d/stuck-$1" ]; then sleep 600; fi
    rm -f "$d/run/$1" ;;
  start)   log start "$1"; touch "$d/run/$1" ;;
  restart) log restart "$1"; touch "$d/run/$1" ;;
  is-active)
    if [ -f "$d/run/$1" ]; then echo active; else echo inactive; exit 3; fi ;;
  exists)    echo "$host exists $1" >> "$root/checks.log"; [ -f "$d/units/$1" ] || { echo "no unit $1" >&2; exit 1; } ;;
  disk-free) echo "$host disk-free $1" >> "$root/checks.log"; [ ! -f "$root/disk-full" ] || { echo "not enough space in $1" >&2; exit 1; } ;;
  version)     cat "$d/version" ;;
  lib-version) cat "$d/lib-version" ;;
  upgrade)
    log upgrade "$1" "$2"
    echo "$1" > "$d/version"; echo "$2" > "$d/lib-version"; echo "$3" > "$root/pending-head" ;;
  record)  cat "$d/version" "$d/lib-version" ;;
  free-mb) echo "${SIM_FREE_MB:-$(cat "$root/free-mb" 2>/dev/null || echo 100000)}" ;;
  stage)
    log stage "$1" "$2"
    if [ -f "$root/slow-stage" ]; then sleep 30; fi
    echo "$1 $2 $3" > "$d/staged" ;;
  verify)  read -r v l h < "$d/staged" && echo "octavia $v" ;;
  activate)
    log activate
    read -r v l h < "$d/staged" || exit 1
    echo "$v" > "$d/version"; echo "$l" > "$d/lib-version"; echo "$h" > "$root/pending-head" ;;
  revert)
    log revert "$1" "$2"
    [ -n "$1" ] || { echo "nothing recorded" >&2; exit 1; }
    echo "$1" > "$d/version"; echo "$2" > "$d/lib-version" ;;
  db)
    case "$1" in
      current) echo "INFO  [alembic.runtime.migration] Context impl MySQLImpl."
               echo "$(cat "$root/db-revision") (head)" ;;
      upgrade)
        log db-upgrade "$2"
        # fail-migration-after REV: the migration stops half way, at REV.
        if [ -f "$root/fail-migration-after" ]; then
          cp "$root/fail-migration-after" "$root/db-revision"
          # tamper-dumps DIR: something changes every dump in DIR meanwhile.
          if [ -f "$root/tamper-dumps" ]; then
            for f in "$(cat "$root/tamper-dumps")"/*.sql.gz; do echo x >> "$f"; done
          fi
          echo "migration failed half way: simulated" >&2; exit 1
        fi
        if [ -f "$root/fail-migration" ]; then echo "migration failed: simulated" >&2; exit 1; fi
        cp "$root/pending-head" "$root/db-revision" ;;
      *) echo "unsupported: $*" >&2; exit 2 ;;
    esac ;;
  status)
    log status
    cat "$root/status-output" 2>/dev/null
    exit "$(cat "$root/status-rc" 2>/dev/null || echo 0)" ;;
  backup)
    log backup "$1"
    echo "-- dump of $2 ($(cat "$root/db-revision"))" | gzip > "$1" ;;
  restore)
    # The dump's first line names the revision it was taken at (see backup).
    log restore "$1"
    rev=$(gzip -dc "$1" | sed -n 's/^-- dump of .* (\(.*\))$/\1/p')
    [ -n "$rev" ] || { echo "sim: $1 is not a dump" >&2; exit 1; }
    echo "$rev" > "$root/db-revision" ;;
  read-config) ls -1 "$d/octavia.conf" ;;
  *) echo "sim: unknown action $act" >&2; exit 2 ;;
esac
