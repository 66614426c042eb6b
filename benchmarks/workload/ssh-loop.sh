#!/bin/bash
# The benchmark workload as a plain loop of `ssh` through one ControlMaster per
# host: the floor for any tool that runs one remote command at a time. It runs
# exactly the remote commands octavia-upgrade runs for runbook.yaml, one ssh
# call each, in the same order per host.
#
# usage: ssh-loop.sh rolling|parallel STEPS NODE_SH ROOT CONTROL_DIR NAME=ADDRESS...
#   rolling: each step on one host after the other; parallel: each step on all
#   hosts at once (one background ssh chain per host), then the next step.
#   STEPS: run steps 1..STEPS of the 20. CONTROL_DIR/NAME is each host's
#   ControlMaster socket (started by benchmarks/run).
set -u
mode=$1 steps=$2 node=$3 root=$4 cdir=$5
shift 5
hosts=("$@")

r() {  # r NAME=ADDRESS ARGS: one node.sh action over the host's ControlMaster
    local name=${1%%=*} addr=${1#*=}
    ssh -F none -o BatchMode=yes -o ControlMaster=no -o "ControlPath=$cdir/$name" \
        "root@$addr" "$node $root $name $2"
}

service() {  # service HOST stop|start UNIT: the action, then its check
    r "$1" "$2 $3" || return 1
    r "$1" "is-active $3"
    local rc=$?
    if [ "$2" = stop ]; then [ $rc -eq 3 ]; else [ $rc -eq 0 ]; fi
}

step() {  # step N HOST: step N of runbook.yaml on one host
    local h=$2
    case $1 in
        1|18) r "$h" version ;;
        2) service "$h" stop octavia-housekeeping ;;
        3) service "$h" stop octavia-health-manager ;;
        4) service "$h" stop octavia-worker ;;
        5) service "$h" stop octavia-driver-agent ;;
        6) service "$h" stop octavia-api ;;
        7) r "$h" backup-config ;;
        8) r "$h" version && r "$h" lib-version && r "$h" "upgrade 16.0.1 3.8.0" &&
           r "$h" version && r "$h" lib-version ;;
        9) r "$h" "write-config epoxy" ;;
        10) r "$h" read-config ;;
        11) r "$h" "migrate fabf4983846b" ;;
        12) service "$h" start octavia-api ;;
        13) service "$h" start octavia-worker ;;
        14) service "$h" start octavia-health-manager ;;
        15) service "$h" start octavia-housekeeping ;;
        16) service "$h" start octavia-driver-agent ;;
        17) until r "$h" "is-active octavia-api"; do sleep 0.25; done ;;
        19) r "$h" cleanup ;;
        20) r "$h" "mark-done epoxy" ;;
    esac >/dev/null
}

for ((s = 1; s <= steps; s++)); do
    if [ $s -eq 11 ]; then  # once-only: the first host
        step $s "${hosts[0]}" || { echo "step $s failed on ${hosts[0]}" >&2; exit 1; }
    elif [ "$mode" = rolling ]; then
        for h in "${hosts[@]}"; do
            step $s "$h" || { echo "step $s failed on $h" >&2; exit 1; }
        done
    else
        pids=()
        for h in "${hosts[@]}"; do step $s "$h" & pids+=($!); done
        failed=0
        for p in "${pids[@]}"; do wait "$p" || failed=1; done
        [ $failed -eq 0 ] || { echo "step $s failed" >&2; exit 1; }
    fi
done
