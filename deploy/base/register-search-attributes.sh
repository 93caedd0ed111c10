#!/bin/sh
# Registers the search attributes the AIM workflows set (workflows/signals.ts; spec section 9) as Keywords in
# TEMPORAL_NAMESPACE, then exits. Idempotent: attributes already registered are left alone, so it runs on every
# install and upgrade. The connection comes from the Temporal CLI's environment variables, the same ones the worker
# reads (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS, TEMPORAL_TLS_CLIENT_CERT_PATH, ...).
# Run by the Job of deploy/base/search-attributes.yaml, the Helm chart's Job (its files/ links to this file; helm
# package copies it in) and docker-compose.yml's temporal-search-attributes service.
set -eu
PATH="$PATH:/app" # the temporalio/temporal image keeps the CLI in /app
namespace="${TEMPORAL_NAMESPACE:-default}"
attempts="${AIM_REGISTER_ATTEMPTS:-60}"

# Temporal may still be starting (a fresh install): wait for the namespace to answer, 5 s apart.
n=0
until existing=$(temporal operator search-attribute list --namespace "$namespace" 2>&1); do
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
    temporal operator search-attribute create --namespace "$namespace" --name "$name" --type Keyword
    echo "search attribute $name: registered"
  fi
done
