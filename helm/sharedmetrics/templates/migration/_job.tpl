{{/*
A hook Job running one sharedmetrics command against the store before the release's pods start
or change: (dict "root" $ "name" "migrate" "args" (list "migrate") "weight" 0). Helm runs hooks
in weight order and waits for each Job to succeed; a failed Job fails the install or upgrade.
The previous run's Job is kept until the next one (before-hook-creation), so its logs can be read.
*/}}
{{- define "sharedmetrics.hookJob" -}}
{{- $root := .root }}
{{- $v := $root.Values }}
{{- $ctx := dict "root" $root "component" "migration" }}
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ include "sharedmetrics.fullname" $root }}-{{ .name }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "sharedmetrics.labels" $ctx | nindent 4 }}
  annotations:
    helm.sh/hook: pre-install,pre-upgrade
    helm.sh/hook-weight: {{ .weight | quote }}
    helm.sh/hook-delete-policy: before-hook-creation
    {{- include "sharedmetrics.checkovSkips" $ctx | trim | nindent 4 }}
spec:
  backoffLimit: {{ $v.migration.backoffLimit }}
  activeDeadlineSeconds: {{ $v.migration.activeDeadlineSeconds }}
  template:
    metadata:
      labels:
        {{- include "sharedmetrics.labels" $ctx | nindent 8 }}
    spec:
      restartPolicy: Never
      serviceAccountName: {{ include "sharedmetrics.migrationServiceAccountName" $root }}
      automountServiceAccountToken: false
      enableServiceLinks: false
      securityContext:
        {{- toYaml $v.podSecurityContext | nindent 8 }}
      {{- with $v.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      containers:
        - name: {{ .name }}
          image: {{ include "sharedmetrics.image" $root | quote }}
          imagePullPolicy: {{ $v.image.pullPolicy }}
          args: {{ toJson .args }}
          env:
            {{- include "sharedmetrics.commonEnv" $ctx | trim | nindent 12 }}
            {{- with $v.extraEnv }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          resources:
            {{- toYaml $v.migration.resources | nindent 12 }}
          securityContext:
            {{- toYaml $v.containerSecurityContext | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
      volumes:
        - name: tmp
          emptyDir:
            sizeLimit: 64Mi
{{- end }}

{{/*
The hook Jobs run before the release's own ServiceAccount exists on a first install, so they
use an account of their own, created as an earlier hook (or the configured existing account).
*/}}
{{- define "sharedmetrics.migrationServiceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- printf "%s-migration" (include "sharedmetrics.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}
