#!/usr/bin/env bash
# Starts Alluxio processes: alluxio-start.sh [-f] ACTION [Mount|SudoMount|NoMount]
#   local   a master, a worker and a FUSE mount on this machine
#   all     the masters of conf/masters and the workers of conf/workers, over
#           ssh (this host's own entries run here); without those files, local
#   master  this host's master; with several alluxio.master.embedded.journal.addresses
#           it is one of a group: run it on every master host
#   worker  this host's worker
#   fuse    this host's FUSE mount
#   -f      format the journal and worker storage first
# For local, all and worker, the MEM tier's directory is:
#   Mount      a tmpfs of the tier's quota mounted there (as root)
#   SudoMount  the same through sudo
#   NoMount    used as it is (the default; /dev/shm is a tmpfs already)
set -euo pipefail

usage() {
  echo "Usage: alluxio-start.sh [-f] ACTION [Mount|SudoMount|NoMount]" >&2
  echo "  ACTION: local | all | master | worker | fuse" >&2
  exit 2
}

self=$(readlink -f "${BASH_SOURCE[0]}")
bin_dir=$(dirname "$self")
export ALLUXIO_HOME=${ALLUXIO_HOME:-$(dirname "$bin_dir")}
ALLUXIO=$bin_dir/alluxio
ALLUXIO_FUSE=$bin_dir/alluxio-fuse

format=0
while getopts "fh" opt; do
  case $opt in
    f) format=1 ;;
    *) usage ;;
  esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] || usage
action=$1
mount_opt=${2:-NoMount}
case $mount_opt in
  Mount | SudoMount | NoMount) ;;
  *) echo "alluxio-start.sh: unknown ramdisk option '$mount_opt' (Mount, SudoMount or NoMount)" >&2; usage ;;
esac

conf() { "$ALLUXIO" getConf "$1"; }
logs_dir=$(conf alluxio.logs.dir)
mkdir -p "$logs_dir"

running() { # pidfile (the pid is its first line)
  [ -f "$1" ] && kill -0 "$(head -n 1 "$1")" 2>/dev/null
}

start_process() { # name [process, default name]
  local name=$1 process=${2:-$1} pidfile=$logs_dir/$1.pid
  if running "$pidfile"; then
    echo "$name is already running (pid $(head -n 1 "$pidfile"))"
    return 0
  fi
  nohup "$ALLUXIO" process "$process" >>"$logs_dir/$name.log" 2>&1 </dev/null &
  echo $! >"$pidfile"
  echo "Starting $name @ $(hostname) (pid $!), logs in $logs_dir/$name.log"
}

wait_for() { # what, pidfile, command...
  local what=$1 pidfile=$2
  shift 2
  for _ in $(seq 1 300); do
    if "$@" >/dev/null 2>&1; then
      return 0
    fi
    if ! running "$pidfile"; then
      echo "$what failed to start; last lines of its log:" >&2
      tail -n 20 "$logs_dir/$what.log" >&2
      exit 1
    fi
    sleep 0.2
  done
  echo "$what did not become ready within 60s; see $logs_dir/$what.log" >&2
  exit 1
}

start_master() {
  local root home_ufs
  root=$(conf alluxio.master.mount.table.root.ufs)
  home_ufs="$(conf alluxio.work.dir)/underFSStorage"
  # The default root under-store lives in the install; create it on first use.
  if [ "$root" = "$home_ufs" ] || [ "$root" = "file://$home_ufs" ]; then
    mkdir -p "$home_ufs"
  fi
  start_process master
  if [[ $(conf alluxio.master.embedded.journal.addresses) == *,* ]]; then
    # One master of a group (run this on each master host): it cannot lead
    # before a quorum is up, so wait only until it answers.
    wait_for master "$logs_dir/master.pid" "$ALLUXIO" fsadmin ping
  else
    wait_for master "$logs_dir/master.pid" \
      "$ALLUXIO" -Dalluxio.user.rpc.retry.max.duration=0 fs leader
  fi
}

# mount_ramdisk mounts a tmpfs of the MEM tier's quota at its directory
# (Mount, SudoMount); NoMount leaves the directory as it is.
mount_ramdisk() {
  local dir size sudo=""
  [ "$mount_opt" = NoMount ] && return 0
  [ "$(conf alluxio.worker.tieredstore.level0.alias)" = MEM ] || return 0
  dir=$(conf alluxio.worker.tieredstore.level0.dirs.path | cut -d, -f1)
  size=$("$ALLUXIO" getConf --unit B alluxio.worker.tieredstore.level0.dirs.quota | cut -d, -f1)
  if [ "$mount_opt" = SudoMount ] && [ "$(id -u)" != 0 ]; then
    sudo=sudo
  fi
  $sudo mkdir -p "$dir"
  # Huge pages where the kernel has them: the worker writes pages of 1 MiB,
  # and a tmpfs filled 4 KiB at a time costs it most of its CPU (see
  # docs/benchmarks.md).
  if awk -v d="$dir" '$2 == d && ($3 == "tmpfs" || $3 == "ramfs") {f = 1} END {exit !f}' /proc/mounts; then
    $sudo mount -o "remount,size=$size,huge=within_size" "$dir" 2>/dev/null ||
      $sudo mount -o "remount,size=$size" "$dir"
  else
    $sudo mount -t tmpfs -o "size=$size,huge=within_size" tmpfs "$dir" 2>/dev/null ||
      $sudo mount -t tmpfs -o "size=$size" tmpfs "$dir"
  fi
  echo "Mounted a ${size}-byte tmpfs at $dir for the MEM tier"
}

# hosts_of FILE: the hosts listed in conf/masters or conf/workers.
hosts_of() {
  local f
  f="$(conf alluxio.conf.dir)/$1"
  [ -f "$f" ] || return 0
  sed -e 's/#.*//' -e 's/[[:space:]]//g' "$f" | grep -v '^$' || true
}

# on_host HOST ACTION: runs alluxio-start.sh ACTION on HOST, here when the
# host is this one, else over ssh.
on_host() {
  local host=$1 what=$2
  case $host in
    localhost | 127.0.0.1 | "$(hostname)" | "$(hostname -f 2>/dev/null || hostname)")
      "$self" "$what" "$mount_opt" ;;
    *)
      echo "Starting $what on $host"
      ssh -o BatchMode=yes -o ConnectTimeout=10 "$host" \
        "ALLUXIO_HOME='$ALLUXIO_HOME' '$self' $what $mount_opt" ;;
  esac
}

start_all() {
  local masters workers h
  masters=$(hosts_of masters)
  workers=$(hosts_of workers)
  if [ -z "$masters$workers" ]; then
    # No host lists: everything on this machine.
    start_master
    start_worker
    start_fuse
    return
  fi
  for h in ${masters:-localhost}; do on_host "$h" master; done
  for h in ${workers:-localhost}; do on_host "$h" worker; done
}

start_worker() {
  mount_ramdisk
  local sock name=worker
  sock=$(conf alluxio.worker.data.server.domain.socket.address)
  # Another worker of this host (another ALLUXIO_CONF_DIR, same logs dir)
  # has worker.pid: this one is named after its RPC port. A worker's pid
  # file names its socket on the second line.
  if running "$logs_dir/worker.pid" && [ "$(sed -n 2p "$logs_dir/worker.pid")" != "$sock" ]; then
    name=worker-$(conf alluxio.worker.rpc.port)
  fi
  start_process "$name" worker
  if [ "$(sed -n 2p "$logs_dir/$name.pid")" != "$sock" ]; then
    echo "$sock" >>"$logs_dir/$name.pid"
  fi
  wait_for "$name" "$logs_dir/$name.pid" test -S "$sock"
}

start_fuse() {
  local mp
  mp=$(conf alluxio.fuse.mount.point)
  if grep -qs " $mp fuse.alluxio " /proc/mounts; then
    if stat "$mp" >/dev/null 2>&1; then
      echo "$mp is already mounted"
      return 0
    fi
    # A dead mount left by a FUSE daemon that was killed.
    "$ALLUXIO_FUSE" umount "$mp"
  fi
  mkdir -p "$mp"
  "$ALLUXIO_FUSE" mount "$mp"
}

if [ $format = 1 ]; then
  "$ALLUXIO" format
fi

case $action in
  local)
    start_master
    start_worker
    start_fuse
    ;;
  all) start_all ;;
  master) start_master ;;
  worker) start_worker ;;
  fuse) start_fuse ;;
  *) usage ;;
esac
