#!/usr/bin/env bash
# Renders the plain specs from the Helm chart: for each <name>.values.yaml
# beside this script, <name>/ gets what
#   helm template alluxio packaging/helm/alluxio -n default -f <name>.values.yaml
# renders, one file per chart template. Run it after changing the chart;
# tests/packaging_test.go fails when the committed specs are stale.
#
#   packaging/kubernetes/generate.sh            rewrite the specs here
#   packaging/kubernetes/generate.sh OUT_DIR    write them under OUT_DIR
#   HELM=/path/to/helm ...                      use that helm
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=${1:-$here}
helm=${HELM:-}
if [ -z "$helm" ]; then
  if [ -x "$repo/.cache/bin/helm" ]; then helm=$repo/.cache/bin/helm; else helm=helm; fi
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for values in "$here"/*.values.yaml; do
  name=$(basename "$values" .values.yaml)
  "$helm" template alluxio "$repo/packaging/helm/alluxio" --namespace default \
    -f "$values" --output-dir "$tmp/$name" >/dev/null
  rm -rf "${out:?}/$name"
  mkdir -p "$out"
  mv "$tmp/$name/alluxio/templates" "$out/$name"
  echo "rendered $out/$name"
done
