#!/usr/bin/env bash
# Stops Alluxio processes: alluxio-stop.sh local|all|master|worker|fuse
# FUSE mounts are unmounted first, so no dead mount is left behind.
set -uo pipefail

usage() {
  echo "Usage: alluxio-stop.sh ACTION" >&2
  echo "  ACTION: local | all | master | worker | fuse" >&2
  exit 2
}
[ $# -ge 1 ] || usage

self=$(readlink -f "${BASH_SOURCE[0]}")
bin_dir=$(dirname "$self")
export ALLUXIO_HOME=${ALLUXIO_HOME:-$(dirname "$bin_dir")}
ALLUXIO=$bin_dir/alluxio
ALLUXIO_FUSE=$bin_dir/alluxio-fuse
logs_dir=$("$ALLUXIO" getConf alluxio.logs.dir)

stop_process() { # name
  local name=$1 pidfile=$logs_dir/$1.pid pid
  [ -f "$pidfile" ] || { echo "$name is not running"; return 0; }
  pid=$(head -n 1 "$pidfile")
  if kill -TERM "$pid" 2>/dev/null; then
    for _ in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      echo "$name (pid $pid) did not stop in 10s; killing it"
      kill -KILL "$pid" 2>/dev/null
    fi
    echo "Stopped $name (pid $pid)"
  fi
  rm -f "$pidfile"
}

stop_fuse() {
  local pidfile mp configured
  # This installation's mounts: each daemon's pid file names its mount
  # point on the second line. Mounts of other installations are left alone.
  for pidfile in "$logs_dir"/fuse-*.pid; do
    [ -f "$pidfile" ] || continue
    mp=$(sed -n 2p "$pidfile")
    if [ -n "$mp" ]; then
      "$ALLUXIO_FUSE" umount "$mp"
    else
      kill -TERM "$(head -n 1 "$pidfile")" 2>/dev/null
    fi
    rm -f "$pidfile"
  done
  # The configured mount point, if a daemon left it mounted (or dead).
  configured=$("$ALLUXIO" getConf alluxio.fuse.mount.point)
  if awk -v mp="$configured" '$3 == "fuse.alluxio" && $2 == mp {found = 1} END {exit !found}' /proc/mounts; then
    "$ALLUXIO_FUSE" umount "$configured"
  fi
}

# stop_worker stops the worker of this configuration: the one whose pid
# file names its socket (several workers of one host share a logs dir).
stop_worker() {
  local sock pidfile
  sock=$("$ALLUXIO" getConf alluxio.worker.data.server.domain.socket.address)
  for pidfile in "$logs_dir"/worker.pid "$logs_dir"/worker-*.pid; do
    [ -f "$pidfile" ] || continue
    if [ "$(sed -n 2p "$pidfile")" = "$sock" ]; then
      stop_process "$(basename "$pidfile" .pid)"
      return
    fi
  done
  stop_process worker
}

# hosts_of FILE: the hosts listed in conf/masters or conf/workers.
hosts_of() {
  local f
  f="$("$ALLUXIO" getConf alluxio.conf.dir)/$1"
  [ -f "$f" ] || return 0
  sed -e 's/#.*//' -e 's/[[:space:]]//g' "$f" | grep -v '^$' || true
}

# on_host HOST ACTION: alluxio-stop.sh ACTION on HOST, here or over ssh.
on_host() {
  case $1 in
    localhost | 127.0.0.1 | "$(hostname)" | "$(hostname -f 2>/dev/null || hostname)") "$self" "$2" ;;
    *) ssh -o BatchMode=yes -o ConnectTimeout=10 "$1" "ALLUXIO_HOME='$ALLUXIO_HOME' '$self' $2" ;;
  esac
}

stop_all() {
  local masters workers h
  masters=$(hosts_of masters)
  workers=$(hosts_of workers)
  stop_fuse
  if [ -z "$masters$workers" ]; then
    stop_worker
    stop_process master
    return
  fi
  for h in ${workers:-localhost}; do on_host "$h" worker; done
  for h in ${masters:-localhost}; do on_host "$h" master; done
}

case $1 in
  local)
    stop_fuse
    stop_worker
    stop_process master
    ;;
  all) stop_all ;;
  master) stop_process master ;;
  worker) stop_worker ;;
  fuse) stop_fuse ;;
  *) usage ;;
esac
exit 0
