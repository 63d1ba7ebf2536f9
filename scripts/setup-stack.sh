#!/usr/bin/env bash
# Provisions the telemetry stack that the e2e and collector tests run against, on a brand-new machine:
#   - the reloadscope OpenTelemetry Collector, built with the Collector Builder from collector/builder-config.yaml
#   - Jaeger v2 (the `jaeger` binary), built from its Go module at a pinned release
#   - Prometheus + promtool and docker-compose (Debian packages; docker-compose only parses the compose file)
#   - Alertmanager (Debian prometheus-alertmanager: the fleet test delivers alerts through it to a webhook)
#   - Helm (built from its Go module: the tests lint and render the chart in collector/chart)
#   - go-jsonnet's `jsonnet` (built from its Go module: the tests evaluate the monitoring mixin in collector/mixin)
#
# Binaries go to a cache OUTSIDE the clone, so clean CI clones reuse them:
#   ${RELOADSCOPE_CACHE:-$HOME/.cache/reloadscope}/bin/{otelcol-reloadscope,jaeger,helm,jsonnet}
# The Collector build is keyed on a hash of the manifest, Jaeger on the pinned version + build key: re-running is cheap.
#
# Needs: Go >= 1.24 on PATH (the builds fetch modules from the Go module proxy), apt-get as root.
# A fresh build of both takes 10-15 minutes on 2 cores (collector/README.md); both compile in parallel.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${RELOADSCOPE_CACHE:-$HOME/.cache/reloadscope}"
BIN="$CACHE/bin"
BUILD="$CACHE/build"
MANIFEST="$ROOT/collector/builder-config.yaml"

# The Collector Builder release matching the manifest's core modules.
OCB_VERSION="v0.165.0"
# Jaeger v2 lives in the module github.com/jaegertracing/jaeger, whose module versions are the v1.x tags that
# mark the same commits as the v2.x releases: v1.76.0 is the commit of Jaeger v2.13.0. Its go.mod carries one
# replace directive (sarama), which `go install pkg@version` refuses, so we build it from a tiny main module
# that repeats that replace. See collector/README.md for why this release.
JAEGER_MODULE_VERSION="v1.76.0"
JAEGER_RELEASE="v2.13.0"
JAEGER_REPLACES=("github.com/Shopify/sarama=github.com/Shopify/sarama@v1.33.0")
# `jaeger version` reads these link-time variables (Jaeger's own Makefile sets them the same way, from git).
# Without them it prints empty fields. The commit SHA is not known from a module download, so it stays empty;
# the date is the module version's commit time from the Go module proxy.
JAEGER_VERSION_PKG="github.com/jaegertracing/jaeger/internal/version"
# Part of the cache key: bump it whenever the build itself changes (flags, replaces), so cached binaries rebuild.
JAEGER_BUILD_KEY="$JAEGER_MODULE_VERSION+version-stamp"
# Helm is only used to lint and render the chart; any v3 would do, this one is pinned so the output is stable.
HELM_VERSION="v3.22.0"
# go-jsonnet evaluates the mixin the way kube-prometheus users do; pinned so the rendering is stable.
JSONNET_VERSION="v0.22.0"

START=$(date +%s)
step() { printf '[setup-stack +%4ss] %s\n' "$(($(date +%s) - START))" "$*"; }
die() {
  printf '[setup-stack +%4ss] ERROR: %s\n' "$(($(date +%s) - START))" "$*" >&2
  exit 1
}

mkdir -p "$BIN" "$BUILD"

# --- Debian packages -------------------------------------------------------------------------------
need_pkgs=()
command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1 || need_pkgs+=(prometheus)
command -v docker-compose >/dev/null 2>&1 || need_pkgs+=(docker-compose)
command -v prometheus-alertmanager >/dev/null 2>&1 || need_pkgs+=(prometheus-alertmanager)
if ((${#need_pkgs[@]})); then
  command -v apt-get >/dev/null 2>&1 || die "apt-get not found: install ${need_pkgs[*]} by hand (promtool must be on PATH)"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  step "apt-get update"
  $SUDO apt-get update -qq >"$BUILD/apt.log" 2>&1 || { tail -20 "$BUILD/apt.log" >&2; die "apt-get update failed"; }
  step "apt-get install ${need_pkgs[*]}"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" \
    >>"$BUILD/apt.log" 2>&1 || { tail -20 "$BUILD/apt.log" >&2; die "apt-get install ${need_pkgs[*]} failed"; }
else
  step "prometheus, promtool, docker-compose and alertmanager already installed"
fi
step "$(promtool --version 2>&1 | head -1)"

# --- Go builds ---------------------------------------------------------------------------------------
# The official Go tarball installs to /usr/local/go; CI shells do not always have it on PATH.
command -v go >/dev/null 2>&1 || [ ! -x /usr/local/go/bin/go ] || export PATH="$PATH:/usr/local/go/bin"
command -v go >/dev/null 2>&1 || die "go not found on PATH: install Go >= 1.24 (the Collector and Jaeger are built from source)"
export GOFLAGS="${GOFLAGS:--buildvcs=false}"
step "$(go version)"

manifest_key="$(sha256sum "$MANIFEST" | cut -c1-16)"
otelcol_stamp="$BIN/.otelcol-reloadscope.key"
jaeger_stamp="$BIN/.jaeger.version"
helm_stamp="$BIN/.helm.version"
jsonnet_stamp="$BIN/.jsonnet.version"

build_otelcol() {
  local dir="$BUILD/otelcol-$manifest_key"
  rm -rf "$dir" && mkdir -p "$dir"
  cp "$MANIFEST" "$dir/builder-config.yaml"
  GOBIN="$CACHE/tools" go install "go.opentelemetry.io/collector/cmd/builder@$OCB_VERSION"
  (cd "$dir" && "$CACHE/tools/builder" --config builder-config.yaml)
  install -m 0755 "$dir/otelcol-reloadscope/otelcol-reloadscope" "$BIN/otelcol-reloadscope"
  "$BIN/otelcol-reloadscope" --version
  echo "$manifest_key" >"$otelcol_stamp"
  rm -rf "$dir"
}

build_jaeger() {
  local dir="$BUILD/jaeger-$JAEGER_MODULE_VERSION"
  rm -rf "$dir" && mkdir -p "$dir"
  (
    cd "$dir"
    go mod init reloadscope.local/jaeger-build
    for r in "${JAEGER_REPLACES[@]}"; do go mod edit -replace "$r"; done
    go get "github.com/jaegertracing/jaeger/cmd/jaeger@$JAEGER_MODULE_VERSION"
    local module_time
    module_time="$(go list -m -f '{{.Time.UTC.Format "2006-01-02T15:04:05Z"}}' github.com/jaegertracing/jaeger)"
    go build -trimpath \
      -ldflags "-X $JAEGER_VERSION_PKG.latestVersion=$JAEGER_RELEASE -X $JAEGER_VERSION_PKG.date=$module_time" \
      -o jaeger github.com/jaegertracing/jaeger/cmd/jaeger
  )
  # Renamed into place (same filesystem): a test running the old binary never sees a half-written one.
  mv -f "$dir/jaeger" "$BIN/jaeger"
  "$BIN/jaeger" version 2>/dev/null | grep -q "\"gitVersion\":\"$JAEGER_RELEASE\"" ||
    { echo "jaeger version does not report $JAEGER_RELEASE" >&2; return 1; }
  echo "$JAEGER_BUILD_KEY" >"$jaeger_stamp"
  rm -rf "$dir"
}

build_helm() {
  GOBIN="$CACHE/tools" go install "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  mv -f "$CACHE/tools/helm" "$BIN/helm"
  "$BIN/helm" version --short
  echo "$HELM_VERSION" >"$helm_stamp"
}

build_jsonnet() {
  GOBIN="$CACHE/tools" go install "github.com/google/go-jsonnet/cmd/jsonnet@$JSONNET_VERSION"
  mv -f "$CACHE/tools/jsonnet" "$BIN/jsonnet"
  "$BIN/jsonnet" --version
  echo "$JSONNET_VERSION" >"$jsonnet_stamp"
}

pids=()
names=()
# Starts a build in the background unless its binary exists and its stamp names the wanted version.
build_unless_current() {
  local name=$1 binary=$2 stamp=$3 key=$4 what=$5 builder=$6
  if [ -x "$binary" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$key" ]; then
    step "$what: up to date, $binary"
  else
    step "building $what, log: $BUILD/$name.log"
    "$builder" >"$BUILD/$name.log" 2>&1 &
    pids+=($!)
    names+=("$name")
  fi
}
build_unless_current otelcol "$BIN/otelcol-reloadscope" "$otelcol_stamp" "$manifest_key" \
  "the Collector (ocb $OCB_VERSION, manifest $manifest_key)" build_otelcol
build_unless_current jaeger "$BIN/jaeger" "$jaeger_stamp" "$JAEGER_BUILD_KEY" \
  "Jaeger $JAEGER_RELEASE (module $JAEGER_MODULE_VERSION)" build_jaeger
build_unless_current helm "$BIN/helm" "$helm_stamp" "$HELM_VERSION" "Helm $HELM_VERSION" build_helm
build_unless_current jsonnet "$BIN/jsonnet" "$jsonnet_stamp" "$JSONNET_VERSION" "go-jsonnet $JSONNET_VERSION" build_jsonnet

failed=0
for i in "${!pids[@]}"; do
  if wait "${pids[$i]}"; then
    step "${names[$i]} built"
  else
    echo "----- last lines of $BUILD/${names[$i]}.log -----" >&2
    tail -30 "$BUILD/${names[$i]}.log" >&2
    printf '[setup-stack +%4ss] ERROR: building %s failed (last lines above; full log: %s)\n' \
      "$(($(date +%s) - START))" "${names[$i]}" "$BUILD/${names[$i]}.log" >&2
    failed=1
  fi
done
[ "$failed" -eq 0 ] || exit 1

step "ready: $BIN/otelcol-reloadscope, $BIN/jaeger, $BIN/helm, $BIN/jsonnet, $(command -v prometheus), $(command -v promtool), $(command -v prometheus-alertmanager)"
