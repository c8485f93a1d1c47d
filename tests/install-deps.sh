#!/usr/bin/env bash
# Installs what the tests need on a bare Debian machine with Go, as root.
# Idempotent: installs only what is missing.
set -euo pipefail

need_apt=()
command -v python3 >/dev/null || need_apt+=(python3)
command -v cmp >/dev/null || need_apt+=(diffutils)
command -v mount >/dev/null || need_apt+=(mount)
command -v setpriv >/dev/null || need_apt+=(util-linux)
# Third-party programs the conformance tests run on the mount.
command -v git >/dev/null || need_apt+=(git)
command -v tar >/dev/null || need_apt+=(tar)
command -v rsync >/dev/null || need_apt+=(rsync)
command -v sqlite3 >/dev/null || need_apt+=(sqlite3)
command -v fio >/dev/null || need_apt+=(fio)
# stress-ng's file-system stressors (tests/stressng_test.go).
command -v stress-ng >/dev/null || need_apt+=(stress-ng)
# The install test checks the systemd units with systemd's own verifier.
command -v systemd-analyze >/dev/null || need_apt+=(systemd)
if [ ${#need_apt[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
fi

# The system tests mount FUSE for real.
if [ ! -e /dev/fuse ]; then
  modprobe fuse 2>/dev/null || true
  [ -e /dev/fuse ] || mknod -m 0666 /dev/fuse c 10 229
fi

go mod download
./tests/s3/install-versitygw.sh

# --- Packaging tests (tests/packaging_test.go) ---
# helm lints and renders the chart in packaging/helm (built through the Go
# module proxy into <repo>/.cache/bin, as versitygw is), and shellcheck
# checks the image's entrypoint.
pkg_apt=()
command -v shellcheck >/dev/null || pkg_apt+=(shellcheck)
if [ ${#pkg_apt[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${pkg_apt[@]}"
fi
helm_version=${HELM_VERSION:-v3.22.0}
helm_bin="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.cache/bin"
if [ ! -x "$helm_bin/helm" ]; then
  echo "installing helm $helm_version into $helm_bin (takes a few minutes)"
  mkdir -p "$helm_bin"
  # Built outside the repository so that its go.mod takes no part.
  (cd / && GOBIN="$helm_bin" go install "helm.sh/helm/v3/cmd/helm@$helm_version")
fi

# --- Web UI browser test (tests/webui_browser_test.go) ---
# Debian's Chromium loads the master's pages headless; fonts-liberation
# gives its screenshots legible text.
if ! command -v chromium >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends chromium fonts-liberation
fi

# --- UFS journal with ZooKeeper election (meta and tests/zk*_test.go) ---
# Debian's ZooKeeper server, started by the tests on 127.0.0.1.
if [ ! -e /usr/share/zookeeper/bin/zkServer.sh ] && ! ls /usr/share/java/zookeeper*.jar >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends zookeeper
fi
