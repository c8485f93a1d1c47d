#!/usr/bin/env bash
# check.sh builds packaging/docker/Dockerfile, unchanged, without a Docker
# engine or a registry, and checks the image it makes (`make image-check`).
#
# It uses buildah (installed from Debian's packages when missing) with a
# private storage under a temporary folder, chroot isolation and the host's
# network, as root:
#
#   1. the two base images that the Dockerfile names are made locally and
#      tagged with exactly those names: debian:bookworm-slim is a debootstrap
#      --variant=minbase rootfs of bookworm (with the host's Debian apt
#      sources); golang:<GO_VERSION>-bookworm is that plus the host's Go
#      toolchain ($(go env GOROOT)) at /usr/local/go, the host's CA bundle,
#      and the host's GOPROXY, GOSUMDB, GONOSUMDB, ... in its environment, so
#      that `go mod download` in the build reaches the same module proxy;
#   2. the Dockerfile is built with --pull=never, as `docker build` would
#      (its .dockerignore is packaging/docker/Dockerfile.dockerignore);
#   3. the image is checked: its config (user 1000:1000, entrypoint, CMD,
#      ALLUXIO_HOME), static binaries (no ELF interpreter), `alluxio version`
#      and the entrypoint's role mapping, and a master started through the
#      entrypoint (host network, 127.0.0.1 and free ports only) that answers
#      `alluxio fs ls /` run through the entrypoint as well.
#
# Everything it made (containers, images, storage, the rootfs) is removed on
# exit, whatever happens; the master is stopped by its process group id.
#
# Environment:
#   IMAGE          tag of the built image (default localhost/alluxio-go:check)
#   VERSION        build argument VERSION (default 0.1.0-imagecheck)
#   DEBIAN_MIRROR  mirror for debootstrap (default: the host's Debian source)
#   CHECK_TMPDIR   parent of the temporary folder (default /var/tmp)
set -euo pipefail

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'image-check: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (debootstrap, buildah chroot isolation)"
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
root=$PWD
dockerfile=packaging/docker/Dockerfile
[ -f "$dockerfile" ] || die "$dockerfile: not found"
command -v go >/dev/null || die "go: not on the PATH (its GOROOT becomes the golang base image)"

started=$(date +%s)
IMAGE=${IMAGE:-localhost/alluxio-go:check}
VERSION=${VERSION:-0.1.0-imagecheck}

# Tools, from Debian's packages.
need=()
command -v buildah >/dev/null || need+=(buildah)
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v file >/dev/null || need+=(file)
command -v python3 >/dev/null || need+=(python3)
if [ ${#need[@]} -gt 0 ]; then
  say "installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

tmp=$(mktemp -d "${CHECK_TMPDIR:-/var/tmp}/alluxio-image-check.XXXXXX")
B=(buildah --root "$tmp/storage" --runroot "$tmp/runroot" --storage-driver vfs)
master_pgid=""
child=""
# Buildah's temporary files too.
export TMPDIR=$tmp

# longrun runs a long command in the background and waits for it, so that a
# signal ends the script at once (bash runs traps only between commands).
longrun() {
  local rc=0
  "$@" &
  child=$!
  wait "$child" || rc=$?
  child=""
  return $rc
}

# descendants prints the PIDs of the processes under PID $1.
descendants() {
  local c
  for c in $(ps -o pid= --ppid "$1"); do
    echo "$c"
    descendants "$c"
  done
}

cleanup() {
  local rc=$?
  set +e
  if [ -n "$child" ]; then
    local pids
    pids="$child $(descendants "$child")"
    # shellcheck disable=SC2086
    kill -TERM $pids 2>/dev/null
    for _ in $(seq 1 100); do
      kill -0 "$child" 2>/dev/null || break
      sleep 0.1
    done
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null
    wait "$child" 2>/dev/null
  fi
  if [ -n "$master_pgid" ]; then
    kill -TERM -- "-$master_pgid" 2>/dev/null
    for _ in $(seq 1 100); do
      kill -0 -- "-$master_pgid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL -- "-$master_pgid" 2>/dev/null
    wait "$master_pgid" 2>/dev/null
  fi
  # Any process still running in the image's rootfs was started here.
  local p r
  for p in /proc/[0-9]*; do
    r=$(readlink "$p/root" 2>/dev/null) || continue
    if [[ $r == "$tmp"/* ]]; then
      echo "image-check: killing ${p#/proc/}, left running in $r" >&2
      kill -KILL "${p#/proc/}" 2>/dev/null
    fi
  done
  "${B[@]}" rm --all >/dev/null 2>&1
  "${B[@]}" rmi --all --force >/dev/null 2>&1
  # buildah's chroot isolation bind-mounts host folders (/dev, /proc, ...)
  # for each RUN: never remove the folder while anything is mounted in it.
  local mounts
  mounts=$(awk -v p="$tmp/" 'index($2, p) == 1 {print $2}' /proc/self/mounts | sort -r)
  if [ -n "$mounts" ]; then
    while read -r m; do umount -l "$m"; done <<<"$mounts"
  fi
  if awk -v p="$tmp/" 'index($2, p) == 1 {found = 1} END {exit !found}' /proc/self/mounts; then
    echo "image-check: mounts left under $tmp; not removing it" >&2
  else
    rm -rf --one-file-system "$tmp"
  fi
  echo "image-check: $( [ $rc = 0 ] && echo PASS || echo FAIL ) in $(($(date +%s) - started))s" >&2
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The Debian mirror: the host's own (the first http(s) URI of a Debian
# source), so that the base image and the runtime stage's apt-get use it.
mirror=${DEBIAN_MIRROR:-}
if [ -z "$mirror" ]; then
  mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list 2>/dev/null |
    grep -v '^[[:space:]]*#' | grep -o 'https\?://[^ ]*/debian/\?' | grep -v security | head -n1 || true)
  mirror=${mirror:-http://deb.debian.org/debian}
fi

# 1a. debian:bookworm-slim.
say "debootstrap --variant=minbase bookworm from $mirror"
rootfs=$tmp/rootfs
longrun debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$tmp/debootstrap.log" 2>&1 ||
  { tail -n 20 "$tmp/debootstrap.log" >&2; die "debootstrap failed"; }
# The host's apt sources when they are Debian's (keyrings the rootfs has),
# and its Acquire:: settings (e.g. a snapshot mirror's Check-Valid-Until).
shopt -s nullglob
copied=0
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list; do
  [ -s "$f" ] || continue
  ok=1
  # shellcheck disable=SC2013 # keyring paths have no spaces
  for k in $(grep -o 'signed-by[=:][[:space:]]*[^] ]*' -i "$f" | sed 's/^[^=:]*[=:][[:space:]]*//'); do
    [ -e "$rootfs$k" ] || ok=0
  done
  grep -q 'debian' "$f" || ok=0
  if [ $ok = 1 ]; then
    mkdir -p "$rootfs$(dirname "$f")"
    cp "$f" "$rootfs$f"
    copied=1
  fi
done
# debootstrap's own sources.list would repeat them.
if [ $copied = 1 ] && [ ! -s /etc/apt/sources.list ]; then
  rm -f "$rootfs/etc/apt/sources.list"
fi
for f in /etc/apt/apt.conf.d/*; do
  [ -f "$f" ] || continue
  if ! grep -v -e '^[[:space:]]*$' -e '^[[:space:]]*//' -e '^[[:space:]]*#' -e '^[[:space:]]*Acquire::' "$f" | grep -q .; then
    cp "$f" "$rootfs/etc/apt/apt.conf.d/"
  fi
done
shopt -u nullglob
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb
find "$rootfs/dev" -mindepth 1 -delete

base_env=(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin)
ctr=$("${B[@]}" from scratch)
mnt=$("${B[@]}" mount "$ctr")
cp -a "$rootfs/." "$mnt/"
"${B[@]}" umount "$ctr" >/dev/null
"${B[@]}" config --env "${base_env[0]}" --cmd bash --os linux --arch "$(go env GOARCH)" "$ctr"
"${B[@]}" commit --quiet --format docker "$ctr" docker.io/library/debian:bookworm-slim >/dev/null
"${B[@]}" rm "$ctr" >/dev/null
rm -rf --one-file-system "$rootfs"

# 1b. golang:<GO_VERSION>-bookworm: the Dockerfile's default GO_VERSION.
go_version=$(sed -n 's/^ARG GO_VERSION=//p' "$dockerfile" | head -n1)
[ -n "$go_version" ] || die "$dockerfile: no ARG GO_VERSION=<default>"
goroot=$(go env GOROOT)
host_go=$(go env GOVERSION)
case $host_go in
  go"$go_version" | go"$go_version".*) ;;
  *) die "host Go is $host_go, the Dockerfile wants golang:$go_version-bookworm" ;;
esac
say "golang:$go_version-bookworm from $goroot ($host_go)"
ctr=$("${B[@]}" from --pull=never docker.io/library/debian:bookworm-slim)
mnt=$("${B[@]}" mount "$ctr")
mkdir -p "$mnt/usr/local/go" "$mnt/go/bin" "$mnt/etc/ssl/certs"
cp -a "$goroot/." "$mnt/usr/local/go/"
# The official image has ca-certificates; the module proxy is https.
ca=${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}
[ -f "$ca" ] || die "no CA bundle at $ca (set SSL_CERT_FILE)"
cp "$ca" "$mnt/etc/ssl/certs/ca-certificates.crt"
"${B[@]}" umount "$ctr" >/dev/null
go_env=(--env GOLANG_VERSION="${host_go#go}" --env GOPATH=/go --env GOTOOLCHAIN=local
  --env PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin)
for v in GOPROXY GOSUMDB GONOSUMDB GONOPROXY GOPRIVATE GOINSECURE GOFLAGS; do
  val=$(go env "$v")
  [ -z "$val" ] || go_env+=(--env "$v=$val")
done
"${B[@]}" config "${go_env[@]}" --workingdir /go "$ctr"
"${B[@]}" commit --quiet --format docker "$ctr" "docker.io/library/golang:$go_version-bookworm" >/dev/null
"${B[@]}" rm "$ctr" >/dev/null

# 2. The Dockerfile, as it is.
say "buildah build -f $dockerfile -t $IMAGE (VERSION=$VERSION)"
build_started=$(date +%s)
longrun "${B[@]}" build --isolation chroot --network host --pull=never --format docker \
  --ignorefile packaging/docker/Dockerfile.dockerignore \
  --build-arg VERSION="$VERSION" -f "$dockerfile" -t "$IMAGE" "$root"
say "built in $(($(date +%s) - build_started))s"

# 3. Checks.
fail() { die "check failed: $*"; }
inspect() { "${B[@]}" inspect --type image --format "$1" "$IMAGE"; }
user=$(inspect '{{.Docker.Config.User}}')
[ "$user" = 1000:1000 ] || fail "image user is '$user', want 1000:1000"
entrypoint=$(inspect '{{.Docker.Config.Entrypoint}}')
[ "$entrypoint" = "[/entrypoint.sh]" ] || fail "entrypoint is $entrypoint"
cmd=$(inspect '{{.Docker.Config.Cmd}}')
[ "$cmd" = "[--help]" ] || fail "cmd is $cmd"
workdir=$(inspect '{{.Docker.Config.WorkingDir}}')
[ "$workdir" = /opt/alluxio ] || fail "working dir is $workdir"
env=$(inspect '{{range .Docker.Config.Env}}{{println .}}{{end}}')
grep -qx 'ALLUXIO_HOME=/opt/alluxio' <<<"$env" || fail "no ALLUXIO_HOME=/opt/alluxio in $env"
grep -q '^PATH=/opt/alluxio/bin:' <<<"$env" || fail "PATH does not start with /opt/alluxio/bin: $env"
say "config: user $user, entrypoint $entrypoint, cmd $cmd, ALLUXIO_HOME=/opt/alluxio"

ctr=$("${B[@]}" from --pull=never --name alluxio-image-check "$IMAGE")
mnt=$("${B[@]}" mount "$ctr")
for b in alluxio alluxio-fuse; do
  f=$mnt/opt/alluxio/bin/$b
  [ -x "$f" ] || fail "/opt/alluxio/bin/$b is missing"
  # A dynamic executable has a PT_INTERP program header (type 3).
  python3 - "$f" <<'EOF' || fail "/opt/alluxio/bin/$b is not static: $(file -b "$f")"
import struct, sys
with open(sys.argv[1], "rb") as fh:
    data = fh.read(1 << 16)
assert data[:4] == b"\x7fELF" and data[4] == 2 and data[5] == 1, "not a 64-bit little-endian ELF"
phoff, = struct.unpack_from("<Q", data, 0x20)
phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
types = [struct.unpack_from("<I", data, phoff + i * phentsize)[0] for i in range(phnum)]
sys.exit(3 in types)
EOF
  say "/opt/alluxio/bin/$b: $(file -b "$f" | cut -d, -f1-4)"
done
for f in alluxio-start.sh alluxio-stop.sh mount.fuse.alluxio; do
  [ -x "$mnt/opt/alluxio/bin/$f" ] || fail "/opt/alluxio/bin/$f is missing"
done
[ -f "$mnt/opt/alluxio/conf/alluxio-site.properties.template" ] || fail "no conf template"
[ -x "$mnt/usr/bin/fusermount3" ] || fail "fuse3 is not installed (no fusermount3)"
[ -f "$mnt/etc/ssl/certs/ca-certificates.crt" ] || fail "ca-certificates is not installed"
grep -qx user_allow_other "$mnt/etc/fuse.conf" || fail "/etc/fuse.conf has no user_allow_other"
[ "$(stat -c %u:%g "$mnt/opt/alluxio/journal")" = 1000:1000 ] || fail "/opt/alluxio/journal is not 1000:1000"
if [ -e "$mnt/opt/alluxio/tests" ] || [ -e "$mnt/src" ]; then fail "build files leaked into the image"; fi

# run runs the image's entrypoint with ARGS in the check container, as the
# image's user, the way `docker run IMAGE ARGS` does.
run() { "${B[@]}" run --isolation chroot --network host "$ctr" -- /entrypoint.sh "$@"; }
out=$(run sh -c 'id -u; id -g') || fail "entrypoint PROGRAM: $out"
[ "$out" = $'1000\n1000' ] || fail "the container runs as $out, want 1000 1000"
out=$("${B[@]}" run --isolation chroot "$ctr" -- /opt/alluxio/bin/alluxio version) || fail "alluxio version: $out"
[ "$out" = "$VERSION" ] || fail "alluxio version printed '$out', want $VERSION (build arg VERSION)"
out=$(run version) || fail "entrypoint version: $out"
[ "$out" = "$VERSION" ] || fail "entrypoint version printed '$out'"
run --help >"$tmp/out" 2>&1 || fail "entrypoint --help: $(cat "$tmp/out")"
grep -q 'master \[-Dk=v' "$tmp/out" || fail "entrypoint --help: $(cat "$tmp/out")"
run fs --help >"$tmp/out" 2>&1 || fail "entrypoint fs --help: $(cat "$tmp/out")"
grep -qi 'ls' "$tmp/out" || fail "entrypoint fs --help does not list ls"
rc=0
run job-master >"$tmp/out" 2>&1 || rc=$?
if [ $rc != 2 ] || ! grep -q 'no job-master process' "$tmp/out"; then
  fail "entrypoint job-master: exit $rc, $(cat "$tmp/out")"
fi
say "alluxio version, entrypoint version/--help/fs --help/PROGRAM/job-master: ok"

# The master role, on free 127.0.0.1 ports, with a mounted site file.
ports=$(python3 -c '
import socket
ss = [socket.socket() for _ in range(3)]
for s in ss: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in ss))')
read -r rpc web raft <<<"$ports"
cat >"$mnt/opt/alluxio/conf/alluxio-site.properties" <<EOF
alluxio.master.hostname=127.0.0.1
alluxio.master.rpc.port=$rpc
alluxio.master.web.port=$web
alluxio.master.embedded.journal.port=$raft
EOF
echo "written through the image" >"$mnt/opt/alluxio/underFSStorage/hello-image-check.txt"
chown -R 1000:1000 "$mnt/opt/alluxio/underFSStorage" "$mnt/opt/alluxio/conf/alluxio-site.properties"
say "starting the master role (127.0.0.1:$rpc, web $web, raft $raft)"
setsid "${B[@]}" run --isolation chroot --network host "$ctr" -- /entrypoint.sh master \
  >"$tmp/master.log" 2>&1 </dev/null &
master_pgid=$!
for _ in $(seq 1 50); do
  [ "$(ps -o pgid= -p "$master_pgid" | tr -d ' ')" != "$master_pgid" ] || break
  sleep 0.1
done
[ "$(ps -o pgid= -p "$master_pgid" | tr -d ' ')" = "$master_pgid" ] || fail "setsid did not make a process group"
deadline=$(($(date +%s) + 180))
while :; do
  if out=$(run fs ls / 2>&1) && grep -q hello-image-check.txt <<<"$out"; then
    break
  fi
  kill -0 "$master_pgid" 2>/dev/null || { tail -n 30 "$tmp/master.log" >&2; fail "the master exited"; }
  [ "$(date +%s)" -lt "$deadline" ] || { tail -n 30 "$tmp/master.log" >&2; fail "fs ls / did not answer: $out"; }
  sleep 1
done
say "master answers fs ls /: $(grep hello-image-check.txt <<<"$out")"
run fs mkdir /made-by-image-check >/dev/null || fail "fs mkdir"
[ -d "$mnt/opt/alluxio/underFSStorage/made-by-image-check" ] || fail "fs mkdir did not reach the under-store"
say "fs mkdir reached the under-store"

kill -TERM -- "-$master_pgid"
for _ in $(seq 1 300); do
  kill -0 -- "-$master_pgid" 2>/dev/null || break
  sleep 0.1
done
if kill -0 -- "-$master_pgid" 2>/dev/null; then fail "the master did not stop on SIGTERM within 30s"; fi
wait "$master_pgid" 2>/dev/null || true
master_pgid=""
say "master stopped on SIGTERM"
"${B[@]}" umount "$ctr" >/dev/null
say "image $IMAGE: all checks passed (golang:${go_version}-bookworm base, $(du -sh --apparent-size "$tmp/storage" | cut -f1) of vfs storage)"
