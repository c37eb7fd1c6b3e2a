{{- define "reference-agent.name" -}}reference-agent{{- end -}}

{{- define "reference-agent.selectorLabels" -}}
app.kubernetes.io/name: reference-agent
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "reference-agent.labels" -}}
{{ include "reference-agent.selectorLabels" . }}
app.kubernetes.io/part-of: testbed
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end -}}
