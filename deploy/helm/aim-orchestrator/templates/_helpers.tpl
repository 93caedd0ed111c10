{{/* Base name of every object: fullnameOverride (default aim-orchestrator). */}}
{{- define "aim.fullname" -}}
{{- .Values.fullnameOverride | default "aim-orchestrator" | trunc 50 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels of every object; include with (dict "ctx" . "component" "worker"). */}}
{{- define "aim.labels" -}}
app.kubernetes.io/name: aim-orchestrator
{{- with .component }}
app.kubernetes.io/component: {{ . }}
{{- end }}
app.kubernetes.io/part-of: aim-orchestrator
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .ctx.Chart.Name .ctx.Chart.Version }}
{{- end -}}

{{/* Selector labels: as deploy/base, so that a switch between kustomize and Helm keeps the Deployments. */}}
{{- define "aim.selectorLabels" -}}
app.kubernetes.io/name: aim-orchestrator
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "aim.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "aim.downloaderImage" -}}
{{ .Values.downloaderImage.repository }}:{{ .Values.downloaderImage.tag | default .Chart.AppVersion }}
{{- end -}}

{{/* Where the TLS Secret's files are mounted. */}}
{{- define "aim.tlsDir" -}}/etc/temporal/tls{{- end -}}

{{/*
Temporal connection settings beyond the ConfigMap, for every container that talks to Temporal: the envconfig variables
(TEMPORAL_TLS*, TEMPORAL_API_KEY) read by the worker, the bridge and the Temporal CLI alike. Secrets stay in Secrets:
the API key as a secretKeyRef, certificates as files.
*/}}
{{- define "aim.temporalEnv" -}}
{{- $tls := .Values.temporal.tls -}}
{{- if or $tls.enabled $tls.secretName .Values.temporal.apiKey.secretName }}
- name: TEMPORAL_TLS
  value: 'true'
{{- end }}
{{- if $tls.secretName }}
{{- if $tls.clientCertKey }}
- name: TEMPORAL_TLS_CLIENT_CERT_PATH
  value: {{ printf "%s/%s" (include "aim.tlsDir" .) $tls.clientCertKey }}
{{- end }}
{{- if $tls.clientKeyKey }}
- name: TEMPORAL_TLS_CLIENT_KEY_PATH
  value: {{ printf "%s/%s" (include "aim.tlsDir" .) $tls.clientKeyKey }}
{{- end }}
{{- if $tls.serverCAKey }}
- name: TEMPORAL_TLS_SERVER_CA_CERT_PATH
  value: {{ printf "%s/%s" (include "aim.tlsDir" .) $tls.serverCAKey }}
{{- end }}
{{- end }}
{{- with $tls.serverName }}
- name: TEMPORAL_TLS_SERVER_NAME
  value: {{ . | quote }}
{{- end }}
{{- with .Values.temporal.apiKey.secretName }}
- name: TEMPORAL_API_KEY
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $.Values.temporal.apiKey.key }}
{{- end }}
{{- end -}}

{{- define "aim.temporalVolumeMounts" -}}
{{- if .Values.temporal.tls.secretName }}
- name: temporal-tls
  mountPath: {{ include "aim.tlsDir" . }}
  readOnly: true
{{- end }}
{{- end -}}

{{- define "aim.temporalVolumes" -}}
{{- with .Values.temporal.tls.secretName }}
- name: temporal-tls
  secret:
    secretName: {{ . }}
{{- end }}
{{- end -}}

{{/* Optional payload encryption keys (docs/operating.md): unset while the Secret does not exist. */}}
{{- define "aim.payloadKeyEnv" -}}
{{- $secret := .Values.payloadKeySecret -}}
{{- range list (list "AIM_PAYLOAD_KEY" "key") (list "AIM_PAYLOAD_KEY_ID" "keyId") (list "AIM_PAYLOAD_DECRYPT_KEYS" "decryptKeys") }}
- name: {{ index . 0 }}
  valueFrom:
    secretKeyRef: { name: {{ $secret }}, key: {{ index . 1 }}, optional: true }
{{- end }}
{{- end -}}

{{/* The restricted Pod Security Standard: pod level, then container level. */}}
{{- define "aim.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 1000
runAsGroup: 1000
fsGroup: 1000
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "aim.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
runAsUser: 1000
runAsGroup: 1000
capabilities:
  drop: [ALL]
{{- end -}}
