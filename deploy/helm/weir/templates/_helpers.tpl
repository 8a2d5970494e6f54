{{/* Names, labels and the pieces every weir pod shares. */}}

{{- define "weir.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "weir.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "weir.selectorLabels" -}}
app.kubernetes.io/name: {{ include "weir.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "weir.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "weir.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: weir
{{- end }}

{{- define "weir.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{- define "weir.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "weir.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name must name an existing ServiceAccount when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "weir.jobmanagerName" -}}{{ include "weir.fullname" . }}-jobmanager{{- end }}
{{- define "weir.configName" -}}{{ include "weir.fullname" . }}-config{{- end }}

{{/* The JobManager's address inside the cluster: what TaskManagers and in-cluster clients
use, and what a TLS certificate must name. */}}
{{- define "weir.jobmanagerHost" -}}
{{ include "weir.jobmanagerName" . }}.{{ .Release.Namespace }}.svc
{{- end }}

{{/* What TaskManagers call (--advertised-host): a headless Service that resolves to the
JobManager pod before it is ready, since it becomes ready only once its TaskManagers run. */}}
{{- define "weir.jobmanagerInternalHost" -}}
{{ include "weir.jobmanagerName" . }}-internal.{{ .Release.Namespace }}.svc
{{- end }}

{{- define "weir.tokenSecretName" -}}
{{- .Values.auth.existingSecret | default (printf "%s-token" (include "weir.fullname" .)) }}
{{- end }}

{{- define "weir.raySecretName" -}}
{{- .Values.ray.existingSecret | default (printf "%s-ray-auth" (include "weir.fullname" .)) }}
{{- end }}

{{- define "weir.s3SecretName" -}}
{{- if .Values.s3.credentials.existingSecret }}
{{- .Values.s3.credentials.existingSecret }}
{{- else if .Values.s3.credentials.create }}
{{- printf "%s-s3" (include "weir.fullname" .) }}
{{- end }}
{{- end }}

{{/* The Ray head's address (GCS): KubeRay names its head Service <cluster>-head-svc. */}}
{{- define "weir.rayClusterName" -}}{{ include "weir.fullname" . }}-ray{{- end }}
{{- define "weir.rayHeadHost" -}}
{{- if eq .Values.ray.mode "kuberay" -}}
{{ include "weir.rayClusterName" . }}-head-svc.{{ .Release.Namespace }}.svc
{{- else -}}
{{ include "weir.rayClusterName" . }}-head.{{ .Release.Namespace }}.svc
{{- end }}
{{- end }}

{{/* A token kept across upgrades: the value in the existing Secret if there is one, else a
new random one (helm template, which cannot look up, draws a new one each time). */}}
{{- define "weir.persistentToken" -}}
{{- $existing := lookup "v1" "Secret" .namespace .name }}
{{- if and $existing $existing.data (hasKey $existing.data .key) }}
{{- index $existing.data .key }}
{{- else }}
{{- randAlphaNum 48 | b64enc }}
{{- end }}
{{- end }}

{{/* Environment every Ray process needs (head, workers, the JobManager's own Ray node):
token authentication on, the token from its Secret; S3 credentials when configured. */}}
{{- define "weir.rayEnv" -}}
- name: RAY_AUTH_MODE
  value: token
- name: RAY_AUTH_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ include "weir.raySecretName" . }}
      key: {{ .Values.ray.secretKey }}
- name: RAY_USAGE_STATS_ENABLED
  value: "0"
- name: POD_IP
  valueFrom:
    fieldRef:
      fieldPath: status.podIP
{{- with (include "weir.s3SecretName" .) }}
- name: AWS_ACCESS_KEY_ID
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $.Values.s3.credentials.accessKeyIdKey }}
- name: AWS_SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $.Values.s3.credentials.secretAccessKeyKey }}
{{- end }}
{{- end }}

{{/* Writable places on a read-only root filesystem: /tmp (Ray's session directory and
sockets), the home directory, and /dev/shm for Ray's object store. */}}
{{- define "weir.scratchVolumes" -}}
- name: tmp
  emptyDir: {}
- name: home
  emptyDir: {}
- name: shm
  emptyDir:
    medium: Memory
{{- end }}

{{- define "weir.scratchMounts" -}}
- name: tmp
  mountPath: /tmp
- name: home
  mountPath: /home/weir
- name: shm
  mountPath: /dev/shm
{{- end }}

{{- define "weir.internalTlsVolume" -}}
{{- if .Values.internalTls.enabled }}
- name: internal-tls
  secret:
    secretName: {{ required "internalTls.secretName is required when internalTls.enabled" .Values.internalTls.secretName }}
    defaultMode: 0440
{{- end }}
{{- end }}

{{- define "weir.internalTlsMount" -}}
{{- if .Values.internalTls.enabled }}
- name: internal-tls
  mountPath: /etc/weir/internal-tls
  readOnly: true
{{- end }}
{{- end }}

{{/* Prometheus' annotation-based discovery, for setups without the Operator. */}}
{{- define "weir.metricsAnnotations" -}}
{{- if .Values.metrics.enabled -}}
prometheus.io/scrape: "true"
prometheus.io/port: {{ .Values.metrics.port | quote }}
prometheus.io/path: /metrics
{{- end }}
{{- end }}

{{/* Resources of the Ray worker pods, and the TaskManager resource that pins one
TaskManager to each of them (none to the head or the JobManager's Ray node). */}}
{{- define "weir.taskmanagerResource" -}}weir-taskmanager{{- end }}

{{/* The Ray worker's `ray start` parameters with fixed ports (embedded mode). */}}
{{- define "weir.workerPorts" -}}
--node-manager-port={{ .Values.ray.workerPorts.nodeManager }} --object-manager-port={{ .Values.ray.workerPorts.objectManager }} --min-worker-port={{ .Values.ray.workerPorts.minWorker }} --max-worker-port={{ .Values.ray.workerPorts.maxWorker }}
{{- end }}

{{/* The Ray worker container's ports (both modes). */}}
{{- define "weir.workerContainerPorts" -}}
{{- if .Values.metrics.enabled -}}
- name: metrics
  containerPort: {{ .Values.metrics.port }}
  protocol: TCP
{{- end }}
{{- end }}

{{/* The pod-level part every Ray pod shares (head and workers, both modes). */}}
{{- define "weir.rayPodSpec" -}}
serviceAccountName: {{ include "weir.serviceAccountName" . }}
automountServiceAccountToken: false
enableServiceLinks: false
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- end }}

{{- define "weir.rayVolumes" -}}
{{ include "weir.scratchVolumes" . }}{{ include "weir.internalTlsVolume" . }}
{{- end }}

{{- define "weir.rayMounts" -}}
{{ include "weir.scratchMounts" . }}{{ include "weir.internalTlsMount" . }}
{{- end }}

{{- define "weir.placement" -}}
{{- with .nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}
