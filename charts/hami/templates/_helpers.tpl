{{/* Names. With the release "hami" and the chart "hami", fullname is "hami" and every object
is named as in deploy/base (hami-scheduler, hami-device-plugin, ...). */}}
{{- define "hami.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "hami.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "hami.namespace" -}}
{{- default .Release.Namespace .Values.namespaceOverride -}}
{{- end -}}

{{- define "hami.scheduler" -}}{{ include "hami.fullname" . }}-scheduler{{- end -}}
{{- define "hami.devicePlugin" -}}{{ include "hami.fullname" . }}-device-plugin{{- end -}}
{{- define "hami.monitor" -}}{{ include "hami.fullname" . }}-monitor{{- end -}}
{{- define "hami.certgen" -}}{{ include "hami.fullname" . }}-certgen{{- end -}}
{{- define "hami.webhook" -}}{{ include "hami.fullname" . }}-webhook{{- end -}}
{{- define "hami.tlsSecret" -}}
{{- if and (not .Values.scheduler.certManager.enabled) .Values.scheduler.tls.existingSecret -}}
{{- .Values.scheduler.tls.existingSecret -}}
{{- else -}}
{{- include "hami.scheduler" . }}-tls
{{- end -}}
{{- end -}}

{{/* Labels of every object's metadata; call with (dict "ctx" $ "component" "<name>"). */}}
{{- define "hami.labels" -}}
app.kubernetes.io/name: {{ include "hami.name" .ctx }}
{{- with .component }}
app.kubernetes.io/component: {{ . }}
{{- end }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .ctx.Chart.Name .ctx.Chart.Version | replace "+" "_" }}
{{- with .ctx.Values.global.labels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* metadata.annotations from global.annotations, when any. */}}
{{- define "hami.annotations" -}}
{{- with .Values.global.annotations }}
annotations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* Pod template labels; call with (dict "ctx" $ "component" "<name>" "extra" map). */}}
{{- define "hami.podLabels" -}}
app.kubernetes.io/name: {{ include "hami.name" .ctx }}
app.kubernetes.io/component: {{ .component }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
{{- with .extra }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* An image reference; call with (dict "ctx" $ "image" .Values.x.image). The registry falls
back to global.imageRegistry, the tag to global.imageTag and then the chart's appVersion. */}}
{{- define "hami.image" -}}
{{- $registry := .image.registry | default .ctx.Values.global.imageRegistry -}}
{{- $tag := .image.tag | default .ctx.Values.global.imageTag | default .ctx.Chart.AppVersion -}}
{{- if $registry -}}
{{- printf "%s/%s:%s" $registry .image.repository (toString $tag) -}}
{{- else -}}
{{- printf "%s:%s" .image.repository (toString $tag) -}}
{{- end -}}
{{- end -}}

{{/* The kube-scheduler image: imageTag (HAMi's older key), image.tag, then the cluster's
version. */}}
{{- define "hami.kubeSchedulerImage" -}}
{{- $ks := .Values.scheduler.kubeScheduler -}}
{{- $tag := $ks.imageTag | default $ks.image.tag | default (regexReplaceAll "[+-].*$" .Capabilities.KubeVersion.Version "") -}}
{{- if $ks.image.registry -}}
{{- printf "%s/%s:%s" $ks.image.registry $ks.image.repository (toString $tag) -}}
{{- else -}}
{{- printf "%s:%s" $ks.image.repository (toString $tag) -}}
{{- end -}}
{{- end -}}

{{/* imagePullSecrets of a pod: global's plus the given lists; call with
(dict "ctx" $ "lists" (list a b)). */}}
{{- define "hami.pullSecrets" -}}
{{- $all := list -}}
{{- range .ctx.Values.global.imagePullSecrets }}{{ $all = append $all . }}{{ end -}}
{{- range .lists }}{{ range . }}{{ $all = append $all . }}{{ end }}{{ end -}}
{{- with ($all | uniq) }}
imagePullSecrets:
{{- range . }}
  - name: {{ if kindIs "map" . }}{{ .name }}{{ else }}{{ . }}{{ end }}
{{- end }}
{{- end }}
{{- end -}}

{{/* Extra container args without klog's -v=N / --v=N, which HAMi's values files carry
(extraArgs: [-v=4]) but hami's binaries do not take; a list of strings in, YAML list items out. */}}
{{- define "hami.extraArgs" -}}
{{- range . }}
{{- if not (regexMatch "^--?v=" (toString .)) }}
- {{ toString . | quote }}
{{- end }}
{{- end }}
{{- end -}}

{{/* Whether the extender serves HTTPS: with the webhook. */}}
{{- define "hami.tlsEnabled" -}}
{{- if .Values.scheduler.admissionWebhook.enabled }}true{{ end -}}
{{- end -}}

{{/* The extender's container port. */}}
{{- define "hami.extenderPort" -}}
{{- if .Values.scheduler.service.httpTargetPort -}}
{{- .Values.scheduler.service.httpTargetPort -}}
{{- else if (include "hami.tlsEnabled" .) -}}
443
{{- else -}}
80
{{- end -}}
{{- end -}}

{{/* The port of scheduler.metricsBindAddress (":9395" -> 9395). */}}
{{- define "hami.schedulerMetricsPort" -}}
{{- regexReplaceAll "^.*:" .Values.scheduler.metricsBindAddress "" -}}
{{- end -}}

{{/* The device config as a YAML string: device-config.content verbatim, or the sections built
from the values. */}}
{{- define "hami.deviceConfig" -}}
{{- $content := index .Values "device-config" "content" -}}
{{- if $content -}}
{{- $content -}}
{{- else -}}
{{- $v := .Values -}}
{{- $d := $v.devices -}}
{{- $cfg := dict -}}
{{- if $d.nvidia.enabled -}}
{{- $_ := set $cfg "nvidia" (dict
    "resourceCountName" $v.resourceName
    "resourceMemoryName" $v.resourceMem
    "resourceMemoryPercentageName" $v.resourceMemPercentage
    "resourceCoreName" $v.resourceCores
    "resourcePriorityName" $v.resourcePriority
    "overwriteEnv" (eq (toString $v.scheduler.overwriteEnv) "true")
    "defaultMemory" $d.nvidia.defaultMemory
    "defaultCores" $d.nvidia.defaultCores
    "defaultGPUNum" $d.nvidia.defaultGPUNum
    "preConfiguredDeviceMemory" $v.devicePlugin.preConfiguredDeviceMemory
    "memoryFactor" $d.nvidia.memoryFactor
    "deviceSplitCount" $v.devicePlugin.deviceSplitCount
    "deviceMemoryScaling" $v.devicePlugin.deviceMemoryScaling
    "deviceCoreScaling" $v.devicePlugin.deviceCoreScaling
    "enableNumaTopology" $v.devicePlugin.enableNumaTopology
    "gpuCorePolicy" $d.nvidia.gpuCorePolicy
    "libCudaLogLevel" $d.nvidia.libCudaLogLevel
    "runtimeClassName" $v.devicePlugin.runtimeClassName
    "migProfileAllowlist" $d.nvidia.migProfileAllowlist) -}}
{{- end -}}
{{- if $d.cambricon.enabled -}}
{{- $s := deepCopy $d.cambricon.config -}}
{{- with $v.mluResourceName }}{{ $_ := set $s "resourceCountName" . }}{{ end -}}
{{- with $v.mluResourceMem }}{{ $_ := set $s "resourceMemoryName" . }}{{ end -}}
{{- with $v.mluResourceCores }}{{ $_ := set $s "resourceCoreName" . }}{{ end -}}
{{- $_ := set $cfg "cambricon" $s -}}
{{- end -}}
{{- if $d.hygon.enabled -}}
{{- $s := deepCopy $d.hygon.config -}}
{{- with $v.hcuResourceName }}{{ $_ := set $s "resourceCountName" . }}{{ end -}}
{{- with $v.hcuResourceMem }}{{ $_ := set $s "resourceMemoryName" . }}{{ end -}}
{{- with $v.hcuResourceCores }}{{ $_ := set $s "resourceCoreName" . }}{{ end -}}
{{- $_ := set $cfg "hygon" $s -}}
{{- end -}}
{{- if $d.metax.enabled -}}
{{- $s := deepCopy $d.metax.config -}}
{{- with $v.metaxResourceName }}{{ $_ := set $s "resourceVCountName" . }}{{ end -}}
{{- with $v.metaxResourceCore }}{{ $_ := set $s "resourceVCoreName" . }}{{ end -}}
{{- with $v.metaxResourceMem }}{{ $_ := set $s "resourceVMemoryName" . }}{{ end -}}
{{- with $v.metaxsGPUTopologyAware }}{{ $_ := set $s "sgpuTopologyAware" (eq (toString .) "true") }}{{ end -}}
{{- $_ := set $cfg "metax" $s -}}
{{- end -}}
{{- if $d.enflame.enabled -}}
{{- $s := deepCopy $d.enflame.config -}}
{{- with $v.enflameResourceNameDRSGCU }}{{ $_ := set $s "resourceNameDRSGCU" . }}{{ end -}}
{{- with $v.enflameResourceNameGCUMemory }}{{ $_ := set $s "resourceNameGCUMemory" . }}{{ end -}}
{{- with $v.enflameResourceNameGCUCore }}{{ $_ := set $s "resourceNameGCUCore" . }}{{ end -}}
{{- $_ := set $cfg "enflame" $s -}}
{{- end -}}
{{- if $d.mthreads.enabled -}}
{{- $s := deepCopy $d.mthreads.config -}}
{{- $_ := set $s "memoryPerCard" $d.mthreads.memoryPerCard -}}
{{- $_ := set $cfg "mthreads" $s -}}
{{- end -}}
{{- if $d.iluvatar.enabled -}}
{{- $_ := set $cfg "iluvatars" $d.iluvatar.config -}}
{{- end -}}
{{- if $d.kunlun.enabled -}}
{{- $s := deepCopy $d.kunlun.config -}}
{{- with $v.kunlunResourceName }}{{ $_ := set $s "resourceCountName" . }}{{ end -}}
{{- with $v.kunlunResourceVCountName }}{{ $_ := set $s "resourceVCountName" . }}{{ end -}}
{{- with $v.kunlunResourceVMemoryName }}{{ $_ := set $s "resourceVMemoryName" . }}{{ end -}}
{{- $_ := set $cfg "kunlun" $s -}}
{{- end -}}
{{- if $d.awsneuron.enabled -}}
{{- $_ := set $cfg "awsneuron" $d.awsneuron.config -}}
{{- end -}}
{{- if $d.amd.enabled -}}
{{- $_ := set $cfg "amd" $d.amd.config -}}
{{- end -}}
{{- if $d.vastai.enabled -}}
{{- $s := deepCopy $d.vastai.config -}}
{{- with $v.vastaiResourceName }}{{ $_ := set $s "resourceCountName" . }}{{ end -}}
{{- $_ := set $cfg "vastai" $s -}}
{{- end -}}
{{- if $d.biren.enabled -}}
{{- $s := deepCopy $d.biren.config -}}
{{- with $v.birenResourceName }}{{ $_ := set $s "resourceCountName" . }}{{ end -}}
{{- $_ := set $cfg "biren" $s -}}
{{- end -}}
{{- if $d.ascend.enabled -}}
{{- $s := deepCopy $d.ascend.config -}}
{{- $_ := set $s "hamiVnpuCore" $d.ascend.hamiVnpuCore -}}
{{- $_ := set $cfg "vnpus" $s -}}
{{- end -}}
{{- toYaml $cfg -}}
{{- end -}}
{{- end -}}

{{/* The resource names of one device config section (a map), in a fixed order: the known
keys first (as deploy/base lists them), then any other resource*Name / resourceName* key. */}}
{{- define "hami.sectionResourceNames" -}}
{{- $known := list "resourceCountName" "resourceName" "resourceNameGCU" "resourceNameDRSGCU" "resourceMemoryName" "resourceMemoryPercentageName" "resourceNameGCUMemory" "resourceCoreName" "resourceNameGCUCore" "resourcePriorityName" "resourceVCountName" "resourceVMemoryName" "resourceVCoreName" -}}
{{- $section := . -}}
{{- range $known }}
{{- $name := index $section . }}
{{- if $name }}
- {{ $name }}
{{- end }}
{{- end }}
{{- range $key := keys $section | sortAlpha }}
{{- if and (not (has $key $known)) (hasPrefix "resource" $key) (or (hasSuffix "Name" $key) (hasPrefix "resourceName" $key)) }}
{{- with index $section $key }}
- {{ . }}
{{- end }}
{{- end }}
{{- end }}
{{- end -}}

{{/* Every resource name kube-scheduler hands to the extender, as a YAML list: the resource
names of every device config section, vendor by vendor, plus each vendor's customresources,
without repeats. */}}
{{- define "hami.managedResources" -}}
{{- $cfg := include "hami.deviceConfig" . | fromYaml -}}
{{- $names := list -}}
{{- range $vendor := list "nvidia" "cambricon" "hygon" "metax" "enflame" "mthreads" "iluvatars" "kunlun" "awsneuron" "amd" "vastai" "biren" "vnpus" -}}
{{- $section := index $cfg $vendor -}}
{{- if kindIs "map" $section -}}
{{- $names = concat $names (include "hami.sectionResourceNames" $section | fromYamlArray) -}}
{{- range (get $section "configs" | default list) }}
{{- $names = concat $names (include "hami.sectionResourceNames" . | fromYamlArray) -}}
{{- end -}}
{{- else if kindIs "slice" $section -}}
{{- range $section }}
{{- $names = concat $names (include "hami.sectionResourceNames" . | fromYamlArray) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- range $key, $vendor := .Values.devices -}}
{{- if $vendor.enabled -}}
{{- $names = concat $names ($vendor.customresources | default list) -}}
{{- end -}}
{{- end -}}
{{- toYaml ($names | uniq) -}}
{{- end -}}
