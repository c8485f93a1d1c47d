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
#   random 4 KiB writes (fio, 1 job, as a database writes its pages) into an
#        existing file through the mount vs. the same on a tmpfs file and
#        through go-fuse's loopback over it
# Appends a table to docs/benchmarks.md. Needs root and /dev/fuse.
#
# Then the master group (tests/bench/habench): creates per second through
# the RPC path with 1 and 3 masters and 16 clients, the time from kill -9
# of the leader to the first successful write, and the leader's heap with
# 1,000,000 files (BENCH_HA_FILES=10000000 for the long manual run).
#
# Then metadata (tests/bench/metabench): create, stat, readdir+stat and
# unlink of 10,000 files (BENCH_META_FILES) from one process, and an untar
# of the Go source tree, through a mount of its own local-mode cluster vs.
# the same on tmpfs and through the go-fuse loopback over tmpfs (with the
# mount's 1s entry and attribute timeouts), all in the same run; and the
# rate of synced appends on the journal's disk (tests/bench/syncappend), the
# floor of a durable create or unlink.
#
# Then S3 (tests/bench/s3/run.sh): a 1 GiB object on versitygw read cold and
# again through the mount vs. a raw aws-sdk-go-v2 parallel ranged reader,
# the first ls -l of 10,000 objects, and small-file operations, against s3fs
# and rclone mount --vfs-cache-mode full over the same bucket in the same run.
#
# run.sh [all|read|ha|meta|s3]: all of them (the default), or one.
set -euo pipefail

suite=${1:-all}
case $suite in
  all | read | ha | meta | s3) ;;
  *) echo "usage: run.sh [all|read|ha|meta|s3]" >&2; exit 2 ;;
esac
root=$(cd "$(dirname "$0")/../.." && pwd)
size_mib=${BENCH_SIZE_MIB:-1024}
runs=${BENCH_RUNS:-3}
work=$(mktemp -d /var/tmp/alluxio-bench.XXXXXX)
shm=$(mktemp -d /dev/shm/alluxio-bench.XXXXXX)
home=$work/home

cleanup() {
  "$home/bin/alluxio-stop.sh" local >/dev/null 2>&1 || true
  ALLUXIO_HOME=$work/meta/home "$work/meta/home/bin/alluxio-stop.sh" local >/dev/null 2>&1 || true
  grep -qs " $work/meta/loop " /proc/mounts && umount -l "$work/meta/loop" || true
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
# meta_bench: metadata rates and an untar through a mount of a cluster of
# its own, against tmpfs and the go-fuse loopback over tmpfs.
meta_bench() {
  local mw=$work/meta mh=$work/meta/home n=${BENCH_META_FILES:-10000}
  # The mount's under-store is a tmpfs directory, as the loopback's is;
  # its journal (Raft log and metastore) stays on the disk, synced as
  # always. BENCH_META_UFS_DISK=1 puts the under-store on the disk too: on
  # this machine's ext4 one file creation alone costs 0.5-0.9 ms of CPU
  # (6 us on tmpfs), which no baseline here pays.
  local mufs=$shm/meta-ufs
  [ -z "${BENCH_META_UFS_DISK:-}" ] || mufs=$mh/ufs
  mkdir -p "$mh/bin" "$mh/conf" "$mufs" "$mh/mnt" "$mw/loop" "$shm/meta-tier" "$shm/meta-tmpfs" "$shm/meta-loop"
  cp "$root"/bin/* "$mh/bin/"
  (cd "$root" && go build -o "$mw/metabench" ./tests/bench/metabench && go build -o "$mw/loopback" ./tests/bench/loopback &&
    go build -o "$mw/syncappend" ./tests/bench/syncappend)
  mport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
  # The mount writes THROUGH, as every run recorded so far did: a worker
  # keeps a descriptor open per cached file (its backing file), and under
  # CACHE_THROUGH this machine's limit of 20,000 would be what the last
  # phases measure.
  cat >"$mh/conf/alluxio-site.properties" <<PROPS
alluxio.master.hostname=127.0.0.1
alluxio.worker.hostname=127.0.0.1
alluxio.master.rpc.port=$(mport)
alluxio.master.web.port=$(mport)
alluxio.master.embedded.journal.port=$(mport)
alluxio.worker.rpc.port=$(mport)
alluxio.worker.web.port=$(mport)
alluxio.worker.membership.port=$(mport)
alluxio.master.mount.table.root.ufs=$mufs
alluxio.worker.tieredstore.level0.dirs.path=$shm/meta-tier
alluxio.worker.tieredstore.level0.dirs.quota=1GB
alluxio.fuse.mount.point=$mh/mnt
alluxio.worker.data.server.domain.socket.address=$mh/run/worker.sock
alluxio.user.file.writetype.default=THROUGH
PROPS
  ALLUXIO_HOME=$mh "$mh/bin/alluxio-start.sh" local >/dev/null
  "$mw/loopback" -timeout 1s "$shm/meta-loop" "$mw/loop" &
  for _ in $(seq 100); do grep -qs " $mw/loop " /proc/mounts && break; sleep 0.1; done
  # The Go source tree, tarred once.
  tar -C "$(go env GOROOT)" -cf "$mw/src.tar" src
  local files
  files=$(tar -tf "$mw/src.tar" | grep -vc '/$')
  # rates DIR: "create stat readdir+stat unlink" in ops/s.
  rates() { "$mw/metabench" -dir "$1/meta" -n "$n" -drop | awk '{printf "%s ", $2}'; }
  # untar DIR: files per second extracting the tree.
  untar() {
    local start end
    mkdir -p "$1/untar"
    sync
    start=$(date +%s.%N)
    tar -C "$1/untar" -xf "$mw/src.tar" || exit 1
    sync
    end=$(date +%s.%N)
    awk -v s="$start" -v e="$end" -v f="$files" 'BEGIN { printf "%.0f", f / (e - s) }'
  }
  local t l a ut ul ua out
  out=$(rates "$shm/meta-tmpfs")
  read -r -a t <<<"$out"
  out=$(rates "$mw/loop")
  read -r -a l <<<"$out"
  out=$(rates "$mh/mnt")
  read -r -a a <<<"$out"
  # The floor of a durable change on the journal's disk: one synced
  # append per create or unlink, as the Raft log makes.
  # Also after a pause before each append, as a request chain leaves the
  # disk and CPU idle between its syncs (slower on virtual machines).
  local synced paused
  synced=$("$mw/syncappend" -dir "$mh")
  paused=$("$mw/syncappend" -dir "$mh" -gap 1ms -n 2000)
  ut=$(untar "$shm/meta-tmpfs")
  ul=$(untar "$mw/loop")
  ua=$(untar "$mh/mnt")
  umount "$mw/loop"
  ALLUXIO_HOME=$mh "$mh/bin/alluxio-stop.sh" local >/dev/null
  r() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
  {
    echo
    echo "## $(date -u +%Y-%m-%d) metadata, ${n} files from one process, local mode"
    echo
    echo "Machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)),"
    echo "$(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), kernel $(uname -r); every create and unlink"
    echo "through the mount is durable at the master (Raft log and metastore) before it returns; the"
    echo "kernel's dentry and inode caches are dropped before stat, readdir+stat and unlink; the loopback"
    echo "and the mount both use 1s entry and attribute timeouts; the mount writes THROUGH (see run.sh)"
    if [ "$mufs" = "$mh/ufs" ]; then
      echo "to an under-store directory on the disk (ext4), as its journal is."
    else
      echo "to an under-store directory on tmpfs, as the loopback's; its journal is on the disk (ext4)."
    fi
    echo "Untar: the Go source tree ($files files)."
    echo
    echo "| ops/s | mount | tmpfs | loopback over tmpfs | mount / tmpfs | mount / loopback |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: |"
    local i name
    for i in 0 1 2 3; do
      name=$(echo "create stat readdir+stat unlink" | cut -d' ' -f$((i + 1)))
      echo "| $name | ${a[$i]} | ${t[$i]} | ${l[$i]} | $(r "${a[$i]}" "${t[$i]}") | $(r "${a[$i]}" "${l[$i]}") |"
    done
    echo "| untar (files/s) | $ua | $ut | $ul | $(r "$ua" "$ut") | $(r "$ua" "$ul") |"
    echo
    echo "A 300-byte append with fdatasync on the journal's disk (tests/bench/syncappend), the"
    echo "floor of one durable change, as the Raft log makes one per create and unlink: ${synced}/s"
    echo "back to back, ${paused}/s with the disk and CPU idle for 1 ms before each (as one request"
    echo "after another leaves them; only the appends' own time counted);"
    echo "the mount's creates are $(r "${a[0]}" "$paused")x and its unlinks $(r "${a[3]}" "$paused")x the second rate (tmpfs and the loopback sync nothing)."
    # A durable change through FUSE costs at least the loopback's whole
    # cycle and one synced append after idling, one after the other.
    local cc cu
    cc=$(awk -v l="${l[0]}" -v s="$paused" 'BEGIN { printf "%.0f", 1 / (1 / l + 1 / s) }')
    cu=$(awk -v l="${l[3]}" -v s="$paused" 'BEGIN { printf "%.0f", 1 / (1 / l + 1 / s) }')
    echo "So no durable create or unlink through FUSE can beat the loopback's cycle plus that second append:"
    echo "at most ${cc} creates/s ($(r "$cc" "${l[0]}")x the loopback) and ${cu} unlinks/s ($(r "$cu" "${l[3]}")x); the mount"
    echo "makes $(r "${a[0]}" "$cc")x and $(r "${a[3]}" "$cu")x of those ceilings."
  } | tee -a "$root/docs/benchmarks.md"
}
if [ "$suite" = meta ]; then
  meta_bench
  exit 0
fi

if [ "$suite" = ha ]; then
  ha_bench
  exit 0
fi

if [ "$suite" = s3 ]; then
  "$root/tests/bench/s3/run.sh"
  exit 0
fi

mkdir -p "$home/bin" "$home/conf" "$home/ufs" "$home/mnt" "$shm/tier" "$work/loop"
cp "$root"/bin/* "$home/bin/"
(cd "$root" && go build -o "$work/loopback" ./tests/bench/loopback && go build -o "$work/tcpraw" ./tests/bench/tcpraw)
rand_mib=${BENCH_RANDOM_MIB:-4096}
rand_secs=${BENCH_RANDOM_SECS:-15}
randw_mib=${BENCH_RANDOM_WRITE_MIB:-256}
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
# read_rw_gbps FILE: read_gbps of FILE opened for reading and writing, as
# a database opens its files (such an open reads through the FUSE daemon,
# never by kernel passthrough).
read_rw_gbps() {
  dd of=/dev/null bs=1M 0<>"$1" 2>&1 | awk '/copied/ {
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
rw_hot=$(for _ in $(seq "$runs"); do read_rw_gbps "$home/mnt/data.bin"; done | best)

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

# Random 4 KiB writes into an existing file, one job.
randw_iops() { # file
  fio --name=randw --filename="$1" --rw=randwrite --bs=4k --numjobs=1 --size="${randw_mib}M" \
    --runtime="$rand_secs" --time_based --ioengine=psync --group_reporting --output-format=terse \
    2>/dev/null | awk -F';' '{print $49}'
}
head -c $((randw_mib << 20)) /dev/urandom >"$shm/randw.bin"
cp "$shm/randw.bin" "$home/ufs/randw.bin"
randw_tmpfs=$(randw_iops "$shm/randw.bin")
randw_mount=$(randw_iops "$home/mnt/randw.bin")
"$work/loopback" "$shm" "$work/loop" &
for _ in $(seq 100); do grep -qs " $work/loop " /proc/mounts && break; sleep 0.1; done
randw_loop=$(randw_iops "$work/loop/randw.bin")
umount "$work/loop"
rm -f "$shm/randw.bin"

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
  echo "| hot, the file open for reading and writing | $rw_hot | tmpfs file, direct | $tmpfs | $(ratio "$rw_hot" "$tmpfs") |"
  echo "| hot, passthrough off (user-space path) | $user_hot | go-fuse loopback of the tmpfs file, passthrough off | $loop | $(ratio "$user_hot" "$loop") |"
  echo "| remote worker over TCP through the mount | $remote | one loopback TCP stream from memory | $tcp | $(ratio "$remote" "$tcp") |"
  echo "| remote worker over TCP, client library (alluxio fs cat) | $remote_cli | one loopback TCP stream from memory | $tcp | $(ratio "$remote_cli" "$tcp") |"
  echo
  echo "| random 4 KiB reads, fio, 4 jobs, ${rand_mib} MiB file | IOPS | baseline | baseline IOPS | ratio |"
  echo "| --- | ---: | --- | ---: | ---: |"
  echo "| cached file through the mount | $rand_mount | the tmpfs file, direct | $rand_tmpfs | $(ratio "$rand_mount" "$rand_tmpfs") |"
  echo
  echo "| random 4 KiB writes, fio, 1 job, into an existing ${randw_mib} MiB file | IOPS | baseline | baseline IOPS | ratio |"
  echo "| --- | ---: | --- | ---: | ---: |"
  echo "| through the mount | $randw_mount | the tmpfs file, direct | $randw_tmpfs | $(ratio "$randw_mount" "$randw_tmpfs") |"
  echo "| through the mount | $randw_mount | go-fuse loopback of the tmpfs file | $randw_loop | $(ratio "$randw_mount" "$randw_loop") |"
  echo
  echo "Worker Go heap in use: ${heap_before} MiB with $((size_mib * (runs + 1))) MiB cached, ${heap_after} MiB after ${rand_mib} MiB more."
} | tee -a "$root/docs/benchmarks.md"

if [ "$suite" = all ]; then
  ha_bench
  meta_bench
  "$root/tests/bench/s3/run.sh"
fi
