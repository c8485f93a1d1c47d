{{/* The chart's name. */}}
{{- define "alluxio.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
The prefix of every object's name: the release name when it contains the
chart's name, else <release>-<chart>. Kept short enough that the longest
suffix (-master-<i>, -fuse-client) stays within 63 characters.
*/}}
{{- define "alluxio.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Labels of every object; call with (dict "root" $ "role" "alluxio-master"). */}}
{{- define "alluxio.labels" -}}
app: {{ include "alluxio.name" .root }}
chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" }}
release: {{ .root.Release.Name }}
heritage: {{ .root.Release.Service }}
role: {{ .role }}
{{- end -}}

{{/* The labels a selector matches; same arguments as alluxio.labels. */}}
{{- define "alluxio.selectorLabels" -}}
app: {{ include "alluxio.name" .root }}
release: {{ .root.Release.Name }}
role: {{ .role }}
{{- end -}}

{{/* The image with its tag. */}}
{{- define "alluxio.image" -}}
{{- printf "%s:%s" .Values.image (toString (.Values.imageTag | default .Chart.AppVersion)) -}}
{{- end -}}

{{/* The masters' headless Service, which gives each master pod a DNS name. */}}
{{- define "alluxio.masterService" -}}
{{- include "alluxio.fullname" . }}-master
{{- end -}}

{{/* The DNS name of master i; call with (dict "root" $ "i" 0). */}}
{{- define "alluxio.masterHost" -}}
{{- $svc := include "alluxio.masterService" .root -}}
{{- printf "%s-%d.%s.%s.svc.%s" $svc (int .i) $svc .root.Release.Namespace .root.Values.clusterDomain -}}
{{- end -}}

{{/* The ConfigMap holding alluxio-site.properties. */}}
{{- define "alluxio.configName" -}}
{{- include "alluxio.fullname" . }}-config
{{- end -}}

{{/* dnsPolicy: the value, else what hostNetwork needs. */}}
{{- define "alluxio.dnsPolicy" -}}
{{- if .Values.dnsPolicy -}}
{{- .Values.dnsPolicy -}}
{{- else if .Values.hostNetwork -}}
ClusterFirstWithHostNet
{{- else -}}
ClusterFirst
{{- end -}}
{{- end -}}

{{/*
A value as a property file writes it: YAML numbers arrive as float64, and
1073741824 must not become 1.073741824e+09.
*/}}
{{- define "alluxio.propertyValue" -}}
{{- if kindIs "float64" . -}}
{{- if eq (float64 (int64 .)) . -}}{{ int64 . }}{{- else -}}{{ . }}{{- end -}}
{{- else if kindIs "invalid" . -}}
{{- else -}}
{{- toString . -}}
{{- end -}}
{{- end -}}

{{/* A quota as alluxio.worker.tieredstore.levelN.dirs.quota takes it: 1Gi -> 1GB. */}}
{{- define "alluxio.quotaProperty" -}}
{{- $q := trim (include "alluxio.propertyValue" .) -}}
{{- if regexMatch "^[0-9.]+[KMGTPkmgtp]i$" $q -}}
{{- trimSuffix "i" $q }}B
{{- else -}}
{{- $q -}}
{{- end -}}
{{- end -}}

{{/* A quota as a Kubernetes quantity (emptyDir sizeLimit): 1GB -> 1Gi. */}}
{{- define "alluxio.quotaQuantity" -}}
{{- $q := upper (trim (include "alluxio.propertyValue" .)) -}}
{{- if regexMatch "^[0-9.]+[KMGTP]I$" $q -}}
{{- trimSuffix "I" $q }}i
{{- else if regexMatch "^[0-9.]+[KMGTP]B?$" $q -}}
{{- trimSuffix "B" $q }}i
{{- else if regexMatch "^[0-9]+B?$" $q -}}
{{- trimSuffix "B" $q -}}
{{- else -}}
{{- fail (printf "tieredstore: quota %q is not a size such as 1GB" $q) -}}
{{- end -}}
{{- end -}}

{{/* Splits a comma-separated value into trimmed, non-empty items. */}}
{{- define "alluxio.splitList" -}}
{{- $out := list -}}
{{- range splitList "," (include "alluxio.propertyValue" .) -}}
{{- if trim . -}}{{- $out = append $out (trim .) -}}{{- end -}}
{{- end -}}
{{- toJson (dict "items" $out) -}}
{{- end -}}

{{/*
The worker's storage directories, one per directory of every tier level,
as JSON {"levels": [...], "mediums": [...]}: a level with its property
values, a medium with its volume (name, path, type, sizeLimit, medium, claim).
*/}}
{{- define "alluxio.tiers" -}}
{{- $levels := list -}}
{{- $mediums := list -}}
{{- $all := .Values.tieredstore.levels | default list -}}
{{- if or (lt (len $all) 1) (gt (len $all) 3) -}}
{{- fail (printf "tieredstore.levels: want 1 to 3 levels, have %d" (len $all)) -}}
{{- end -}}
{{- range $i, $lv := $all -}}
{{- if ne (int $lv.level) $i -}}
{{- fail (printf "tieredstore.levels[%d]: level is %v; levels must be 0, 1, 2 in order" $i $lv.level) -}}
{{- end -}}
{{- $alias := upper (required (printf "tieredstore.levels[%d].alias is required" $i) $lv.alias) -}}
{{- if not (has $alias (list "MEM" "SSD" "HDD")) -}}
{{- fail (printf "tieredstore.levels[%d].alias: %q is not MEM, SSD or HDD" $i $alias) -}}
{{- end -}}
{{- $paths := (include "alluxio.splitList" $lv.path | fromJson).items -}}
{{- if not $paths -}}
{{- fail (printf "tieredstore.levels[%d].path is required" $i) -}}
{{- end -}}
{{- $types := (include "alluxio.splitList" $lv.type | fromJson).items -}}
{{- $names := (include "alluxio.splitList" $lv.name | fromJson).items -}}
{{- $quotas := (include "alluxio.splitList" $lv.quota | fromJson).items -}}
{{- if not $quotas -}}
{{- fail (printf "tieredstore.levels[%d].quota is required" $i) -}}
{{- end -}}
{{- $media := (include "alluxio.splitList" $lv.mediumtype | fromJson).items -}}
{{- $levelMedia := list -}}
{{- $levelQuotas := list -}}
{{- range $j, $path := $paths -}}
{{- $type := ternary "emptyDir" "hostPath" (eq $alias "MEM") -}}
{{- if $types -}}{{- $type = index $types (min $j (sub (len $types) 1)) -}}{{- end -}}
{{- if not (has $type (list "emptyDir" "hostPath" "persistentVolumeClaim")) -}}
{{- fail (printf "tieredstore.levels[%d].type: %q is not emptyDir, hostPath or persistentVolumeClaim" $i $type) -}}
{{- end -}}
{{- $medium := $alias -}}
{{- if $media -}}{{- $medium = upper (index $media (min $j (sub (len $media) 1))) -}}{{- end -}}
{{- $quota := index $quotas (min $j (sub (len $quotas) 1)) -}}
{{- $name := printf "tier-%d-%d" $i $j -}}
{{- if lt $j (len $names) -}}{{- $name = index $names $j -}}
{{- else if eq $type "persistentVolumeClaim" -}}
{{- fail (printf "tieredstore.levels[%d].name: a persistentVolumeClaim directory (%s) needs the claim's name" $i $path) -}}
{{- end -}}
{{- $m := dict "name" $name "path" $path "type" $type "quota" (include "alluxio.quotaProperty" $quota) -}}
{{- if eq $type "emptyDir" -}}
{{- $_ := set $m "sizeLimit" (include "alluxio.quotaQuantity" $quota) -}}
{{- $_ := set $m "memory" (eq $medium "MEM") -}}
{{- end -}}
{{- $mediums = append $mediums $m -}}
{{- $levelMedia = append $levelMedia $medium -}}
{{- $levelQuotas = append $levelQuotas (include "alluxio.quotaProperty" $quota) -}}
{{- end -}}
{{- $l := dict "level" $i "alias" $alias "paths" (join "," $paths) "mediumtypes" (join "," $levelMedia) "quotas" (join "," $levelQuotas) -}}
{{- if not (kindIs "invalid" $lv.high) -}}{{- $_ := set $l "high" (include "alluxio.propertyValue" $lv.high) -}}{{- end -}}
{{- if not (kindIs "invalid" $lv.low) -}}{{- $_ := set $l "low" (include "alluxio.propertyValue" $lv.low) -}}{{- end -}}
{{- $levels = append $levels $l -}}
{{- end -}}
{{- toJson (dict "levels" $levels "mediums" $mediums) -}}
{{- end -}}

{{/* The directory of the worker's UNIX socket inside the containers. */}}
{{- define "alluxio.domainSocketDir" -}}
/opt/domain
{{- end -}}

{{/* Whether the root under-store is the localUfs volume. */}}
{{- define "alluxio.localUfs" -}}
{{- if .Values.localUfs.enabled -}}true{{- end -}}
{{- end -}}

{{/*
alluxio-site.properties: what the chart derives from the values, then
.Values.properties over it, sorted by key.
*/}}
{{- define "alluxio.siteProperties" -}}
{{- $p := dict -}}
{{- $count := int .Values.master.count -}}
{{- if lt $count 1 -}}
{{- fail (printf "master.count: want at least 1, have %d" $count) -}}
{{- end -}}
{{- $jtype := upper .Values.journal.type -}}
{{- if not (has $jtype (list "EMBEDDED" "UFS")) -}}
{{- fail (printf "journal.type: %q is not EMBEDDED or UFS" .Values.journal.type) -}}
{{- end -}}
{{- if not (has .Values.journal.volumeType (list "persistentVolumeClaim" "emptyDir")) -}}
{{- fail (printf "journal.volumeType: %q is not persistentVolumeClaim or emptyDir" .Values.journal.volumeType) -}}
{{- end -}}
{{- if and (eq $jtype "UFS") (not (has (lower .Values.journal.ufsType) (list "local" "hdfs"))) -}}
{{- fail (printf "journal.ufsType: %q is not local or HDFS" .Values.journal.ufsType) -}}
{{- end -}}
{{- if and (eq $jtype "UFS") (gt $count 1) -}}
{{- $props := .Values.properties | default dict -}}
{{- $zk := index $props "alluxio.zookeeper.enabled" | default false | toString | lower -}}
{{- if or (ne $zk "true") (not (index $props "alluxio.zookeeper.address")) -}}
{{- fail "journal.type=UFS with master.count > 1 elects the leader through ZooKeeper: set properties alluxio.zookeeper.enabled=true and alluxio.zookeeper.address" -}}
{{- end -}}
{{- end -}}
{{- $_ := set $p "alluxio.master.hostname" (include "alluxio.masterHost" (dict "root" . "i" 0)) -}}
{{- $_ := set $p "alluxio.master.rpc.port" (include "alluxio.propertyValue" .Values.master.ports.rpc) -}}
{{- $_ := set $p "alluxio.master.web.port" (include "alluxio.propertyValue" .Values.master.ports.web) -}}
{{- $_ := set $p "alluxio.master.embedded.journal.port" (include "alluxio.propertyValue" .Values.master.ports.embedded) -}}
{{- $_ := set $p "alluxio.master.journal.type" $jtype -}}
{{- $_ := set $p "alluxio.master.journal.folder" .Values.journal.folder -}}
{{- if gt $count 1 -}}
{{- $journal := list -}}
{{- $rpc := list -}}
{{- range $i := until $count -}}
{{- $host := include "alluxio.masterHost" (dict "root" $ "i" $i) -}}
{{- $journal = append $journal (printf "%s:%s" $host (include "alluxio.propertyValue" $.Values.master.ports.embedded)) -}}
{{- $rpc = append $rpc (printf "%s:%s" $host (include "alluxio.propertyValue" $.Values.master.ports.rpc)) -}}
{{- end -}}
{{- if eq $jtype "EMBEDDED" -}}
{{- $_ := set $p "alluxio.master.embedded.journal.addresses" (join "," $journal) -}}
{{- end -}}
{{- $_ := set $p "alluxio.master.rpc.addresses" (join "," $rpc) -}}
{{- end -}}
{{- with .Values.metastore -}}
{{- $_ := set $p "alluxio.master.metastore.dir" (.mountPath | default "/metastore") -}}
{{- end -}}
{{- if .Values.localUfs.enabled -}}
{{- $_ := set $p "alluxio.master.mount.table.root.ufs" .Values.localUfs.mountPath -}}
{{- end -}}
{{- $_ := set $p "alluxio.worker.rpc.port" (include "alluxio.propertyValue" .Values.worker.ports.rpc) -}}
{{- $_ := set $p "alluxio.worker.web.port" (include "alluxio.propertyValue" .Values.worker.ports.web) -}}
{{- $_ := set $p "alluxio.worker.membership.port" (include "alluxio.propertyValue" .Values.worker.ports.membership) -}}
{{- if .Values.shortCircuit.enabled -}}
{{- $_ := set $p "alluxio.worker.data.server.domain.socket.address" (printf "%s/worker.sock" (include "alluxio.domainSocketDir" .)) -}}
{{- end -}}
{{- $tiers := include "alluxio.tiers" . | fromJson -}}
{{- $_ := set $p "alluxio.worker.tieredstore.levels" (len $tiers.levels | toString) -}}
{{- range $tiers.levels -}}
{{- $prefix := printf "alluxio.worker.tieredstore.level%d." (int .level) -}}
{{- $_ := set $p (print $prefix "alias") .alias -}}
{{- $_ := set $p (print $prefix "dirs.path") .paths -}}
{{- $_ := set $p (print $prefix "dirs.mediumtype") .mediumtypes -}}
{{- $_ := set $p (print $prefix "dirs.quota") .quotas -}}
{{- if hasKey . "high" -}}{{- $_ := set $p (print $prefix "watermark.high.ratio") .high -}}{{- end -}}
{{- if hasKey . "low" -}}{{- $_ := set $p (print $prefix "watermark.low.ratio") .low -}}{{- end -}}
{{- end -}}
{{- $_ := set $p "alluxio.fuse.mount.point" .Values.fuse.mountPath -}}
{{- $_ := set $p "alluxio.fuse.mount.alluxio.path" .Values.fuse.alluxioPath -}}
{{- /* fuse.mountOptions: Alluxio's chart key, e.g. allow_other or ro,max_read=131072. */}}
{{- with .Values.fuse.mountOptions -}}
{{- $_ := set $p "alluxio.fuse.mount.options" (include "alluxio.propertyValue" .) -}}
{{- end -}}
{{- range $k, $v := (.Values.properties | default dict) -}}
{{- $_ := set $p $k (include "alluxio.propertyValue" $v) -}}
{{- end -}}
{{- range $k := keys $p | sortAlpha }}
{{ $k }}={{ index $p $k }}
{{- end -}}
{{- end -}}

{{/* -Dkey=value words of a jvmOptions list, as one string. */}}
{{- define "alluxio.javaOpts" -}}
{{- $words := list -}}
{{- range . -}}{{- $words = append $words (include "alluxio.propertyValue" .) -}}{{- end -}}
{{- join " " $words -}}
{{- end -}}

{{/*
Environment common to the processes: ALLUXIO_JAVA_OPTS and the role's own
variable; call with (dict "root" $ "var" "ALLUXIO_MASTER_JAVA_OPTS" "opts" list).
*/}}
{{- define "alluxio.javaOptsEnv" -}}
{{- with include "alluxio.javaOpts" .root.Values.jvmOptions }}
- name: ALLUXIO_JAVA_OPTS
  value: {{ . | quote }}
{{- end }}
{{- with include "alluxio.javaOpts" .opts }}
- name: {{ $.var }}
  value: {{ . | quote }}
{{- end }}
{{- end -}}

{{/* The pod-level security context of the master and worker pods. */}}
{{- define "alluxio.podSecurityContext" -}}
runAsUser: {{ .Values.user }}
runAsGroup: {{ .Values.group }}
fsGroup: {{ .Values.fsGroup }}
{{- end -}}

{{/*
An initContainer, run as root, that makes hostPath directories writable by
the pod's user: the kubelet creates a missing hostPath directory owned by
root. Call with (dict "root" $ "mounts" list-of-{name,path}); renders
nothing for an empty list.
*/}}
{{- define "alluxio.prepareDirs" -}}
{{- if .mounts }}
- name: prepare-dirs
  image: {{ include "alluxio.image" .root }}
  imagePullPolicy: {{ .root.Values.imagePullPolicy }}
  # Shared world-writable directories (mode 1777, such as the node's own
  # /dev/shm) are left as they are: they are writable already, and their
  # owner is not ours to change.
  command:
    - sh
    - -c
    - 'for d in "$@"; do [ "$(stat -c %a "$d")" = 1777 ] || chown {{ printf "%v:%v" .root.Values.user .root.Values.group }} "$d"; done'
    - prepare-dirs
    {{- range .mounts }}
    - {{ .path }}
    {{- end }}
  securityContext:
    runAsUser: 0
    runAsGroup: 0
  volumeMounts:
    {{- range .mounts }}
    - name: {{ .name }}
      mountPath: {{ .path }}
    {{- end }}
{{- end }}
{{- end -}}

{{/* imagePullSecrets of a pod spec. */}}
{{- define "alluxio.imagePullSecrets" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- range . }}
  - name: {{ . }}
  {{- end }}
{{- end }}
{{- end -}}

{{/* tolerations: the global ones and the component's; call with (dict "root" $ "own" list). */}}
{{- define "alluxio.tolerations" -}}
{{- $all := concat (.root.Values.tolerations | default list) (.own | default list) -}}
{{- with $all }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* nodeSelector: the component's, else the global one; call with (dict "root" $ "own" map). */}}
{{- define "alluxio.nodeSelector" -}}
{{- with (.own | default .root.Values.nodeSelector) }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* Secret volumes; call with (dict "secrets" map "prefix" "secret-master"). */}}
{{- define "alluxio.secretVolumes" -}}
{{- range $name, $dir := .secrets }}
- name: {{ printf "%s-%s" $.prefix $dir | lower | replace "_" "-" | trunc 63 | trimSuffix "-" }}
  secret:
    secretName: {{ $name }}
{{- end }}
{{- end -}}

{{/* Secret volume mounts at /secrets/<dir>; same arguments as alluxio.secretVolumes. */}}
{{- define "alluxio.secretMounts" -}}
{{- range $name, $dir := .secrets }}
- name: {{ printf "%s-%s" $.prefix $dir | lower | replace "_" "-" | trunc 63 | trimSuffix "-" }}
  mountPath: /secrets/{{ $dir }}
  readOnly: true
{{- end }}
{{- end -}}
