#!/usr/bin/env bash
# The S3 rows of make bench (tests/bench/run.sh s3, and part of all).
#
# One versitygw (the S3 server of the tests) serves a bucket from tmpfs on
# 127.0.0.1, with keep-alive on as real S3 servers have it (without it
# versitygw closes each connection after one request, and every client
# pays a new TCP connection per request). Over that bucket, in the same run:
#   - alluxio-go: a local-mode cluster with the bucket as a nested mount
#     (alluxio fs mount --option ... /s3 s3://bench/), MEM tier on tmpfs;
#   - raw: tests/bench/s3/s3raw, aws-sdk-go-v2 reading the object by
#     parallel ranged GETs (16 x 8 MiB), the ceiling of the server;
#   - s3fs (Debian's s3fs, default options: no local cache);
#   - rclone mount --vfs-cache-mode full (Debian's rclone), its cache on the
#     same tmpfs as the alluxio-go tier.
# Rows: cold sequential read of a 1 GiB object (nothing cached anywhere,
# kernel page cache dropped) and the CPU seconds it cost the mount's
# processes and versitygw (robust where the machine is shared and GB/s
# is not), second read of it, first ls -l of a prefix of
# 10,000 objects, create (1 KiB written) / stat / readdir / unlink of
# 1,000 files, and an append of 1 KiB to an object of BENCH_S3_APPEND_MIB
# (256) MiB: the seconds until close() returns, on each mount in turn (for
# alluxio-go, first with nothing of it cached, then again). Best of
# BENCH_RUNS runs for the reads. Appends a table to
# docs/benchmarks.md (BENCH_OUT: another file). BENCH_S3_PAGE_SIZE sets the
# worker's page size (alluxio.worker.page.store.page.size), which is the
# size of its pages; BENCH_S3_READ_AHEAD sets how far ahead of a sequential
# reader the worker fetches (alluxio.worker.network.reader.buffer.size).
# BENCH_S3_HUGE=1 puts the alluxio-go tier and rclone's cache on a tmpfs of
# their own mounted with huge=within_size (transparent huge pages), instead
# of on /dev/shm's (4 KiB pages; writing a page there costs several times
# the CPU, most of it allocating the tmpfs's pages).
# BENCH_S3_PROPS adds properties (key=value, space-separated) to
# alluxio-go's configuration, to compare settings.
# BENCH_S3_QUICK=1 measures only the raw and alluxio-go reads and the
# small-file rows of alluxio-go and s3fs, and prints them, for trying
# changes (nothing appended). BENCH_S3_BIN names the directory of the
# alluxio-go binaries and scripts to run (default: bin/ of the tree), so
# that two builds can take turns. Needs root and /dev/fuse; installs s3fs
# and rclone with apt when they are missing. BENCH_S3_LOGS names a
# directory the run's logs (alluxio-go's and versitygw's) are copied to on
# exit.
set -euo pipefail

root=$(cd "$(dirname "$0")/../../.." && pwd)
size_mib=${BENCH_S3_SIZE_MIB:-1024}
runs=${BENCH_RUNS:-3}
keys=${BENCH_S3_KEYS:-10000}
files=${BENCH_S3_FILES:-1000}
append_mib=${BENCH_S3_APPEND_MIB:-256}
page=${BENCH_S3_PAGE_SIZE:-} # alluxio.worker.page.store.page.size, when set
ahead=${BENCH_S3_READ_AHEAD:-} # alluxio.worker.network.reader.buffer.size, when set
quick=${BENCH_S3_QUICK:-}
huge=${BENCH_S3_HUGE:-}
work=$(mktemp -d /var/tmp/alluxio-s3bench.XXXXXX)
shm=$(mktemp -d /dev/shm/alluxio-s3bench.XXXXXX)
home=$work/home
bucket=bench
pids=()

unmount() { grep -qs " $1 " /proc/mounts && { umount "$1" 2>/dev/null || umount -l "$1"; } || true; }
cleanup() {
  [ -z "${BENCH_S3_LOGS:-}" ] || { mkdir -p "$BENCH_S3_LOGS" && cp -r "$home/logs" "$work"/*.log "$BENCH_S3_LOGS/" 2>/dev/null; } || true
  for m in "$work/s3fs" "$work/rclone" "$work/loop"; do unmount "$m"; done
  "$home/bin/alluxio-stop.sh" local >/dev/null 2>&1 || true
  unmount "$home/mnt"
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -z "$huge" ] || unmount "$shm/huge"
  rm -rf "$work" "$shm"
}
trap cleanup EXIT

# The peers, from Debian's packages.
need=()
command -v s3fs >/dev/null || need+=(s3fs)
command -v rclone >/dev/null || need+=(rclone)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
"$root/tests/s3/install-versitygw.sh" >/dev/null

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_mount() { # dir
  for _ in $(seq 300); do grep -qs " $1 " /proc/mounts && return; sleep 0.1; done
  echo "no mount at $1" >&2
  exit 1
}
drop() { sync; echo 3 >/proc/sys/vm/drop_caches; }
best() { sort -g | tail -n 1; }
# read_gbps FILE: GB/s of one sequential read with 1 MiB requests.
read_gbps() {
  dd if="$1" of=/dev/null bs=1M 2>&1 | awk '/copied/ {
    for (i = 1; i <= NF; i++) if ($i == "s,") secs = $(i-1);
    print ($1 / secs) / 1e9 }'
}
# cpu_secs PID...: CPU seconds (user + system) the processes have used.
cpu_secs() {
  local p
  for p in "$@"; do sed 's/.*) //' "/proc/$p/stat"; done |
    awk -v hz="$(getconf CLK_TCK)" '{ t += $12 + $13 } END { printf "%.3f", t / hz }'
}
# children_secs: the CPU seconds of a shell's children, from the second
# line of its `times` on stdin ("0m1.234s 0m0.567s").
children_secs() {
  tail -n 1 | awk '{ t = 0; for (i = 1; i <= 2; i++) { split($i, a, "m"); t += a[1] * 60 + a[2] } printf "%.3f", t }'
}
# per_gib CPU0 CPU1: CPU seconds per GiB read, from counts before and after
# one read of the big object.
per_gib() { awk -v a="$1" -v b="$2" -v m="$size_mib" 'BEGIN { printf "%.2f", (b - a) * 1024 / m }'; }
least() { sort -g | head -n 1; }
# secs CMD...: wall seconds of a command.
secs() {
  local start end
  start=$(date +%s.%N)
  "$@" >/dev/null
  end=$(date +%s.%N)
  awk -v s="$start" -v e="$end" 'BEGIN { printf "%.3f", e - s }'
}

# Credentials of this run only, kept out of argument lists.
export AWS_ACCESS_KEY_ID=BENCH$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n' | tr a-f A-F)
export AWS_SECRET_ACCESS_KEY=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
endpoint=http://127.0.0.1:$(port)
# cache: where the alluxio-go tier and rclone's cache live.
cache=$shm
if [ -n "$huge" ]; then
  cache=$shm/huge
  mkdir -p "$cache"
  mount -t tmpfs -o "size=$((size_mib * 3 + 512))m,huge=within_size" tmpfs "$cache"
fi
mkdir -p "$shm/s3" "$cache/tier" "$cache/rclone-cache" "$work/s3fs" "$work/rclone" \
  "$home/bin" "$home/conf" "$home/ufs" "$home/mnt"
ROOT_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID ROOT_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY \
  "$root/.cache/bin/versitygw" --port "${endpoint#http://}" --quiet --keep-alive posix "$shm/s3" >"$work/versitygw.log" 2>&1 &
pids+=($!)
vport=${endpoint##*:}
for _ in $(seq 150); do (exec 3<>"/dev/tcp/127.0.0.1/$vport") 2>/dev/null && break; sleep 0.1; done

(cd "$root" && go build -o "$work/s3raw" ./tests/bench/s3/s3raw && go build -o "$work/fileops" ./tests/bench/s3/fileops &&
  go build -o "$work/loopback" ./tests/bench/loopback)
s3raw() { "$work/s3raw" -endpoint "$endpoint" -bucket "$bucket" "$@"; }
echo "filling the bucket: a ${size_mib} MiB object and $keys small ones"
s3raw mkbucket
s3raw put data.bin "$size_mib"
s3raw put append.bin "$append_mib"
[ -n "$quick" ] || s3raw -parallel 32 putmany many/k "$keys"

# alluxio-go: local mode, the bucket mounted at /s3.
cp "${BENCH_S3_BIN:-$root/bin}"/* "$home/bin/"
cat >"$home/conf/alluxio-site.properties" <<PROPS
alluxio.master.hostname=127.0.0.1
alluxio.worker.hostname=127.0.0.1
alluxio.master.rpc.port=$(port)
alluxio.master.web.port=$(port)
alluxio.master.embedded.journal.port=$(port)
alluxio.worker.rpc.port=$(port)
alluxio.worker.web.port=$(port)
alluxio.worker.membership.port=$(port)
alluxio.master.mount.table.root.ufs=$home/ufs
alluxio.worker.tieredstore.level0.dirs.path=$cache/tier
alluxio.worker.tieredstore.level0.dirs.quota=$((size_mib * 2 + 256))MB
alluxio.fuse.mount.point=$home/mnt
alluxio.worker.data.server.domain.socket.address=$home/run/worker.sock
PROPS
[ -z "$page" ] || echo "alluxio.worker.page.store.page.size=$page" >>"$home/conf/alluxio-site.properties"
[ -z "$ahead" ] || echo "alluxio.worker.network.reader.buffer.size=$ahead" >>"$home/conf/alluxio-site.properties"
[ -z "$quick" ] || echo "alluxio.fuse.web.port=$(port)" >>"$home/conf/alluxio-site.properties"
[ -z "${BENCH_S3_PROPS:-}" ] || printf '%s\n' $BENCH_S3_PROPS >>"$home/conf/alluxio-site.properties"
export ALLUXIO_HOME=$home
"$home/bin/alluxio-start.sh" local >/dev/null
wait_mount "$home/mnt"
# As users mount a bucket: the options on alluxio fs mount's command line
# (the keys are this run's own).
"$home/bin/alluxio" fs mount \
  --option "s3a.accessKeyId=$AWS_ACCESS_KEY_ID" --option "s3a.secretKey=$AWS_SECRET_ACCESS_KEY" \
  --option "alluxio.underfs.s3.endpoint=$endpoint" --option alluxio.underfs.s3.disable.dns.buckets=true \
  /s3 "s3://$bucket/" >/dev/null
amnt=$home/mnt/s3
web=$(awk -F= '/master.web.port/ {print $2}' "$home/conf/alluxio-site.properties")
used() {
  python3 -c "import json,urllib.request; print(int(json.load(urllib.request.urlopen('http://127.0.0.1:$web/api/v1/master/metrics'))['Cluster.CapacityUsed']))"
}
# wait_used CMP BYTES: wait until the worker's cache holds at least (ge)
# or at most (le) BYTES.
wait_used() {
  for _ in $(seq 600); do
    u=$(used)
    if [ "$1" = ge ] && [ "$u" -ge "$2" ]; then return; fi
    if [ "$1" = le ] && [ "$u" -le "$2" ]; then return; fi
    sleep 0.2
  done
}

# s3fs and rclone over the same bucket.
printf '%s:%s\n' "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" >"$work/s3fs.passwd"
chmod 600 "$work/s3fs.passwd"
mount_s3fs() {
  s3fs "$bucket" "$work/s3fs" -o "url=$endpoint,use_path_request_style,passwd_file=$work/s3fs.passwd"
  wait_mount "$work/s3fs"
}
# rclone 1.60 refuses to start when AWS_CA_BUNDLE is set with its own
# transport ("unable to load custom CA bundle"); the endpoint is plain http.
mount_rclone() {
  rm -rf "$cache/rclone-cache" && mkdir -p "$cache/rclone-cache"
  env -u AWS_CA_BUNDLE RCLONE_CONFIG_BENCH_TYPE=s3 RCLONE_CONFIG_BENCH_PROVIDER=Other \
    RCLONE_CONFIG_BENCH_ACCESS_KEY_ID="$AWS_ACCESS_KEY_ID" RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY="$AWS_SECRET_ACCESS_KEY" \
    RCLONE_CONFIG_BENCH_ENDPOINT="$endpoint" RCLONE_CONFIG_BENCH_FORCE_PATH_STYLE=true \
    rclone mount "bench:$bucket" "$work/rclone" --vfs-cache-mode full --cache-dir "$cache/rclone-cache" \
    --daemon --log-file "$work/rclone.log"
  wait_mount "$work/rclone"
}

# append DIR: appends 1 KiB to DIR/append.bin and prints the seconds until
# close() returned.
append() { secs bash -c "head -c 1024 /dev/urandom >>'$1/append.bin'"; }
# appended N: checks that the bucket's append.bin holds N appends.
appended() {
  local got
  got=$(stat -c %s "$shm/s3/$bucket/append.bin")
  [ "$got" -eq $(((append_mib << 20) + $1 * 1024)) ] ||
    { echo "append.bin holds $got bytes after $1 appends" >&2; exit 1; }
}

# First ls -l of the 10,000-object prefix, on fresh mounts.
if [ -z "$quick" ]; then
  mount_s3fs
  mount_rclone
  ls_alluxio=$(secs ls -l "$amnt/many")
  ls_s3fs=$(secs ls -l "$work/s3fs/many")
  ls_rclone=$(secs ls -l "$work/rclone/many")
  n_alluxio=$(ls "$amnt/many" | wc -l)
  [ "$n_alluxio" -eq "$keys" ] || { echo "alluxio-go lists $n_alluxio of $keys keys" >&2; exit 1; }
  echo "appending"
  ap_alluxio=$(append "$amnt")
  ap_alluxio2=$(append "$amnt")
  ap_s3fs=$(append "$work/s3fs")
  appended 3
  ap_rclone=$(append "$work/rclone")
fi

echo "reading: raw"
c0=$(cpu_secs "${pids[0]}")
raw=$(s3raw -runs "$runs" read data.bin && times >"$work/raw.times")
c1=$(cpu_secs "${pids[0]}")
# The reader's own CPU time.
raw_self=$(children_secs <"$work/raw.times")
raw_cpu=$(awk -v a="$c0" -v b="$c1" -v r="$raw_self" -v n="$runs" -v m="$size_mib" 'BEGIN { printf "%.2f", (b - a + r) / n * 1024 / m }')

# The ceiling of any FUSE mount of the bucket on this machine: its bytes
# come from the server at least as dearly as the raw reader gets them, and
# then go through FUSE to the reader. That second part is measured on
# go-fuse's loopback over the object's own file in versitygw's tmpfs
# (passthrough off, page cache dropped): the CPU seconds per GiB of the
# loopback and of dd together. The raw read is CPU-bound on this machine,
# and so would the mount's be, so no mount can read faster than
# raw x raw_cpu / (raw_cpu + that), even one that caches nothing.
echo "reading: go-fuse loopback of the object's file"
mkdir -p "$work/loop"
"$work/loopback" "$shm/s3/$bucket" "$work/loop" &
loop_pid=$!
pids+=("$loop_pid")
for _ in $(seq 100); do grep -qs " $work/loop " /proc/mounts && break; sleep 0.1; done
loop_cpu=$(for _ in $(seq "$runs"); do
  drop
  l0=$(cpu_secs "$loop_pid")
  dd_cpu=$({ dd if="$work/loop/data.bin" of=/dev/null bs=1M 2>/dev/null; times; } | children_secs)
  awk -v a="$l0" -v b="$(cpu_secs "$loop_pid")" -v d="$dd_cpu" -v m="$size_mib" 'BEGIN { printf "%.2f\n", (b - a + d) * 1024 / m }'
done | least)
unmount "$work/loop"
ceiling=$(awk -v g="$raw" -v r="$raw_cpu" -v l="$loop_cpu" 'BEGIN { printf "%.3f", g * r / (r + l) }')
echo "raw $raw GB/s at $raw_cpu CPU s/GiB; through FUSE $loop_cpu CPU s/GiB more: no mount above $ceiling GB/s"
if [ -n "$quick" ]; then
  for pc in 1:16 2:16 4:16 4:1 16:1; do
    echo "raw, ${pc%%:*} x ${pc#*:} MiB GETs: $(s3raw -runs 2 -parallel "${pc%%:*}" -chunk "${pc#*:}" read data.bin) GB/s"
  done
fi

# The cold and second reads: the three mounts in turn in each run, so that
# the load of a shared machine falls alike on all of them.
a_pids=("${pids[0]}")
for f in "$home"/logs/*.pid; do a_pids+=("$(head -n 1 "$f")"); done
a_cold=() a_warm=() a_cpu=() s_cold=() s_warm=() s_cpu=() r_cold=() r_warm=() r_cpu=()
for i in $(seq "$runs"); do
  echo "reading, run $i: alluxio-go"
  "$home/bin/alluxio" fs free /s3/data.bin >/dev/null
  wait_used le 0
  drop
  c0=$(cpu_secs "${a_pids[@]}")
  a_cold+=("$(read_gbps "$amnt/data.bin")")
  a_cpu+=("$(per_gib "$c0" "$(cpu_secs "${a_pids[@]}")")")
  wait_used ge $((size_mib << 20)) # the worker caches what the cold read fetched
  a_warm+=("$(read_gbps "$amnt/data.bin")")
  [ -z "$quick" ] || continue

  echo "reading, run $i: s3fs"
  unmount "$work/s3fs"
  mount_s3fs
  drop
  s_pids=("${pids[0]}" $(pgrep -f -- "s3fs $bucket $work/s3fs"))
  c0=$(cpu_secs "${s_pids[@]}")
  s_cold+=("$(read_gbps "$work/s3fs/data.bin")")
  s_cpu+=("$(per_gib "$c0" "$(cpu_secs "${s_pids[@]}")")")
  s_warm+=("$(read_gbps "$work/s3fs/data.bin")")

  echo "reading, run $i: rclone"
  unmount "$work/rclone"
  mount_rclone
  drop
  r_pids=("${pids[0]}" $(pgrep -f -- "rclone mount bench:$bucket $work/rclone"))
  c0=$(cpu_secs "${r_pids[@]}")
  r_cold+=("$(read_gbps "$work/rclone/data.bin")")
  r_cpu+=("$(per_gib "$c0" "$(cpu_secs "${r_pids[@]}")")")
  r_warm+=("$(read_gbps "$work/rclone/data.bin")")
done
echo "cold reads, GB/s: alluxio-go ${a_cold[*]}; s3fs ${s_cold[*]}; rclone ${r_cold[*]}"
echo "cold reads, CPU s/GiB: alluxio-go ${a_cpu[*]}; s3fs ${s_cpu[*]}; rclone ${r_cpu[*]}"
a_cold=$(printf '%s\n' "${a_cold[@]}" | best)
a_cpu=$(printf '%s\n' "${a_cpu[@]}" | least)
a_warm=$(printf '%s\n' "${a_warm[@]}" | best)

if [ -n "$quick" ]; then
  echo "raw $raw GB/s; alluxio-go cold $a_cold GB/s ($(awk -v a="$a_cold" -v b="$raw" 'BEGIN { printf "%.2f", a / b }')x raw), second read $a_warm GB/s"
  # One more cold read, with the CPU seconds each process spent on it
  # (and the worker's and FUSE daemon's CPU profiles in
  # BENCH_S3_PROFILE.worker and .fuse, when set).
  names=(versitygw) procs=("${pids[0]}")
  for f in "$home"/logs/*.pid; do names+=("$(basename "$f" .pid)") procs+=("$(head -n 1 "$f")"); done
  "$home/bin/alluxio" fs free /s3/data.bin >/dev/null
  wait_used le 0
  drop
  before=()
  for p in "${procs[@]}"; do before+=("$(cpu_secs "$p")"); done
  profs=()
  if [ -n "${BENCH_S3_PROFILE:-}" ]; then
    for d in worker fuse; do
      wport=$(awk -F= "/$d.web.port/ {print \$2}" "$home/conf/alluxio-site.properties")
      curl -s -o "$BENCH_S3_PROFILE.$d" "http://127.0.0.1:$wport/debug/pprof/profile?seconds=2" &
      profs+=($!)
    done
  fi
  dd if="$amnt/data.bin" of=/dev/null bs=1M 2>&1 | tail -n 1
  for p in "${profs[@]}"; do wait "$p"; done
  for i in "${!procs[@]}"; do
    echo "cpu ${names[$i]}: $(awk -v a="${before[$i]}" -v b="$(cpu_secs "${procs[$i]}")" 'BEGIN { printf "%.2f s", b - a }')"
  done
  # The small-file rows, alluxio-go and s3fs in turn.
  mount_s3fs
  echo "small files (create+1KiB/s stat/s readdir entries/s unlink/s), $files files:"
  # The CPU each process spent on the creates and on the unlinks (a
  # snapshot in $work/cpu.PHASE.begin and .end), and the master's and the
  # FUSE daemon's CPU profiles over the first BENCH_S3_PROFILE_SECS
  # seconds (default 1) of each (BENCH_S3_PROFILE.PHASE.master and
  # .PHASE.fuse).
  fport=$(awk -F= '/fuse.web.port/ {print $2}' "$home/conf/alluxio-site.properties")
  { echo '#!/usr/bin/env bash'; declare -f cpu_secs
    echo 'case $2 in create|unlink) ;; *) exit 0 ;; esac'
    echo "for p in ${procs[*]}; do cpu_secs \$p; echo; done | paste -sd' ' >$work/cpu.\$2.\$1"
    if [ -n "${BENCH_S3_PROFILE:-}" ]; then
      echo '[ "$1" = begin ] || exit 0'
      for d in master:$web fuse:$fport; do
        echo "curl -s -o $BENCH_S3_PROFILE.\$2.${d%%:*} 'http://127.0.0.1:${d#*:}/debug/pprof/profile?seconds=${BENCH_S3_PROFILE_SECS:-1}' >/dev/null 2>&1 &"
      done
    fi
  } >"$work/hook"
  chmod +x "$work/hook"
  echo "  alluxio-go $("$work/fileops" -dir "$amnt" -n "$files" -hook "$work/hook")"
  for phase in create unlink; do
    read -r -a c0 <"$work/cpu.$phase.begin"
    read -r -a c1 <"$work/cpu.$phase.end"
    for i in "${!procs[@]}"; do
      echo "  cpu of the ${phase}s, ${names[$i]}: $(awk -v a="${c0[$i]}" -v b="${c1[$i]}" -v n="$files" 'BEGIN { printf "%.0f us each", (b - a) * 1e6 / n }')"
    done
  done
  echo "  FUSE daemon's metadata cache: $(curl -s "http://127.0.0.1:$fport/metrics" | awk '/^Client_MetadataCache/ { sub("Client_MetadataCache", ""); printf "%s %s, ", $1, $2 }')"
  echo "  s3fs       $("$work/fileops" -dir "$work/s3fs" -n "$files")"
  echo "append 1 KiB to $append_mib MiB, s: alluxio-go cold $(append "$amnt"), again $(append "$amnt"); s3fs $(append "$work/s3fs")"
  appended 3
  echo "  bytes the bucket copied for alluxio-go: $(curl -s "http://127.0.0.1:$web/api/v1/master/metrics" | python3 -c 'import json,sys; print(int(json.load(sys.stdin).get("Cluster.BytesCopiedUfs", 0)))')"
  exit 0
fi
s_cold=$(printf '%s\n' "${s_cold[@]}" | best)
s_cpu=$(printf '%s\n' "${s_cpu[@]}" | least)
s_warm=$(printf '%s\n' "${s_warm[@]}" | best)
r_cold=$(printf '%s\n' "${r_cold[@]}" | best)
r_cpu=$(printf '%s\n' "${r_cpu[@]}" | least)
r_warm=$(printf '%s\n' "${r_warm[@]}" | best)

echo "small files"
out=$("$work/fileops" -dir "$amnt" -n "$files") && read -r a_create a_stat a_readdir a_unlink <<<"$out"
out=$("$work/fileops" -dir "$work/s3fs" -n "$files") && read -r s_create s_stat s_readdir s_unlink <<<"$out"
out=$("$work/fileops" -dir "$work/rclone" -n "$files") && read -r r_create r_stat r_readdir r_unlink <<<"$out"

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)
mem=$(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)
passthrough=$(grep -c 'passthrough=true' "$home"/logs/fuse-*.log | head -n 1 || true)
{
  echo
  echo "## $(date -u +%Y-%m-%d) S3: alluxio-go vs. s3fs and rclone over one versitygw bucket"
  echo
  echo "Machine: $(nproc) cores ($cpu), $mem, kernel $(uname -r); versitygw ${VERSITYGW_VERSION:-v1.8.0} serving"
  echo "tmpfs on 127.0.0.1; s3fs $(s3fs --version 2>&1 | grep -o 'V[0-9.]*' | head -n 1), $(rclone version 2>/dev/null | head -n 1);"
  echo "reads: ${size_mib} MiB object, dd bs=1M, best of $runs; kernel passthrough: $([ "${passthrough:-0}" -gt 0 ] && echo on || echo off);"
  echo "alluxio-go page size: ${page:-1MB (the default)}; read-ahead (alluxio.worker.network.reader.buffer.size): ${ahead:-64MB (the default)};"
  echo "the alluxio-go tier and rclone's cache on $([ -n "$huge" ] && echo "a tmpfs with huge=within_size (transparent huge pages)" || echo "/dev/shm (tmpfs, 4 KiB pages)")."
  echo "Ratios are alluxio-go / the other (above 1: alluxio-go ahead); for ls -l, appends and CPU seconds, the other's / alluxio-go's."
  echo "CPU seconds: the least of the cold reads, dd's own left out (the same for every mount)."
  echo
  echo "| row | alluxio-go | raw SDK, 16 x 8 MiB ranged GETs | s3fs | rclone full cache | vs raw | vs s3fs | vs rclone |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
  echo "| cold read, GB/s | $a_cold | $raw | $s_cold | $r_cold | $(ratio "$a_cold" "$raw") | $(ratio "$a_cold" "$s_cold") | $(ratio "$a_cold" "$r_cold") |"
  echo "| cold read, CPU seconds per GiB (the mount's processes and versitygw; for raw, the reader and versitygw) | $a_cpu | $raw_cpu | $s_cpu | $r_cpu | $(ratio "$raw_cpu" "$a_cpu") | $(ratio "$s_cpu" "$a_cpu") | $(ratio "$r_cpu" "$a_cpu") |"
  echo "| cold read, ceiling of any FUSE mount here (raw's CPU plus go-fuse loopback's and dd's, $loop_cpu s/GiB), GB/s | $ceiling | $raw | | | $(ratio "$ceiling" "$raw") | | |"
  echo "| second read, GB/s | $a_warm | | $s_warm | $r_warm | | $(ratio "$a_warm" "$s_warm") | $(ratio "$a_warm" "$r_warm") |"
  echo "| first ls -l of $keys objects, s | $ls_alluxio | | $ls_s3fs | $ls_rclone | | $(ratio "$ls_s3fs" "$ls_alluxio") | $(ratio "$ls_rclone" "$ls_alluxio") |"
  echo "| create + 1 KiB write + close, files/s | $a_create | | $s_create | $r_create | | $(ratio "$a_create" "$s_create") | $(ratio "$a_create" "$r_create") |"
  echo "| stat, files/s | $a_stat | | $s_stat | $r_stat | | $(ratio "$a_stat" "$s_stat") | $(ratio "$a_stat" "$r_stat") |"
  echo "| readdir of $files, entries/s | $a_readdir | | $s_readdir | $r_readdir | | $(ratio "$a_readdir" "$s_readdir") | $(ratio "$a_readdir" "$r_readdir") |"
  echo "| unlink, files/s | $a_unlink | | $s_unlink | $r_unlink | | $(ratio "$a_unlink" "$s_unlink") | $(ratio "$a_unlink" "$r_unlink") |"
  echo "| append 1 KiB to a $append_mib MiB object, nothing cached, s until close() returns | $ap_alluxio | | $ap_s3fs | $ap_rclone | | $(ratio "$ap_s3fs" "$ap_alluxio") | $(ratio "$ap_rclone" "$ap_alluxio") |"
  echo "| the same append again, s | $ap_alluxio2 | | | | | | |"
} | tee -a "${BENCH_OUT:-$root/docs/benchmarks.md}"
