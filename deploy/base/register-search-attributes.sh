#!/bin/sh
# Registers the search attributes the AIM workflows set (workflows/signals.ts; spec section 9) as Keywords in
# TEMPORAL_NAMESPACE, then exits. Idempotent: attributes already registered are left alone, so it runs on every
# install and upgrade. The connection comes from the Temporal CLI's environment variables, the same ones the worker
# reads (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS, TEMPORAL_TLS_CLIENT_CERT_PATH, ...).
# Run by the Job of deploy/base/search-attributes.yaml, the Helm chart's Job (its files/ links to this file; helm
# package copies it in) and docker-compose.yml's temporal-search-attributes service.
set -eu
namespace="${TEMPORAL_NAMESPACE:-default}"
attempts="${AIM_REGISTER_ATTEMPTS:-60}"

# TLS settings as flags as well: every CLI version takes the flags, older ones (admin-tools images) do not read all of
# these variables. The API key stays in the environment (TEMPORAL_API_KEY), never on a command line.
set --
if [ -n "${TEMPORAL_TLS_CLIENT_CERT_PATH:-}" ]; then set -- "$@" --tls-cert-path "$TEMPORAL_TLS_CLIENT_CERT_PATH"; fi
if [ -n "${TEMPORAL_TLS_CLIENT_KEY_PATH:-}" ]; then set -- "$@" --tls-key-path "$TEMPORAL_TLS_CLIENT_KEY_PATH"; fi
if [ -n "${TEMPORAL_TLS_SERVER_CA_CERT_PATH:-}" ]; then set -- "$@" --tls-ca-path "$TEMPORAL_TLS_SERVER_CA_CERT_PATH"; fi
if [ -n "${TEMPORAL_TLS_SERVER_NAME:-}" ]; then set -- "$@" --tls-server-name "$TEMPORAL_TLS_SERVER_NAME"; fi
case "${TEMPORAL_TLS:-}" in
  true | 1) set -- "$@" --tls ;;
  *) if [ -n "${TEMPORAL_API_KEY:-}" ]; then set -- "$@" --tls; fi ;; # an API key implies TLS
esac

# Temporal may still be starting (a fresh install): wait for the namespace to answer, 5 s apart.
n=0
until existing=$(temporal operator search-attribute list --namespace "$namespace" "$@" 2>&1); do
  n=$((n + 1))
  if [ "$n" -ge "$attempts" ]; then
    echo "Temporal namespace $namespace did not answer after $n attempts: $existing" >&2
    exit 1
  fi
  echo "waiting for Temporal namespace $namespace (attempt $n of $attempts)" >&2
  sleep 5
done

for name in AimKind AimNamespace AimName AimModelId AimStatus; do
  if printf '%s\n' "$existing" | grep -qw "$name"; then
    echo "search attribute $name: already registered"
  else
    temporal operator search-attribute create --namespace "$namespace" "$@" --name "$name" --type Keyword
    echo "search attribute $name: registered"
  fi
done
