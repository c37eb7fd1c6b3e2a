{{- define "multus.labels" -}}
tier: node
app: multus
app.kubernetes.io/name: multus
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- with .Values.labels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "multus.image" -}}
{{ .Values.image.repository }}:{{ required "image.tag is required (pin it)" .Values.image.tag }}
{{- end -}}
