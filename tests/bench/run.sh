#!/usr/bin/env bash
# make bench: sequential reads of a 1 GiB file through a real local-mode
# mount, cold (from the local under-store) and hot (cached), each as a
# ratio against a baseline measured in the same run:
#   hot  vs. reading the same bytes from a tmpfs file directly
#   cold vs. reading the under-store file directly with the page cache dropped
#   hot with kernel passthrough off (the user-space path, used for partly
#        cached files) vs. go-fuse's own loopback over the tmpfs file, also
#        without passthrough: the user-space FUSE ceiling
#   remote: a mount with no local worker, so every byte comes from the
#        worker over TCP, vs. streaming the same bytes over one loopback
#        TCP connection
#   random 4 KiB reads (fio, 4 jobs) of a cached file through the mount vs.
#        the same on the tmpfs file
# Appends a table to docs/benchmarks.md. Needs root and /dev/fuse.
#
# Then the master group (tests/bench/habench): creates per second through
# the RPC path with 1 and 3 masters and 16 clients, the time from kill -9
# of the leader to the first successful write, and the leader's heap with
# 1,000,000 files (BENCH_HA_FILES=10000000 for the long manual run).
#
# run.sh [all|read|ha]: both (the default), or one of the two.
set -euo pipefail

suite=${1:-all}
case $suite in
  all | read | ha) ;;
  *) echo "usage: run.sh [all|read|ha]" >&2; exit 2 ;;
esac
root=$(cd "$(dirname "$0")/../.." && pwd)
size_mib=${BENCH_SIZE_MIB:-1024}
runs=${BENCH_RUNS:-3}
work=$(mktemp -d /var/tmp/alluxio-bench.XXXXXX)
shm=$(mktemp -d /dev/shm/alluxio-bench.XXXXXX)
home=$work/home

cleanup() {
  "$home/bin/alluxio-stop.sh" local >/dev/null 2>&1 || true
  grep -qs " $work/loop " /proc/mounts && umount -l "$work/loop" || true
  grep -qs " $home/mnt " /proc/mounts && umount -l "$home/mnt" || true
  rm -rf "$work" "$shm"
}
trap cleanup EXIT

ha_bench() {
  (cd "$root" && go build -o "$work/habench" ./tests/bench/habench)
  "$work/habench" -bin "$root/bin" -work "$work/ha" ${BENCH_HA_FILES:+-files "$BENCH_HA_FILES"} |
    tee -a "$root/docs/benchmarks.md"
}
if [ "$suite" = ha ]; then
  ha_bench
  exit 0
fi

mkdir -p "$home/bin" "$home/conf" "$home/ufs" "$home/mnt" "$shm/tier" "$work/loop"
cp "$root"/bin/* "$home/bin/"
(cd "$root" && go build -o "$work/loopback" ./tests/bench/loopback && go build -o "$work/tcpraw" ./tests/bench/tcpraw)
rand_mib=${BENCH_RANDOM_MIB:-4096}
rand_secs=${BENCH_RANDOM_SECS:-15}
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cat >"$home/conf/alluxio-site.properties" <<PROPS
alluxio.master.hostname=127.0.0.1
alluxio.worker.hostname=127.0.0.1
alluxio.master.rpc.port=$(port)
alluxio.master.web.port=$(port)
alluxio.master.embedded.journal.port=$(port)
alluxio.worker.rpc.port=$(port)
alluxio.worker.web.port=$(port)
alluxio.master.mount.table.root.ufs=$home/ufs
alluxio.worker.tieredstore.level0.dirs.path=$shm/tier
alluxio.worker.tieredstore.level0.dirs.quota=$((size_mib * (runs + 3) + rand_mib + 64))MB
alluxio.fuse.mount.point=$home/mnt
alluxio.worker.data.server.domain.socket.address=$home/run/worker.sock
PROPS
export ALLUXIO_HOME=$home

echo "writing a ${size_mib} MiB test file"
head -c $((size_mib << 20)) /dev/urandom >"$home/ufs/data.bin"
cp "$home/ufs/data.bin" "$shm/data.bin"
for i in $(seq "$runs"); do cp "$home/ufs/data.bin" "$home/ufs/cold$i.bin"; done
sync

# read_gbps FILE: GB/s of one sequential read with 1 MiB requests.
read_gbps() {
  dd if="$1" of=/dev/null bs=1M 2>&1 | awk '/copied/ {
    for (i = 1; i <= NF; i++) if ($i == "s,") secs = $(i-1);
    print ($1 / secs) / 1e9 }'
}
drop() { sync; echo 3 >/proc/sys/vm/drop_caches; }
best() { sort -g | tail -n 1; }

"$home/bin/alluxio-start.sh" local >/dev/null

tmpfs=$(for _ in $(seq "$runs"); do read_gbps "$shm/data.bin"; done | best)
raw_cold=$(for _ in $(seq "$runs"); do drop; read_gbps "$home/ufs/data.bin"; done | best)

web=$(awk -F= '/master.web.port/ {print $2}' "$home/conf/alluxio-site.properties")
# wait_cached N: wait until the worker holds N whole files (it fills its
# cache after a cold reader closes, and a fill still running would compete
# with the next measurement).
wait_cached() {
  for _ in $(seq 300); do
    used=$(python3 -c "import json,urllib.request; print(int(json.load(urllib.request.urlopen('http://127.0.0.1:$web/api/v1/master/metrics'))['Cluster.CapacityUsed']))")
    [ "$used" -ge $(($1 * (size_mib << 20))) ] && return
    sleep 0.2
  done
}

# A fresh file each cold run: the cache has never seen it.
mount_cold=$(for i in $(seq "$runs"); do wait_cached $((i - 1)); drop; read_gbps "$home/mnt/cold$i.bin"; done | best)
read_gbps "$home/mnt/data.bin" >/dev/null # fill the cache
# Wait until the worker holds every file read so far (the tier has room
# for all), so hot means cached.
wait_cached $((runs + 1))
mount_hot=$(for _ in $(seq "$runs"); do read_gbps "$home/mnt/data.bin"; done | best)

# The user-space path: the same mount without passthrough, against the
# go-fuse loopback ceiling.
"$home/bin/alluxio-fuse" umount "$home/mnt" >/dev/null
"$home/bin/alluxio-fuse" -Dalluxio.fuse.passthrough.enabled=false mount "$home/mnt" >/dev/null
user_hot=$(for _ in $(seq "$runs"); do read_gbps "$home/mnt/data.bin"; done | best)
"$work/loopback" "$shm" "$work/loop" &
for _ in $(seq 100); do grep -qs " $work/loop " /proc/mounts && break; sleep 0.1; done
loop=$(for _ in $(seq "$runs"); do read_gbps "$work/loop/data.bin"; done | best)
umount "$work/loop"

# Remote: the same file, served by the worker over TCP to a mount whose
# node has no worker of its own (its socket names nothing).
"$home/bin/alluxio-fuse" umount "$home/mnt" >/dev/null
"$home/bin/alluxio-fuse" -Dalluxio.fuse.passthrough.enabled=false \
  -Dalluxio.worker.data.server.domain.socket.address="$work/no-worker.sock" mount "$home/mnt" >/dev/null
remote=$(for _ in $(seq "$runs"); do read_gbps "$home/mnt/data.bin"; done | best)
tcp=$("$work/tcpraw" -size "$size_mib" -runs "$runs")
# The same over the client library alone (no FUSE): alluxio fs cat.
cat_gbps() {
  local start end
  start=$(date +%s.%N)
  "$home/bin/alluxio" -Dalluxio.worker.data.server.domain.socket.address="$work/no-worker.sock" \
    fs cat /data.bin >/dev/null
  end=$(date +%s.%N)
  awk -v s="$start" -v e="$end" -v b=$((size_mib << 20)) 'BEGIN { print b / (e - s) / 1e9 }'
}
remote_cli=$(for _ in $(seq "$runs"); do cat_gbps; done | best)
"$home/bin/alluxio-fuse" umount "$home/mnt" >/dev/null
"$home/bin/alluxio-fuse" mount "$home/mnt" >/dev/null

# Random 4 KiB reads of a cached file, 4 jobs.
rand_iops() { # file
  fio --name=rand --filename="$1" --rw=randread --bs=4k --numjobs=4 --size="${rand_mib}M" \
    --runtime="$rand_secs" --time_based --ioengine=psync --group_reporting --output-format=terse \
    2>/dev/null | awk -F';' '{print $8}'
}
worker_web=$(awk -F= '/worker.web.port/ {print $2}' "$home/conf/alluxio-site.properties")
heap_mib() {
  python3 -c "import json,urllib.request; print(round(json.load(urllib.request.urlopen('http://127.0.0.1:$worker_web/api/v1/worker/metrics'))['Worker.HeapInuseBytes']/1048576))"
}
heap_before=$(heap_mib)
head -c $((rand_mib << 20)) /dev/urandom >"$shm/rand.bin"
cp "$shm/rand.bin" "$home/ufs/rand.bin"
"$home/bin/alluxio" fs load /rand.bin >/dev/null
wait_cached $((runs + 2)) # every file so far, and this one (rounded down)
heap_after=$(heap_mib)
rand_tmpfs=$(rand_iops "$shm/rand.bin")
rand_mount=$(rand_iops "$home/mnt/rand.bin")
rm -f "$shm/rand.bin"

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)
mem=$(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)
passthrough=$(grep -c 'passthrough=true' "$home"/logs/fuse-*.log | head -n 1 || true)

{
  echo
  echo "## $(date -u +%Y-%m-%d) sequential read, ${size_mib} MiB, local mode"
  echo
  echo "Machine: $(nproc) cores ($cpu), $mem, kernel $(uname -r); best of $runs runs, dd bs=1M;"
  echo "kernel passthrough: $([ "$passthrough" -gt 0 ] && echo on || echo off)."
  echo
  echo "| read | GB/s | baseline | baseline GB/s | ratio |"
  echo "| --- | ---: | --- | ---: | ---: |"
  echo "| hot (cached) through the mount | $mount_hot | tmpfs file, direct | $tmpfs | $(ratio "$mount_hot" "$tmpfs") |"
  echo "| cold (under-store) through the mount | $mount_cold | under-store file, direct, page cache dropped | $raw_cold | $(ratio "$mount_cold" "$raw_cold") |"
  echo "| hot, passthrough off (user-space path) | $user_hot | go-fuse loopback of the tmpfs file, passthrough off | $loop | $(ratio "$user_hot" "$loop") |"
  echo "| remote worker over TCP through the mount | $remote | one loopback TCP stream from memory | $tcp | $(ratio "$remote" "$tcp") |"
  echo "| remote worker over TCP, client library (alluxio fs cat) | $remote_cli | one loopback TCP stream from memory | $tcp | $(ratio "$remote_cli" "$tcp") |"
  echo
  echo "| random 4 KiB reads, fio, 4 jobs, ${rand_mib} MiB file | IOPS | baseline | baseline IOPS | ratio |"
  echo "| --- | ---: | --- | ---: | ---: |"
  echo "| cached file through the mount | $rand_mount | the tmpfs file, direct | $rand_tmpfs | $(ratio "$rand_mount" "$rand_tmpfs") |"
  echo
  echo "Worker Go heap in use: ${heap_before} MiB with $((size_mib * (runs + 1))) MiB cached, ${heap_after} MiB after ${rand_mib} MiB more."
} | tee -a "$root/docs/benchmarks.md"

if [ "$suite" = all ]; then
  ha_bench
fi
