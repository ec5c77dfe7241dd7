{{/*
The objects every component has, parametrised by (dict "root" $ "component" "<name>"):
Deployment, Service, HorizontalPodAutoscaler, PodDisruptionBudget, NetworkPolicy, and for the
components with an HTTP port a ServiceMonitor. Each renders only in its component's mode.
*/}}

{{- define "sharedmetrics.deployment" -}}
{{- if include "sharedmetrics.componentEnabled" . }}
{{- $root := .root }}
{{- $v := $root.Values }}
{{- $spec := include "sharedmetrics.component" . | fromYaml }}
{{- $c := index $v $spec.values }}
{{- $sqlite := eq $v.database.type "sqlite" }}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "sharedmetrics.componentName" . }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "sharedmetrics.labels" . | nindent 4 }}
  {{- with include "sharedmetrics.checkovSkips" . | trim }}
  annotations:
    {{- . | nindent 4 }}
  {{- end }}
spec:
  {{- if not $c.autoscaling.enabled }}
  replicas: {{ $c.replicas }}
  {{- end }}
  revisionHistoryLimit: 5
  strategy:
    {{- if $sqlite }}
    # One pod owns the SQLite file: the old pod stops before the new one opens it.
    type: Recreate
    {{- else }}
    type: RollingUpdate
    rollingUpdate:
      maxSurge: 25%
      maxUnavailable: 0
    {{- end }}
  selector:
    matchLabels:
      {{- include "sharedmetrics.selectorLabels" . | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "sharedmetrics.labels" . | nindent 8 }}
      {{- with $c.podAnnotations }}
      annotations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
    spec:
      serviceAccountName: {{ include "sharedmetrics.serviceAccountName" $root }}
      automountServiceAccountToken: false
      # Service links would add SHAREDMETRICS_*-like variables for every Service in the namespace.
      enableServiceLinks: false
      terminationGracePeriodSeconds: {{ $c.terminationGracePeriodSeconds }}
      securityContext:
        {{- toYaml $v.podSecurityContext | nindent 8 }}
      {{- with $v.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      containers:
        - name: sharedmetrics
          image: {{ include "sharedmetrics.image" $root | quote }}
          imagePullPolicy: {{ $v.image.pullPolicy }}
          args: ["serve", "--target", {{ $spec.target | quote }}]
          ports:
            - name: grpc
              containerPort: {{ $spec.grpcPort }}
              protocol: TCP
            {{- if $spec.httpPort }}
            - name: http
              containerPort: {{ $spec.httpPort }}
              protocol: TCP
            {{- end }}
          env:
            {{- include "sharedmetrics.serveEnv" . | trim | nindent 12 }}
          {{- if $spec.httpPort }}
          startupProbe:
            httpGet: { path: /health/livez, port: http }
            {{- toYaml $v.probes.startup | nindent 12 }}
          livenessProbe:
            httpGet: { path: /health/livez, port: http }
            {{- toYaml $v.probes.liveness | nindent 12 }}
          readinessProbe:
            httpGet: { path: /health/readyz, port: http }
            {{- toYaml $v.probes.readiness | nindent 12 }}
          {{- else }}
          # The standard gRPC health service; "" is the server as a whole.
          startupProbe:
            grpc: { port: {{ $spec.grpcPort }} }
            {{- toYaml $v.probes.startup | nindent 12 }}
          livenessProbe:
            grpc: { port: {{ $spec.grpcPort }} }
            {{- toYaml $v.probes.liveness | nindent 12 }}
          readinessProbe:
            grpc: { port: {{ $spec.grpcPort }} }
            {{- toYaml $v.probes.readiness | nindent 12 }}
          {{- end }}
          resources:
            {{- toYaml $c.resources | nindent 12 }}
          securityContext:
            {{- toYaml $v.containerSecurityContext | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
            {{- if $sqlite }}
            - name: data
              mountPath: /var/lib/sharedmetrics
            {{- end }}
      volumes:
        - name: tmp
          emptyDir:
            sizeLimit: 64Mi
        {{- if $sqlite }}
        - name: data
          persistentVolumeClaim:
            claimName: {{ include "sharedmetrics.componentName" . }}-data
        {{- end }}
      {{- with $c.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $c.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $c.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $c.topologySpreadConstraints }}
      topologySpreadConstraints:
        {{- toYaml . | nindent 8 }}
      {{- end }}
{{- end }}
{{- end }}

{{- define "sharedmetrics.service" -}}
{{- if include "sharedmetrics.componentEnabled" . }}
{{- $root := .root }}
{{- $spec := include "sharedmetrics.component" . | fromYaml }}
{{- $c := index $root.Values $spec.values }}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "sharedmetrics.componentName" . }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "sharedmetrics.labels" . | nindent 4 }}
  {{- with $c.service.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  type: {{ $c.service.type }}
  selector:
    {{- include "sharedmetrics.selectorLabels" . | nindent 4 }}
  ports:
    - name: grpc
      port: {{ $spec.grpcPort }}
      targetPort: grpc
      protocol: TCP
      appProtocol: kubernetes.io/h2c
    {{- if $spec.httpPort }}
    - name: http
      port: {{ $spec.httpPort }}
      targetPort: http
      protocol: TCP
      appProtocol: http
    {{- end }}
{{- end }}
{{- end }}

{{- define "sharedmetrics.hpa" -}}
{{- if include "sharedmetrics.componentEnabled" . }}
{{- $root := .root }}
{{- $spec := include "sharedmetrics.component" . | fromYaml }}
{{- $a := (index $root.Values $spec.values).autoscaling }}
{{- if $a.enabled }}
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ include "sharedmetrics.componentName" . }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "sharedmetrics.labels" . | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ include "sharedmetrics.componentName" . }}
  minReplicas: {{ $a.minReplicas }}
  maxReplicas: {{ $a.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ $a.targetCPUUtilizationPercentage }}
    {{- with $a.targetMemoryUtilizationPercentage }}
    - type: Resource
      resource:
        name: memory
        target:
          type: Utilization
          averageUtilization: {{ . }}
    {{- end }}
{{- end }}
{{- end }}
{{- end }}

{{- define "sharedmetrics.pdb" -}}
{{- if include "sharedmetrics.componentEnabled" . }}
{{- $root := .root }}
{{- $spec := include "sharedmetrics.component" . | fromYaml }}
{{- $p := (index $root.Values $spec.values).podDisruptionBudget }}
{{- if $p.enabled }}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "sharedmetrics.componentName" . }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "sharedmetrics.labels" . | nindent 4 }}
spec:
  {{- /* minAvailable, when set, replaces the default maxUnavailable. */}}
  {{- if not (kindIs "invalid" $p.minAvailable) }}
  minAvailable: {{ $p.minAvailable }}
  {{- else }}
  maxUnavailable: {{ $p.maxUnavailable }}
  {{- end }}
  selector:
    matchLabels:
      {{- include "sharedmetrics.selectorLabels" . | nindent 6 }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The single binary and the gateway accept anyone (or networkPolicy.publicFrom) on their gRPC and
HTTP ports; a split service accepts only the gateway's pods, on its gRPC port.
*/}}
{{- define "sharedmetrics.networkPolicy" -}}
{{- if and (include "sharedmetrics.componentEnabled" .) .root.Values.networkPolicy.enabled }}
{{- $root := .root }}
{{- $spec := include "sharedmetrics.component" . | fromYaml }}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ include "sharedmetrics.componentName" . }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "sharedmetrics.labels" . | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "sharedmetrics.selectorLabels" . | nindent 6 }}
  policyTypes: [Ingress]
  ingress:
    {{- if $spec.httpPort }}
    - ports:
        - { port: {{ $spec.grpcPort }}, protocol: TCP }
        - { port: {{ $spec.httpPort }}, protocol: TCP }
      {{- with $root.Values.networkPolicy.publicFrom }}
      from:
        {{- toYaml . | nindent 8 }}
      {{- end }}
    {{- else }}
    - ports:
        - { port: {{ $spec.grpcPort }}, protocol: TCP }
      from:
        - podSelector:
            matchLabels:
              {{- include "sharedmetrics.selectorLabels" (dict "root" $root "component" "gateway") | nindent 14 }}
    {{- end }}
{{- end }}
{{- end }}

{{- define "sharedmetrics.serviceMonitor" -}}
{{- if and (include "sharedmetrics.componentEnabled" .) .root.Values.serviceMonitor.enabled }}
{{- $root := .root }}
{{- $m := $root.Values.serviceMonitor }}
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: {{ include "sharedmetrics.componentName" . }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "sharedmetrics.labels" . | nindent 4 }}
    {{- with $m.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  selector:
    matchLabels:
      {{- include "sharedmetrics.selectorLabels" . | nindent 6 }}
  endpoints:
    - port: http
      path: /metrics
      interval: {{ $m.interval }}
      scrapeTimeout: {{ $m.scrapeTimeout }}
{{- end }}
{{- end }}
