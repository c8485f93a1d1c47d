#!/usr/bin/env bash
# Installs versitygw, the S3 server the ufs/s3 tests run against, into
# <repo>/.cache/bin through the Go module proxy. Idempotent: does nothing
# when the binary is already there.
#
#   tests/s3/install-versitygw.sh          install if missing
#   VERSITYGW_VERSION=v1.8.0 tests/s3/...  pin another version
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
version=${VERSITYGW_VERSION:-v1.8.0}
bin="$repo/.cache/bin"

if [ -x "$bin/versitygw" ]; then
  echo "versitygw already installed: $bin/versitygw"
  exit 0
fi

command -v go >/dev/null || { echo "install-versitygw: go is not on PATH" >&2; exit 1; }
mkdir -p "$bin"
echo "installing versitygw $version into $bin (takes a minute or two)"
# Build outside the repository so its go.mod does not take part.
cd /
GOBIN="$bin" go install "github.com/versity/versitygw/cmd/versitygw@$version"
"$bin/versitygw" --version >/dev/null
echo "installed $bin/versitygw"
