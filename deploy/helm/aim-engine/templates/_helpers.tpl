{{/* The chart name, or nameOverride. */}}
{{- define "aim-engine.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The name of the release's namespaced objects: fullnameOverride, else the release name, with the
chart name appended unless the release name already contains it. */}}
{{- define "aim-engine.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The name of the release's cluster-scoped objects. They share one namespace-less name space, so
the release namespace is part of the name: the same release name installed in two namespaces must not
take over each other's ClusterRole. */}}
{{- define "aim-engine.clusterName" -}}
{{- printf "%s-%s" .Release.Namespace (include "aim-engine.fullname" .) | trunc 253 | trimSuffix "-" -}}
{{- end -}}

{{- define "aim-engine.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "aim-engine.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "aim-engine.selectorLabels" -}}
app.kubernetes.io/name: {{ include "aim-engine.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "aim-engine.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "aim-engine.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: operator
{{- end -}}
