#!/usr/bin/env bash
# Entrypoint of the alluxio-go image. The first argument picks what runs, in
# the foreground, so that the container's life is the process's life:
#
#   master [-Dk=v ...]                 alluxio process master
#   worker [-Dk=v ...]                 alluxio process worker
#   fuse [-o opts] [--fuse-opts=opts] [MOUNT_POINT [ALLUXIO_PATH]]
#                                      alluxio-fuse run ..., after removing a
#                                      dead mount a killed container left behind
#   format-journal [-Dk=v ...]         alluxio formatJournal; with
#                                      ALLUXIO_FORMAT_TOKEN set, only once per
#                                      token (the journal keeps the token, and
#                                      masters of different tokens refuse each
#                                      other, see alluxio formatJournal --token)
#   format-worker                      alluxio formatWorker
#   alluxio-fuse ARGS...               alluxio-fuse ARGS...
#   PROGRAM ARGS...                    a program on the PATH (bash, alluxio, ...)
#   ARGS...                            alluxio ARGS... (fs ls /, getConf, version)
#
# Properties come from $ALLUXIO_CONF_DIR (default $ALLUXIO_HOME/conf)
# alluxio-site.properties, the -D words of ALLUXIO_JAVA_OPTS and
# ALLUXIO_<ROLE>_JAVA_OPTS in the environment, and -Dkey=value arguments.
set -euo pipefail

export ALLUXIO_HOME=${ALLUXIO_HOME:-/opt/alluxio}
ALLUXIO=${ALLUXIO:-$ALLUXIO_HOME/bin/alluxio}
ALLUXIO_FUSE=${ALLUXIO_FUSE:-$ALLUXIO_HOME/bin/alluxio-fuse}

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
}

# format_journal formats the master journal. When ALLUXIO_FORMAT_TOKEN is
# set (the Helm chart sets it to the release revision) the journal keeps
# the token, so that a pod restarted later in the same release does not
# format again: only the rollout that asked for it formats.
format_journal() {
  local token=${ALLUXIO_FORMAT_TOKEN:-}
  if [ -z "$token" ]; then
    exec "$ALLUXIO" "$@" formatJournal
  fi
  exec "$ALLUXIO" "$@" formatJournal --token "$token"
}

# mounted tells whether a FUSE file system is mounted at $1.
mounted() {
  local dir type
  while read -r _ dir type _; do
    if [ "$dir" = "$1" ] && [[ $type == fuse* ]]; then
      return 0
    fi
  done </proc/mounts
  return 1
}

# fuse runs the FUSE daemon in the foreground. Alluxio's --fuse-opts=a,b
# is taken as -o a,b.
fuse() {
  local args=() flags=() operands=() a mp
  while [ $# -gt 0 ]; do
    a=$1
    shift
    case $a in
      --fuse-opts=*) args+=(-o "${a#--fuse-opts=}") ;;
      -o)
        [ $# -gt 0 ] || { echo "entrypoint: -o needs a value" >&2; exit 2; }
        args+=(-o "$1")
        shift
        ;;
      -o*) args+=("$a") ;;
      -D*) flags+=("$a") ;;
      *) operands+=("$a") ;;
    esac
  done
  if [ ${#operands[@]} -gt 0 ]; then
    mp=${operands[0]}
  else
    mp=$("$ALLUXIO" "${flags[@]}" getConf alluxio.fuse.mount.point)
    operands=("$mp")
  fi
  # With Bidirectional mount propagation the mount outlives a container
  # that was killed: a dead mount (ENOTCONN) is removed; a live one belongs
  # to a container still stopping, so wait for it.
  for _ in $(seq 1 60); do
    mounted "$mp" || break
    if ! timeout 5 stat -t "$mp" >/dev/null 2>&1; then
      echo "removing the dead FUSE mount at $mp"
      "$ALLUXIO_FUSE" "${flags[@]}" umount "$mp" || true
      continue
    fi
    echo "$mp is mounted by another FUSE daemon; waiting for it to stop"
    sleep 1
  done
  if mounted "$mp"; then
    echo "entrypoint: $mp is still mounted; not mounting again" >&2
    exit 1
  fi
  mkdir -p "$mp"
  exec "$ALLUXIO_FUSE" "${flags[@]}" run "${args[@]}" "${operands[@]}"
}

if [ $# -eq 0 ]; then
  usage
  exit 2
fi

role=$1
shift
case $role in
  -h | --help | help) usage ;;
  master | worker) exec "$ALLUXIO" process "$role" "$@" ;;
  fuse) fuse "$@" ;;
  format-journal) format_journal "$@" ;;
  format-worker) exec "$ALLUXIO" "$@" formatWorker ;;
  alluxio-fuse) exec "$ALLUXIO_FUSE" "$@" ;;
  job-master | job-worker | proxy | logserver)
    echo "entrypoint: alluxio-go has no $role process" >&2
    exit 2
    ;;
  *)
    if command -v "$role" >/dev/null 2>&1; then
      exec "$role" "$@"
    fi
    exec "$ALLUXIO" "$role" "$@"
    ;;
esac
