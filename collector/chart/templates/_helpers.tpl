{{- define "reloadscope.labels" -}}
app.kubernetes.io/part-of: reloadscope
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end }}

{{- define "reloadscope.selector" -}}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/name: {{ .name }}
{{- end }}

{{/* A shipped file, byte for byte, as one YAML string (files/ holds generated copies: scripts/gen-chart.ts). */}}
{{- define "reloadscope.file" -}}
{{ .root.Files.Get (printf "files/%s" .file) | toJson }}
{{- end }}

{{/* The Collector container of the agent and the gateway; `.layers` are the config files, in order. */}}
{{- define "reloadscope.collector" -}}
- name: otelcol
  image: "{{ .root.Values.collector.image.repository }}:{{ .root.Values.collector.image.tag }}"
  command: [{{ .root.Values.collector.command | quote }}]
  args:
  {{- range .layers }}
    - --config=/etc/otelcol/{{ . }}
  {{- end }}
  env:
    - name: OTELCOL_MEMORY_LIMIT_MIB
      value: {{ .values.memoryLimitMiB | quote }}
    - name: OTELCOL_MEMORY_SPIKE_MIB
      value: {{ .values.memorySpikeMiB | quote }}
    - name: OTELCOL_BATCH_SIZE
      value: {{ .values.batchSize | quote }}
    - name: RELOADSCOPE_ENVIRONMENT
      value: {{ .root.Values.environment | quote }}
    {{- with .env }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  readinessProbe:
    httpGet: {path: /, port: 13133}
  livenessProbe:
    httpGet: {path: /, port: 13133}
  resources:
    {{- toYaml .values.resources | nindent 4 }}
  volumeMounts:
    - name: config
      mountPath: /etc/otelcol
      readOnly: true
{{- end }}
