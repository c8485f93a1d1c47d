package tests

// Tests of the container and Kubernetes packaging (packaging/docker,
// packaging/helm/alluxio, packaging/kubernetes). No Docker engine or
// Kubernetes cluster runs here, so the Dockerfile is checked statically, the
// entrypoint is run against stub and real binaries, and the chart is
// rendered with helm and checked object by object: strictly decoded against
// the Kubernetes fields it may use, cross-checked (mounts against volumes,
// selectors against labels, $(VAR) references), and its
// alluxio-site.properties and environment loaded by the real `alluxio`
// binary as each pod would load them.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strings"
	"testing"
)

// packagingRepo is the repository's top directory.
func packagingRepo(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(file))
}

// packagingToolMissing skips the test, or fails it under CI, where
// tests/install-deps.sh has installed every tool.
func packagingToolMissing(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...) + " (tests/install-deps.sh installs it)"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// helmBinary finds helm: the project's .cache/bin, else the PATH.
func helmBinary(t *testing.T) string {
	t.Helper()
	local := filepath.Join(packagingRepo(t), ".cache", "bin", "helm")
	if _, err := os.Stat(local); err == nil {
		return local
	}
	if p, err := exec.LookPath("helm"); err == nil {
		return p
	}
	packagingToolMissing(t, "helm is not installed")
	return ""
}

// pythonWithYAML finds a python3 that has PyYAML, which turns helm's YAML into
// JSON for encoding/json (the module has no YAML package).
func pythonWithYAML(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"python3", "/usr/bin/python3"} {
		if exec.Command(p, "-c", "import yaml").Run() == nil {
			return p
		}
	}
	packagingToolMissing(t, "python3 with PyYAML (python3-yaml) is not installed")
	return ""
}

const helmChartDir = "packaging/helm/alluxio"

// runHelm runs helm in the repository and returns its standard output.
func runHelm(t *testing.T, args ...string) ([]byte, error) {
	t.Helper()
	cmd := exec.Command(helmBinary(t), args...)
	cmd.Dir = packagingRepo(t)
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+t.TempDir(), "HELM_CONFIG_HOME="+t.TempDir(), "HELM_DATA_HOME="+t.TempDir())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("helm %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	return out, nil
}

// The Kubernetes objects the chart renders, with only the fields it uses.
// Documents are decoded with DisallowUnknownFields, so a misspelt field in a
// template fails the test instead of being dropped by the API server.
type (
	k8sObject struct {
		APIVersion string            `json:"apiVersion"`
		Kind       string            `json:"kind"`
		Metadata   k8sMeta           `json:"metadata"`
		Data       map[string]string `json:"data"`
		Spec       json.RawMessage   `json:"spec"`

		service  *k8sServiceSpec
		workload *k8sWorkloadSpec
		pod      *k8sPodSpec
		pvc      *k8sPVCSpec
	}
	k8sMeta struct {
		Name        string            `json:"name"`
		Namespace   string            `json:"namespace"`
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations"`
	}
	k8sServiceSpec struct {
		ClusterIP                string            `json:"clusterIP"`
		PublishNotReadyAddresses bool              `json:"publishNotReadyAddresses"`
		Selector                 map[string]string `json:"selector"`
		Ports                    []struct {
			Name       string `json:"name"`
			Port       int    `json:"port"`
			TargetPort any    `json:"targetPort"`
		} `json:"ports"`
	}
	k8sWorkloadSpec struct {
		ServiceName         string `json:"serviceName"`
		Replicas            *int   `json:"replicas"`
		PodManagementPolicy string `json:"podManagementPolicy"`
		Selector            struct {
			MatchLabels map[string]string `json:"matchLabels"`
		} `json:"selector"`
		Template struct {
			Metadata k8sMeta    `json:"metadata"`
			Spec     k8sPodSpec `json:"spec"`
		} `json:"template"`
		VolumeClaimTemplates []k8sClaimTemplate `json:"volumeClaimTemplates"`
	}
	k8sClaimTemplate struct {
		Metadata k8sMeta    `json:"metadata"`
		Spec     k8sPVCSpec `json:"spec"`
	}
	k8sPodSpec struct {
		HostNetwork      bool                `json:"hostNetwork"`
		DNSPolicy        string              `json:"dnsPolicy"`
		SecurityContext  *k8sSecurityContext `json:"securityContext"`
		ImagePullSecrets []struct {
			Name string `json:"name"`
		} `json:"imagePullSecrets"`
		NodeSelector   map[string]string `json:"nodeSelector"`
		Tolerations    []map[string]any  `json:"tolerations"`
		Affinity       map[string]any    `json:"affinity"`
		InitContainers []k8sContainer    `json:"initContainers"`
		Containers     []k8sContainer    `json:"containers"`
		Volumes        []k8sVolume       `json:"volumes"`
	}
	k8sSecurityContext struct {
		RunAsUser    *int64 `json:"runAsUser"`
		RunAsGroup   *int64 `json:"runAsGroup"`
		FSGroup      *int64 `json:"fsGroup"`
		Privileged   *bool  `json:"privileged"`
		Capabilities *struct {
			Add []string `json:"add"`
		} `json:"capabilities"`
	}
	k8sContainer struct {
		Name            string      `json:"name"`
		Image           string      `json:"image"`
		ImagePullPolicy string      `json:"imagePullPolicy"`
		Command         []string    `json:"command"`
		Args            []string    `json:"args"`
		Env             []k8sEnvVar `json:"env"`
		Ports           []struct {
			Name          string `json:"name"`
			ContainerPort int    `json:"containerPort"`
			Protocol      string `json:"protocol"`
		} `json:"ports"`
		StartupProbe    *k8sProbe                 `json:"startupProbe"`
		ReadinessProbe  *k8sProbe                 `json:"readinessProbe"`
		LivenessProbe   *k8sProbe                 `json:"livenessProbe"`
		Resources       map[string]map[string]any `json:"resources"`
		SecurityContext *k8sSecurityContext       `json:"securityContext"`
		VolumeMounts    []k8sVolumeMount          `json:"volumeMounts"`
	}
	k8sEnvVar struct {
		Name      string `json:"name"`
		Value     string `json:"value"`
		ValueFrom *struct {
			FieldRef struct {
				FieldPath string `json:"fieldPath"`
			} `json:"fieldRef"`
		} `json:"valueFrom"`
	}
	k8sVolumeMount struct {
		Name             string `json:"name"`
		MountPath        string `json:"mountPath"`
		ReadOnly         bool   `json:"readOnly"`
		MountPropagation string `json:"mountPropagation"`
	}
	k8sProbe struct {
		TCPSocket *struct {
			Port any `json:"port"`
		} `json:"tcpSocket"`
		Exec *struct {
			Command []string `json:"command"`
		} `json:"exec"`
		InitialDelaySeconds int `json:"initialDelaySeconds"`
		PeriodSeconds       int `json:"periodSeconds"`
		FailureThreshold    int `json:"failureThreshold"`
	}
	k8sVolume struct {
		Name      string `json:"name"`
		ConfigMap *struct {
			Name string `json:"name"`
		} `json:"configMap"`
		Secret *struct {
			SecretName string `json:"secretName"`
		} `json:"secret"`
		EmptyDir *struct {
			Medium    string `json:"medium"`
			SizeLimit string `json:"sizeLimit"`
		} `json:"emptyDir"`
		HostPath *struct {
			Path string `json:"path"`
			Type string `json:"type"`
		} `json:"hostPath"`
		PersistentVolumeClaim *struct {
			ClaimName string `json:"claimName"`
		} `json:"persistentVolumeClaim"`
	}
	k8sPVCSpec struct {
		StorageClassName string   `json:"storageClassName"`
		AccessModes      []string `json:"accessModes"`
		Resources        struct {
			Requests struct {
				Storage string `json:"storage"`
			} `json:"requests"`
		} `json:"resources"`
	}
)

// decodeStrictJSON decodes JSON refusing fields v does not know.
func decodeStrictJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// decodeK8sObjects parses a YAML stream of Kubernetes objects.
func decodeK8sObjects(t *testing.T, yamlStream []byte) []*k8sObject {
	t.Helper()
	cmd := exec.Command(pythonWithYAML(t), "-c",
		"import sys, json, yaml; json.dump([d for d in yaml.safe_load_all(sys.stdin) if d is not None], sys.stdout)")
	cmd.Stdin = bytes.NewReader(yamlStream)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("not YAML: %v\n%s\n%s", err, stderr.Bytes(), yamlStream)
	}
	var docs []json.RawMessage
	if err := json.Unmarshal(out, &docs); err != nil {
		t.Fatal(err)
	}
	var objs []*k8sObject
	for _, d := range docs {
		o := &k8sObject{}
		if err := decodeStrictJSON(d, o); err != nil {
			t.Fatalf("object: %v\n%s", err, d)
		}
		apiVersion := map[string]string{"ConfigMap": "v1", "Service": "v1", "Pod": "v1", "PersistentVolumeClaim": "v1",
			"StatefulSet": "apps/v1", "DaemonSet": "apps/v1"}[o.Kind]
		if apiVersion == "" || o.APIVersion != apiVersion {
			t.Fatalf("%s %s: unexpected kind or apiVersion %q", o.Kind, o.Metadata.Name, o.APIVersion)
		}
		var target any
		switch o.Kind {
		case "Service":
			o.service = &k8sServiceSpec{}
			target = o.service
		case "StatefulSet", "DaemonSet":
			o.workload = &k8sWorkloadSpec{}
			target = o.workload
		case "Pod":
			o.pod = &k8sPodSpec{}
			target = o.pod
		case "PersistentVolumeClaim":
			o.pvc = &k8sPVCSpec{}
			target = o.pvc
		}
		if target == nil {
			if o.Spec != nil {
				t.Fatalf("%s %s has a spec", o.Kind, o.Metadata.Name)
			}
		} else if err := decodeStrictJSON(o.Spec, target); err != nil {
			t.Fatalf("%s %s: spec: %v\n%s", o.Kind, o.Metadata.Name, err, o.Spec)
		}
		objs = append(objs, o)
	}
	checkK8sObjects(t, objs)
	return objs
}

var (
	k8sNameRE   = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	k8sEnvRefRE = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)
)

// checkK8sObjects applies the checks the API server and the kubelet would:
// names, mounts against volumes, selectors against labels, named ports,
// $(VAR) references, privilege for Bidirectional propagation.
func checkK8sObjects(t *testing.T, objs []*k8sObject) {
	t.Helper()
	configMaps, services := map[string]bool{}, map[string]*k8sObject{}
	for _, o := range objs {
		if !k8sNameRE.MatchString(o.Metadata.Name) || len(o.Metadata.Name) > 63 {
			t.Errorf("%s: bad name %q", o.Kind, o.Metadata.Name)
		}
		switch o.Kind {
		case "ConfigMap":
			configMaps[o.Metadata.Name] = true
		case "Service":
			services[o.Metadata.Name] = o
		}
	}
	for _, o := range objs {
		where := o.Kind + " " + o.Metadata.Name
		var spec *k8sPodSpec
		claims := map[string]bool{}
		switch {
		case o.workload != nil:
			w := o.workload
			spec = &w.Template.Spec
			if len(w.Selector.MatchLabels) == 0 {
				t.Errorf("%s: empty selector", where)
			}
			for k, v := range w.Selector.MatchLabels {
				if w.Template.Metadata.Labels[k] != v {
					t.Errorf("%s: selector %s=%s does not match the pod labels %v", where, k, v, w.Template.Metadata.Labels)
				}
			}
			for _, c := range w.VolumeClaimTemplates {
				claims[c.Metadata.Name] = true
			}
			if o.Kind == "StatefulSet" {
				svc := services[w.ServiceName]
				if svc == nil {
					t.Errorf("%s: serviceName %q is not rendered", where, w.ServiceName)
				} else {
					for k, v := range svc.service.Selector {
						if w.Template.Metadata.Labels[k] != v {
							t.Errorf("%s: Service %s selects %s=%s, which the pods lack", where, svc.Metadata.Name, k, v)
						}
					}
				}
			}
		case o.pod != nil:
			spec = o.pod
		}
		if spec == nil {
			continue
		}
		volumes := map[string]bool{}
		for _, v := range spec.Volumes {
			n := 0
			for _, set := range []bool{v.ConfigMap != nil, v.Secret != nil, v.EmptyDir != nil, v.HostPath != nil, v.PersistentVolumeClaim != nil} {
				if set {
					n++
				}
			}
			if n != 1 || !k8sNameRE.MatchString(v.Name) || volumes[v.Name] {
				t.Errorf("%s: volume %q: want a unique DNS-label name and exactly one source", where, v.Name)
			}
			volumes[v.Name] = true
			if v.ConfigMap != nil && !configMaps[v.ConfigMap.Name] {
				t.Errorf("%s: volume %s: ConfigMap %q is not rendered", where, v.Name, v.ConfigMap.Name)
			}
		}
		for c := range claims {
			if volumes[c] {
				t.Errorf("%s: %s is both a volume and a volumeClaimTemplate", where, c)
			}
			volumes[c] = true
		}
		for _, c := range append(slices.Clone(spec.InitContainers), spec.Containers...) {
			cw := where + " container " + c.Name
			if c.Image == "" || (len(c.Command) == 0 && len(c.Args) == 0) {
				t.Errorf("%s: no image or nothing to run", cw)
			}
			ports := map[string]bool{}
			for _, p := range c.Ports {
				if len(p.Name) > 15 || ports[p.Name] || p.ContainerPort < 1 || p.ContainerPort > 65535 {
					t.Errorf("%s: port %q/%d", cw, p.Name, p.ContainerPort)
				}
				ports[p.Name] = true
			}
			for _, pr := range []*k8sProbe{c.StartupProbe, c.ReadinessProbe, c.LivenessProbe} {
				if pr == nil || pr.TCPSocket == nil {
					continue
				}
				if name, ok := pr.TCPSocket.Port.(string); ok && !ports[name] {
					t.Errorf("%s: probe on unknown port %q", cw, name)
				}
			}
			defined := map[string]bool{}
			for _, e := range c.Env {
				for _, m := range k8sEnvRefRE.FindAllStringSubmatch(e.Value, -1) {
					if !defined[m[1]] {
						t.Errorf("%s: env %s refers to $(%s), not defined before it", cw, e.Name, m[1])
					}
				}
				defined[e.Name] = true
			}
			privileged := c.SecurityContext != nil && c.SecurityContext.Privileged != nil && *c.SecurityContext.Privileged
			mounts := map[string]bool{}
			for _, m := range c.VolumeMounts {
				if !volumes[m.Name] {
					t.Errorf("%s: mounts unknown volume %q", cw, m.Name)
				}
				if mounts[m.MountPath] || !path.IsAbs(m.MountPath) {
					t.Errorf("%s: mount path %q repeated or relative", cw, m.MountPath)
				}
				mounts[m.MountPath] = true
				if m.MountPropagation == "Bidirectional" && !privileged {
					t.Errorf("%s: Bidirectional propagation needs a privileged container", cw)
				}
			}
		}
	}
}

// helmRender is one rendering of the chart.
type helmRender struct {
	objs []*k8sObject
}

// renderChart runs helm template with the chart's defaults plus args.
func renderChart(t *testing.T, args ...string) helmRender {
	t.Helper()
	out, err := runHelm(t, append([]string{"template", "alluxio", helmChartDir, "--namespace", "default"}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	return helmRender{decodeK8sObjects(t, out)}
}

// find returns the object of a kind and name, failing when it is absent.
func (r helmRender) find(t *testing.T, kind, name string) *k8sObject {
	t.Helper()
	if o := r.lookup(kind, name); o != nil {
		return o
	}
	t.Fatalf("no %s %s among %v", kind, name, r.names())
	return nil
}

func (r helmRender) lookup(kind, name string) *k8sObject {
	for _, o := range r.objs {
		if o.Kind == kind && o.Metadata.Name == name {
			return o
		}
	}
	return nil
}

func (r helmRender) names() []string {
	var out []string
	for _, o := range r.objs {
		out = append(out, o.Kind+"/"+o.Metadata.Name)
	}
	sort.Strings(out)
	return out
}

// properties parses the ConfigMap's alluxio-site.properties.
func (r helmRender) properties(t *testing.T) map[string]string {
	t.Helper()
	text, ok := r.find(t, "ConfigMap", "alluxio-config").Data["alluxio-site.properties"]
	if !ok {
		t.Fatal("the ConfigMap has no alluxio-site.properties")
	}
	props := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("property line %q", line)
		}
		if _, dup := props[k]; dup {
			t.Fatalf("property %s set twice", k)
		}
		props[k] = v
	}
	return props
}

func k8sContainerNamed(t *testing.T, cs []k8sContainer, name string) *k8sContainer {
	t.Helper()
	for i := range cs {
		if cs[i].Name == name {
			return &cs[i]
		}
	}
	return nil
}

// k8sPodEnv is a container's environment as the kubelet would set it: field
// references from fields, $(VAR) expanded from earlier variables.
func k8sPodEnv(c *k8sContainer, fields map[string]string) []string {
	vars := map[string]string{}
	var env []string
	for _, e := range c.Env {
		v := e.Value
		if e.ValueFrom != nil {
			v = fields[e.ValueFrom.FieldRef.FieldPath]
		}
		v = k8sEnvRefRE.ReplaceAllStringFunc(v, func(ref string) string {
			return vars[k8sEnvRefRE.FindStringSubmatch(ref)[1]]
		})
		vars[e.Name] = v
		env = append(env, e.Name+"="+v)
	}
	return env
}

func k8sVolumeNamed(spec *k8sPodSpec, name string) *k8sVolume {
	for i := range spec.Volumes {
		if spec.Volumes[i].Name == name {
			return &spec.Volumes[i]
		}
	}
	return nil
}

// k8sMountAt returns the volume mounted at dir in c, and the mount's propagation.
func k8sMountAt(spec *k8sPodSpec, c *k8sContainer, dir string) (*k8sVolume, string) {
	for _, m := range c.VolumeMounts {
		if m.MountPath == dir {
			return k8sVolumeNamed(spec, m.Name), m.MountPropagation
		}
	}
	return nil, ""
}

// loadRenderedConf runs the real `alluxio` with the rendered alluxio-site.properties
// and a container's environment, as the pod would, and returns the output
// of args (e.g. getConf KEY, validateConf). `alluxio getConf` reads
// ALLUXIO_USER_JAVA_OPTS where the process reads its role's variable
// (ALLUXIO_MASTER_JAVA_OPTS, ...), so the role's variable is passed as the
// user's.
func loadRenderedConf(t *testing.T, r helmRender, env []string, args ...string) string {
	t.Helper()
	var asUser []string
	for _, kv := range env {
		name, value, _ := strings.Cut(kv, "=")
		switch name {
		case "ALLUXIO_USER_JAVA_OPTS":
			continue
		case "ALLUXIO_MASTER_JAVA_OPTS", "ALLUXIO_WORKER_JAVA_OPTS", "ALLUXIO_FUSE_JAVA_OPTS":
			kv = "ALLUXIO_USER_JAVA_OPTS=" + value
		}
		asUser = append(asUser, kv)
	}
	env = asUser
	if binDir == "" {
		t.Fatal("the alluxio binary was not built")
	}
	conf := t.TempDir()
	text := r.find(t, "ConfigMap", "alluxio-config").Data["alluxio-site.properties"]
	if err := os.WriteFile(filepath.Join(conf, "alluxio-site.properties"), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(binDir, "alluxio"), args...)
	cmd.Env = append(append(withoutAlluxioEnv(), "ALLUXIO_HOME="+t.TempDir(), "ALLUXIO_CONF_DIR="+conf), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("alluxio %s with %v: %v\n%s", strings.Join(args, " "), env, err, out)
	}
	return strings.TrimSpace(string(out))
}

// checkRenderedConf fails unless the configuration loads without a warning.
func checkRenderedConf(t *testing.T, r helmRender, env []string) {
	t.Helper()
	if out := loadRenderedConf(t, r, env, "validateConf"); out != "Configuration is valid." {
		t.Errorf("validateConf with %v:\n%s", env, out)
	}
}

func writeHelmValues(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "values.yaml")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestHelmLint(t *testing.T) {
	out, err := runHelm(t, "lint", "--strict", helmChartDir)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, args := range [][]string{
		{"--set", "master.count=3", "--set", "fuse.enabled=true", "--set", "fuse.clientEnabled=true"},
		{"--set", "journal.type=UFS", "--set", "journal.format.runFormat=true", "--set", "journal.volumeType=emptyDir"},
	} {
		if out, err := runHelm(t, append([]string{"lint", "--strict", helmChartDir}, args...)...); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
	}
}

func TestHelmDefaults(t *testing.T) {
	r := renderChart(t)
	want := []string{"ConfigMap/alluxio-config", "DaemonSet/alluxio-worker", "Service/alluxio-master", "StatefulSet/alluxio-master"}
	if got := r.names(); !slices.Equal(got, want) {
		t.Fatalf("objects %v, want %v", got, want)
	}
	props := r.properties(t)
	for k, v := range map[string]string{
		"alluxio.master.hostname":                          "alluxio-master-0.alluxio-master.default.svc.cluster.local",
		"alluxio.master.journal.type":                      "EMBEDDED",
		"alluxio.master.journal.folder":                    "/journal",
		"alluxio.worker.tieredstore.levels":                "1",
		"alluxio.worker.tieredstore.level0.dirs.path":      "/dev/shm",
		"alluxio.worker.tieredstore.level0.dirs.quota":     "1GB",
		"alluxio.worker.data.server.domain.socket.address": "/opt/domain/worker.sock",
	} {
		if props[k] != v {
			t.Errorf("%s=%q, want %q", k, props[k], v)
		}
	}
	if _, ok := props["alluxio.master.embedded.journal.addresses"]; ok {
		t.Error("a single master has a journal address list")
	}
	master := r.find(t, "StatefulSet", "alluxio-master").workload
	if *master.Replicas != 1 || len(master.Template.Spec.InitContainers) != 0 {
		t.Errorf("master: %d replicas, init containers %v", *master.Replicas, master.Template.Spec.InitContainers)
	}
	if len(master.VolumeClaimTemplates) != 1 || master.VolumeClaimTemplates[0].Metadata.Name != "alluxio-journal" {
		t.Errorf("master: want one journal claim per pod, have %+v", master.VolumeClaimTemplates)
	}
	svc := r.find(t, "Service", "alluxio-master").service
	if svc.ClusterIP != "None" || !svc.PublishNotReadyAddresses {
		t.Errorf("master Service: want headless and publishing not-ready masters, have %+v", svc)
	}
	sc := master.Template.Spec.SecurityContext
	if sc == nil || *sc.RunAsUser != 1000 || *sc.FSGroup != 1000 {
		t.Errorf("master pods: want user and fsGroup 1000, have %+v", sc)
	}
	// Each process loads the rendered configuration without a warning.
	mc := k8sContainerNamed(t, master.Template.Spec.Containers, "alluxio-master")
	checkRenderedConf(t, r, k8sPodEnv(mc, map[string]string{"metadata.name": "alluxio-master-0"}))
	worker := r.find(t, "DaemonSet", "alluxio-worker").workload
	wc := k8sContainerNamed(t, worker.Template.Spec.Containers, "alluxio-worker")
	wenv := k8sPodEnv(wc, map[string]string{"status.podIP": "10.1.2.3"})
	checkRenderedConf(t, r, wenv)
	if got := loadRenderedConf(t, r, wenv, "getConf", "alluxio.worker.hostname"); got != "10.1.2.3" {
		t.Errorf("worker hostname %q, want the pod IP", got)
	}
}

func TestHelmMultiMaster(t *testing.T) {
	r := renderChart(t, "--set", "master.count=3")
	master := r.find(t, "StatefulSet", "alluxio-master").workload
	if *master.Replicas != 3 || master.PodManagementPolicy != "Parallel" {
		t.Fatalf("masters: %d replicas, %q", *master.Replicas, master.PodManagementPolicy)
	}
	props := r.properties(t)
	journal := strings.Split(props["alluxio.master.embedded.journal.addresses"], ",")
	rpcs := strings.Split(props["alluxio.master.rpc.addresses"], ",")
	if len(journal) != 3 || len(rpcs) != 3 {
		t.Fatalf("journal addresses %v, rpc addresses %v: want 3 each", journal, rpcs)
	}
	mc := k8sContainerNamed(t, master.Template.Spec.Containers, "alluxio-master")
	for i := range 3 {
		host := fmt.Sprintf("alluxio-master-%d.alluxio-master.default.svc.cluster.local", i)
		if journal[i] != host+":19200" || rpcs[i] != host+":19998" {
			t.Errorf("master %d: journal %s, rpc %s; want %s", i, journal[i], rpcs[i], host)
		}
		// The master finds itself in the list by its hostname, which its
		// pod gets from the environment.
		env := k8sPodEnv(mc, map[string]string{"metadata.name": fmt.Sprintf("alluxio-master-%d", i)})
		if got := loadRenderedConf(t, r, env, "getConf", "alluxio.master.hostname"); got != host {
			t.Errorf("master %d loads alluxio.master.hostname=%s, want %s", i, got, host)
		}
		checkRenderedConf(t, r, env)
	}
	// A client (the FUSE daemon, the CLI) knows every master.
	if got := loadRenderedConf(t, r, nil, "getConf", "alluxio.master.rpc.addresses"); got != strings.Join(rpcs, ",") {
		t.Errorf("client rpc addresses %s", got)
	}
}

func TestHelmJournal(t *testing.T) {
	t.Run("UFS", func(t *testing.T) {
		r := renderChart(t, "--set", "journal.type=UFS")
		props := r.properties(t)
		if props["alluxio.master.journal.type"] != "UFS" || props["alluxio.master.journal.folder"] != "/journal" {
			t.Errorf("journal properties %v", props)
		}
		master := r.find(t, "StatefulSet", "alluxio-master").workload
		if len(master.VolumeClaimTemplates) != 1 {
			t.Errorf("a local UFS journal of one master wants its claim, have %+v", master.VolumeClaimTemplates)
		}
	})
	t.Run("HDFS", func(t *testing.T) {
		r := renderChart(t, "--set", "journal.type=UFS", "--set", "journal.ufsType=HDFS",
			"--set", "journal.folder=hdfs://nn:8020/alluxio/journal")
		master := r.find(t, "StatefulSet", "alluxio-master").workload
		if len(master.VolumeClaimTemplates) != 0 || k8sVolumeNamed(&master.Template.Spec, "alluxio-journal") != nil {
			t.Error("an HDFS journal has a journal volume")
		}
	})
	t.Run("UFS with several masters needs ZooKeeper", func(t *testing.T) {
		_, err := runHelm(t, "template", "alluxio", helmChartDir, "--set", "journal.type=UFS", "--set", "master.count=3")
		if err == nil || !strings.Contains(err.Error(), "alluxio.zookeeper.enabled") {
			t.Fatalf("want an error naming alluxio.zookeeper.enabled, have %v", err)
		}
		values := writeHelmValues(t, "journal:\n  type: UFS\n  accessModes: [ReadWriteMany]\nmaster:\n  count: 3\nproperties:\n"+
			"  alluxio.zookeeper.enabled: true\n  alluxio.zookeeper.address: zk-0.zk:2181\n")
		r := renderChart(t, "-f", values)
		claim := r.find(t, "PersistentVolumeClaim", "alluxio-journal").pvc
		master := r.find(t, "StatefulSet", "alluxio-master").workload
		v := k8sVolumeNamed(&master.Template.Spec, "alluxio-journal")
		if v == nil || v.PersistentVolumeClaim == nil || v.PersistentVolumeClaim.ClaimName != "alluxio-journal" ||
			!slices.Equal(claim.AccessModes, []string{"ReadWriteMany"}) || len(master.VolumeClaimTemplates) != 0 {
			t.Errorf("masters of a UFS journal share one claim: %+v %+v", v, claim)
		}
		if _, ok := r.properties(t)["alluxio.master.embedded.journal.addresses"]; ok {
			t.Error("a UFS journal has embedded journal addresses")
		}
	})
	t.Run("emptyDir", func(t *testing.T) {
		r := renderChart(t, "--set", "journal.volumeType=emptyDir")
		master := r.find(t, "StatefulSet", "alluxio-master").workload
		if v := k8sVolumeNamed(&master.Template.Spec, "alluxio-journal"); v == nil || v.EmptyDir == nil || len(master.VolumeClaimTemplates) != 0 {
			t.Errorf("journal volume %+v, claims %+v", v, master.VolumeClaimTemplates)
		}
	})
	t.Run("bad values fail", func(t *testing.T) {
		for _, set := range []string{"journal.type=ROCKS", "journal.volumeType=hostPath", "master.count=0"} {
			if _, err := runHelm(t, "template", "alluxio", helmChartDir, "--set", set); err == nil {
				t.Errorf("--set %s rendered", set)
			}
		}
	})
}

// TestHelmFormatJournal checks `helm upgrade --set journal.format.runFormat=true`:
// the masters' pod template gains an initContainer that formats the
// journal, so the rollout that upgrade starts formats it.
func TestHelmFormatJournal(t *testing.T) {
	off := renderChart(t).find(t, "StatefulSet", "alluxio-master").workload
	on := renderChart(t, "--set", "journal.format.runFormat=true").find(t, "StatefulSet", "alluxio-master").workload
	if c := k8sContainerNamed(t, off.Template.Spec.InitContainers, "journal-format"); c != nil {
		t.Fatal("the format initContainer is there without runFormat")
	}
	c := k8sContainerNamed(t, on.Template.Spec.InitContainers, "journal-format")
	if c == nil {
		t.Fatal("no journal-format initContainer with runFormat=true")
	}
	if !slices.Equal(c.Args, []string{"format-journal"}) || c.Image != on.Template.Spec.Containers[0].Image {
		t.Errorf("journal-format runs %v in %s", c.Args, c.Image)
	}
	if !slices.ContainsFunc(on.VolumeClaimTemplates, func(p k8sClaimTemplate) bool { return p.Metadata.Name == "alluxio-journal" }) ||
		!slices.Contains(c.VolumeMounts, k8sVolumeMount{Name: "alluxio-journal", MountPath: "/journal"}) {
		t.Errorf("journal-format does not mount the journal claim at /journal: %+v", c.VolumeMounts)
	}
	env := k8sPodEnv(c, nil)
	if !slices.Contains(env, "ALLUXIO_FORMAT_TOKEN=alluxio-revision-1") {
		t.Errorf("journal-format env %v lacks the release revision", env)
	}
}

func TestHelmTieredStore(t *testing.T) {
	values := writeHelmValues(t, `
tieredstore:
  levels:
    - level: 0
      alias: MEM
      mediumtype: MEM
      path: /dev/shm
      type: emptyDir
      quota: 2Gi
      high: 0.9
      low: 0.6
    - level: 1
      alias: SSD
      mediumtype: SSD,SSD
      path: /mnt/ssd0,/mnt/ssd1
      type: hostPath,hostPath
      name: ssd0,ssd1
      quota: 10GB,20GB
      high: 0.8
      low: 0.5
`)
	r := renderChart(t, "-f", values)
	props := r.properties(t)
	for k, v := range map[string]string{
		"alluxio.worker.tieredstore.levels":                      "2",
		"alluxio.worker.tieredstore.level0.alias":                "MEM",
		"alluxio.worker.tieredstore.level0.dirs.path":            "/dev/shm",
		"alluxio.worker.tieredstore.level0.dirs.quota":           "2GB",
		"alluxio.worker.tieredstore.level0.dirs.mediumtype":      "MEM",
		"alluxio.worker.tieredstore.level0.watermark.high.ratio": "0.9",
		"alluxio.worker.tieredstore.level0.watermark.low.ratio":  "0.6",
		"alluxio.worker.tieredstore.level1.alias":                "SSD",
		"alluxio.worker.tieredstore.level1.dirs.path":            "/mnt/ssd0,/mnt/ssd1",
		"alluxio.worker.tieredstore.level1.dirs.quota":           "10GB,20GB",
		"alluxio.worker.tieredstore.level1.dirs.mediumtype":      "SSD,SSD",
		"alluxio.worker.tieredstore.level1.watermark.high.ratio": "0.8",
		"alluxio.worker.tieredstore.level1.watermark.low.ratio":  "0.5",
	} {
		if props[k] != v {
			t.Errorf("%s=%q, want %q", k, props[k], v)
		}
	}
	worker := r.find(t, "DaemonSet", "alluxio-worker").workload
	spec := &worker.Template.Spec
	wc := k8sContainerNamed(t, spec.Containers, "alluxio-worker")
	if v, _ := k8sMountAt(spec, wc, "/dev/shm"); v == nil || v.EmptyDir == nil || v.EmptyDir.Medium != "Memory" || v.EmptyDir.SizeLimit != "2Gi" {
		t.Errorf("MEM tier volume %+v", v)
	}
	for _, dir := range []string{"/mnt/ssd0", "/mnt/ssd1"} {
		if v, _ := k8sMountAt(spec, wc, dir); v == nil || v.HostPath == nil || v.HostPath.Path != dir {
			t.Errorf("SSD directory %s: volume %+v", dir, v)
		}
	}
	// The kubelet makes missing hostPath directories owned by root; an
	// initContainer hands them to the worker's user.
	prep := k8sContainerNamed(t, spec.InitContainers, "prepare-dirs")
	if prep == nil || !slices.Contains(prep.Command, "/mnt/ssd0") || !slices.Contains(prep.Command, "/mnt/ssd1") {
		t.Errorf("prepare-dirs %+v", prep)
	}
	checkRenderedConf(t, r, k8sPodEnv(wc, map[string]string{"status.podIP": "10.1.2.3"}))

	for _, bad := range []string{
		"tieredstore:\n  levels:\n    - {level: 1, alias: MEM, path: /dev/shm, quota: 1GB}\n",
		"tieredstore:\n  levels:\n    - {level: 0, alias: MEM, path: /dev/shm, quota: lots}\n",
		"tieredstore:\n  levels:\n    - {level: 0, alias: MEM, path: /dev/shm, type: nfs, quota: 1GB}\n",
		"tieredstore:\n  levels:\n    - {level: 0, alias: SSD, path: /ssd, type: persistentVolumeClaim, quota: 1GB}\n",
	} {
		if _, err := runHelm(t, "template", "alluxio", helmChartDir, "-f", writeHelmValues(t, bad)); err == nil {
			t.Errorf("rendered:\n%s", bad)
		}
	}
}

func TestHelmFuse(t *testing.T) {
	if objs := renderChart(t).objs; slices.ContainsFunc(objs, func(o *k8sObject) bool { return o.Metadata.Name == "alluxio-fuse" }) {
		t.Fatal("a FUSE DaemonSet without fuse.enabled")
	}
	r := renderChart(t, "--set", "fuse.enabled=true", "--set", "fuse.clientEnabled=true",
		"--set", "fuse.args={--fuse-opts=attr_timeout=60}")
	fuse := r.find(t, "DaemonSet", "alluxio-fuse").workload
	spec := &fuse.Template.Spec
	fc := k8sContainerNamed(t, spec.Containers, "alluxio-fuse")
	if fc == nil {
		t.Fatal("no alluxio-fuse container")
	}
	if sc := fc.SecurityContext; sc == nil || sc.Privileged == nil || !*sc.Privileged || *sc.RunAsUser != 0 {
		t.Errorf("FUSE container security context %+v: want privileged root", sc)
	}
	if v, _ := k8sMountAt(spec, fc, "/dev/fuse"); v == nil || v.HostPath == nil || v.HostPath.Path != "/dev/fuse" || v.HostPath.Type != "CharDevice" {
		t.Errorf("/dev/fuse volume %+v", v)
	}
	if v, prop := k8sMountAt(spec, fc, "/mnt"); v == nil || v.HostPath == nil || v.HostPath.Path != "/mnt" || prop != "Bidirectional" {
		t.Errorf("mount point's parent: volume %+v, propagation %q", v, prop)
	}
	if !slices.Equal(fc.Args, []string{"fuse", "--fuse-opts=attr_timeout=60", "/mnt/alluxio-fuse", "/"}) {
		t.Errorf("FUSE args %v", fc.Args)
	}
	// The FUSE daemon and the worker of a node share the socket directory.
	worker := r.find(t, "DaemonSet", "alluxio-worker").workload
	wc := k8sContainerNamed(t, worker.Template.Spec.Containers, "alluxio-worker")
	sock := r.properties(t)["alluxio.worker.data.server.domain.socket.address"]
	wv, _ := k8sMountAt(&worker.Template.Spec, wc, path.Dir(sock))
	fv, _ := k8sMountAt(spec, fc, path.Dir(sock))
	if wv == nil || fv == nil || wv.HostPath == nil || fv.HostPath == nil || wv.HostPath.Path != fv.HostPath.Path {
		t.Errorf("socket %s: worker volume %+v, FUSE volume %+v", sock, wv, fv)
	}
	checkRenderedConf(t, r, k8sPodEnv(fc, nil))

	client := r.find(t, "Pod", "alluxio-fuse-client").pod
	cc := client.Containers[0]
	if v, prop := k8sMountAt(client, &cc, "/mnt"); v == nil || v.HostPath == nil || v.HostPath.Path != "/mnt" || prop != "HostToContainer" {
		t.Errorf("client mount: volume %+v, propagation %q", v, prop)
	}
	if !strings.Contains(strings.Join(cc.Command, " "), "ls -l /mnt/alluxio-fuse") {
		t.Errorf("client command %v", cc.Command)
	}
	if _, err := runHelm(t, "template", "alluxio", helmChartDir, "--set", "fuse.enabled=true", "--set", "fuse.mountPath=/alluxio"); err == nil {
		t.Error("a mount point directly under / rendered (its parent, /, would be shared with the node)")
	}
}

func TestHelmProperties(t *testing.T) {
	values := writeHelmValues(t, `
properties:
  alluxio.master.mount.table.root.ufs: s3://bucket/alluxio/
  alluxio.user.block.size.bytes.default: 1073741824
  alluxio.fuse.debug.enabled: true
  alluxio.worker.tieredstore.level0.watermark.low.ratio: 0.5
  alluxio.master.rpc.port: 19990
jvmOptions: ["-Dalluxio.user.file.writetype.default=THROUGH", "-Xmx4g"]
master:
  jvmOptions: ["-Dalluxio.master.ttl.checker.interval=5min"]
secrets:
  master:
    alluxio-hdfs-config: hdfsConfig
`)
	r := renderChart(t, "-f", values)
	props := r.properties(t)
	for k, v := range map[string]string{
		"alluxio.master.mount.table.root.ufs":                   "s3://bucket/alluxio/",
		"alluxio.user.block.size.bytes.default":                 "1073741824",
		"alluxio.fuse.debug.enabled":                            "true",
		"alluxio.worker.tieredstore.level0.watermark.low.ratio": "0.5",
		"alluxio.master.rpc.port":                               "19990",
	} {
		if props[k] != v {
			t.Errorf("%s=%q, want %q", k, props[k], v)
		}
	}
	master := r.find(t, "StatefulSet", "alluxio-master").workload
	mc := k8sContainerNamed(t, master.Template.Spec.Containers, "alluxio-master")
	env := k8sPodEnv(mc, map[string]string{"metadata.name": "alluxio-master-0"})
	for k, v := range map[string]string{
		"alluxio.user.file.writetype.default":   "THROUGH",
		"alluxio.master.ttl.checker.interval":   "5min",
		"alluxio.user.block.size.bytes.default": "1073741824",
	} {
		if got := loadRenderedConf(t, r, env, "getConf", k); got != v {
			t.Errorf("master loads %s=%s, want %s", k, got, v)
		}
	}
	if v, _ := k8sMountAt(&master.Template.Spec, mc, "/secrets/hdfsConfig"); v == nil || v.Secret == nil || v.Secret.SecretName != "alluxio-hdfs-config" {
		t.Errorf("secret volume %+v", v)
	}
}

// TestKubernetesSpecs checks that the committed plain specs are what the
// chart renders for their values files, and that each layout has its parts.
func TestKubernetesSpecs(t *testing.T) {
	helm := helmBinary(t)
	root := packagingRepo(t)
	specs := filepath.Join(root, "packaging", "kubernetes")
	out := t.TempDir()
	cmd := exec.Command(filepath.Join(specs, "generate.sh"), out)
	cmd.Env = append(os.Environ(), "HELM="+helm, "HELM_CACHE_HOME="+t.TempDir(), "HELM_CONFIG_HOME="+t.TempDir())
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("generate.sh: %v\n%s", err, b)
	}
	layouts := map[string]int{"singleMaster-localJournal": 1, "singleMaster-hdfsJournal": 1, "multiMaster-embeddedJournal": 3}
	for name, masters := range layouts {
		t.Run(name, func(t *testing.T) {
			committed, fresh := readSpecTree(t, filepath.Join(specs, name)), readSpecTree(t, filepath.Join(out, name))
			for f, data := range fresh {
				if !bytes.Equal(committed[f], data) {
					t.Errorf("%s/%s is stale: run packaging/kubernetes/generate.sh", name, f)
				}
			}
			for f := range committed {
				if _, ok := fresh[f]; !ok {
					t.Errorf("%s/%s is not rendered by the chart any more: run packaging/kubernetes/generate.sh", name, f)
				}
			}
			var stream []byte
			for _, f := range sortedSpecFiles(committed) {
				stream = append(stream, committed[f]...)
			}
			r := helmRender{decodeK8sObjects(t, stream)}
			want := []string{"ConfigMap/alluxio-config", "DaemonSet/alluxio-fuse", "DaemonSet/alluxio-worker",
				"Pod/alluxio-fuse-client", "Service/alluxio-master", "StatefulSet/alluxio-master"}
			if got := r.names(); !slices.Equal(got, want) {
				t.Fatalf("objects %v, want %v", got, want)
			}
			if got := *r.find(t, "StatefulSet", "alluxio-master").workload.Replicas; got != masters {
				t.Errorf("%d masters, want %d", got, masters)
			}
		})
	}
	entries, _ := os.ReadDir(specs)
	for _, e := range entries {
		if _, ok := layouts[e.Name()]; e.IsDir() && !ok {
			t.Errorf("packaging/kubernetes/%s is not checked", e.Name())
		}
	}
}

// readSpecTree reads every file under dir, keyed by its path relative to dir.
func readSpecTree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		files[rel] = data
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func sortedSpecFiles[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// dockerInstruction is one instruction of a Dockerfile, continuation lines
// joined.
type dockerInstruction struct {
	cmd  string // upper case: FROM, RUN, COPY, ...
	args string
}

func parseDockerfile(t *testing.T, file string) []dockerInstruction {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var out []dockerInstruction
	var cur strings.Builder
	for _, line := range strings.Split(string(data), "\n") {
		trimmed := strings.TrimSpace(line)
		if cur.Len() == 0 && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if strings.HasPrefix(trimmed, "#") {
			continue // a comment inside a continued instruction
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur.WriteString(strings.TrimSuffix(trimmed, "\\") + " ")
			continue
		}
		cur.WriteString(trimmed)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, dockerInstruction{strings.ToUpper(cmd), strings.TrimSpace(args)})
		cur.Reset()
	}
	return out
}

func TestDockerfile(t *testing.T) {
	root := packagingRepo(t)
	insts := parseDockerfile(t, filepath.Join(root, "packaging", "docker", "Dockerfile"))
	args := map[string]string{}
	var stages [][]dockerInstruction
	for _, in := range insts {
		switch in.cmd {
		case "ARG":
			if k, v, ok := strings.Cut(in.args, "="); ok && len(stages) == 0 {
				args[k] = strings.Trim(v, `"`)
			}
		case "FROM":
			stages = append(stages, nil)
		}
		if len(stages) > 0 {
			stages[len(stages)-1] = append(stages[len(stages)-1], in)
		}
	}
	if len(stages) != 2 {
		t.Fatalf("%d stages, want a build stage and a runtime stage", len(stages))
	}
	expand := func(s string) string {
		return os.Expand(s, func(k string) string { return args[k] })
	}
	build, runtime := stages[0], stages[1]
	if from := expand(build[0].args); !strings.HasPrefix(from, "golang:1.26") || !strings.HasSuffix(from, " AS build") {
		t.Errorf("build stage FROM %s: want golang:1.26 ... AS build", from)
	}
	if from := runtime[0].args; !strings.HasPrefix(from, "debian:bookworm-slim") {
		t.Errorf("runtime stage FROM %s", from)
	}
	var buildRuns, runtimeRuns string
	for _, in := range build {
		if in.cmd == "RUN" {
			buildRuns += in.args + "\n"
		}
	}
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "-s -w", "./cli/cmd/$cmd", "for cmd in alluxio alluxio-fuse"} {
		if !strings.Contains(buildRuns, want) {
			t.Errorf("build stage does not run %q", want)
		}
	}
	for _, cmd := range []string{"alluxio", "alluxio-fuse"} {
		if _, err := os.Stat(filepath.Join(root, "cli", "cmd", cmd, "main.go")); err != nil {
			t.Errorf("build stage builds ./cli/cmd/%s: %v", cmd, err)
		}
	}
	ignore := readDockerignore(t, filepath.Join(root, "packaging", "docker", "Dockerfile.dockerignore"))
	var user, entrypoint string
	env := map[string]bool{}
	for _, in := range runtime {
		switch in.cmd {
		case "USER":
			user = in.args
		case "ENTRYPOINT":
			entrypoint = in.args
		case "ENV":
			env[in.args] = true
		case "RUN":
			runtimeRuns += in.args + "\n"
		case "COPY":
			fields := strings.Fields(in.args)
			if strings.HasPrefix(fields[0], "--from=") {
				if fields[0] != "--from=build" {
					t.Errorf("COPY %s: unknown stage", in.args)
				}
				continue
			}
			// Every source is in the repository (the build context) and
			// not excluded from the context.
			for _, src := range fields[:len(fields)-1] {
				matches, _ := filepath.Glob(filepath.Join(root, src))
				if len(matches) == 0 {
					t.Errorf("COPY source %s does not exist in the repository", src)
				}
				if pat := dockerignored(ignore, src); pat != "" {
					t.Errorf("COPY source %s is excluded from the build context by %q", src, pat)
				}
			}
		}
	}
	// The build stage compiles what `COPY . .` brings: every source and
	// embedded file of the two commands' packages must be in the context,
	// and they must build without cgo.
	list := exec.Command("go", "list", "-deps", "-f",
		`{{if not .Standard}}{{$d := .Dir}}{{range .GoFiles}}{{$d}}/{{.}}{{"\n"}}{{end}}{{range .EmbedFiles}}{{$d}}/{{.}}{{"\n"}}{{end}}{{end}}`,
		"./cli/cmd/alluxio", "./cli/cmd/alluxio-fuse")
	list.Dir = root
	list.Env = append(os.Environ(), "CGO_ENABLED=0")
	files, err := list.Output()
	if err != nil {
		t.Fatalf("go list without cgo: %v", err)
	}
	n := 0
	for _, f := range strings.Fields(string(files)) {
		rel, err := filepath.Rel(root, f)
		if err != nil || strings.HasPrefix(rel, "..") {
			continue // a dependency from the module cache
		}
		n++
		if pat := dockerignored(ignore, filepath.ToSlash(rel)); pat != "" {
			t.Errorf("%s is needed by the build but excluded from the context by %q", rel, pat)
		}
	}
	if n == 0 {
		t.Error("go list found none of the commands' files in the repository")
	}
	if user != "1000:1000" {
		t.Errorf("runtime USER %q, want 1000:1000", user)
	}
	if entrypoint != `["/entrypoint.sh"]` {
		t.Errorf("ENTRYPOINT %s", entrypoint)
	}
	if !env["ALLUXIO_HOME=/opt/alluxio"] {
		t.Errorf("runtime ENV %v lacks ALLUXIO_HOME=/opt/alluxio", env)
	}
	for _, want := range []string{"fuse3", "ca-certificates", "--uid 1000"} {
		if !strings.Contains(runtimeRuns, want) {
			t.Errorf("runtime stage does not install or create %q", want)
		}
	}
}

// dockerignored returns the .dockerignore pattern that excludes rel (a path
// relative to the context, with slashes), or "". As in Docker, a pattern
// that matches a directory excludes everything under it; a pattern starting
// with **/ matches at any depth.
func dockerignored(patterns []string, rel string) string {
	parts := strings.Split(rel, "/")
	for i := range parts {
		prefix := strings.Join(parts[:i+1], "/")
		for _, pat := range patterns {
			var ok bool
			if rest, deep := strings.CutPrefix(pat, "**/"); deep {
				ok, _ = path.Match(rest, parts[i])
			} else {
				ok, _ = path.Match(pat, prefix)
			}
			if ok {
				return pat
			}
		}
	}
	return ""
}

// readDockerignore returns the exclusion patterns of a .dockerignore.
func readDockerignore(t *testing.T, file string) []string {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var pats []string
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") && !strings.HasPrefix(line, "!") {
			pats = append(pats, strings.TrimPrefix(line, "/"))
		}
	}
	return pats
}

func TestEntrypointScript(t *testing.T) {
	script := filepath.Join(packagingRepo(t), "packaging", "docker", "entrypoint.sh")
	scripts := []string{script, filepath.Join(packagingRepo(t), "packaging", "kubernetes", "generate.sh")}
	for _, s := range scripts {
		if out, err := exec.Command("bash", "-n", s).CombinedOutput(); err != nil {
			t.Fatalf("bash -n %s: %v\n%s", s, err, out)
		}
	}
	t.Run("shellcheck", func(t *testing.T) {
		if _, err := exec.LookPath("shellcheck"); err != nil {
			packagingToolMissing(t, "shellcheck is not installed")
		}
		if out, err := exec.Command("shellcheck", scripts...).CombinedOutput(); err != nil {
			t.Fatalf("shellcheck: %v\n%s", err, out)
		}
	})

	// Stub commands record how the entrypoint runs them.
	home := t.TempDir()
	bin := filepath.Join(home, "bin")
	os.MkdirAll(bin, 0o755)
	calls := filepath.Join(home, "calls")
	stub := `#!/bin/sh
echo "$(basename "$0") $*" >>` + calls + `
case " $* " in *" getConf "*) echo "$STUB_GETCONF" ;; esac
`
	for _, name := range []string{"alluxio", "alluxio-fuse"} {
		if err := os.WriteFile(filepath.Join(bin, name), []byte(stub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	mp := filepath.Join(home, "mnt", "alluxio-fuse")
	run := func(t *testing.T, getConf string, args ...string) (string, error) {
		t.Helper()
		os.Remove(calls)
		cmd := exec.Command(script, args...)
		cmd.Env = append(withoutAlluxioEnv(), "ALLUXIO_HOME="+home, "STUB_GETCONF="+getConf)
		out, err := cmd.CombinedOutput()
		data, _ := os.ReadFile(calls)
		if err != nil {
			return string(out), err
		}
		return strings.TrimSpace(string(data)), nil
	}
	for _, tc := range []struct {
		args    []string
		getConf string
		want    string
	}{
		{[]string{"master"}, "", "alluxio process master"},
		{[]string{"worker", "-Dalluxio.worker.rpc.port=1"}, "", "alluxio process worker -Dalluxio.worker.rpc.port=1"},
		{[]string{"format-journal"}, "", "alluxio formatJournal"},
		{[]string{"format-worker"}, "", "alluxio formatWorker"},
		{[]string{"fs", "ls", "/"}, "", "alluxio fs ls /"},
		{[]string{"version"}, "", "alluxio version"},
		{[]string{"alluxio-fuse", "stat"}, "", "alluxio-fuse stat"},
		{[]string{"fuse", "--fuse-opts=ro,attr_timeout=60", mp, "/data"}, "", "alluxio-fuse run -o ro,attr_timeout=60 " + mp + " /data"},
		{[]string{"fuse", "-Dalluxio.fuse.debug.enabled=true"}, mp,
			"alluxio -Dalluxio.fuse.debug.enabled=true getConf alluxio.fuse.mount.point\n" +
				"alluxio-fuse -Dalluxio.fuse.debug.enabled=true run " + mp},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			os.RemoveAll(filepath.Dir(mp))
			got, err := run(t, tc.getConf, tc.args...)
			if err != nil {
				t.Fatalf("%v\n%s", err, got)
			}
			if got != tc.want {
				t.Errorf("ran\n%s\nwant\n%s", got, tc.want)
			}
			if tc.args[0] == "fuse" {
				if fi, err := os.Stat(mp); err != nil || !fi.IsDir() {
					t.Errorf("the mount point was not created: %v", err)
				}
			}
		})
	}
	if out, err := exec.Command(script, "job-master").CombinedOutput(); err == nil || !strings.Contains(string(out), "no job-master") {
		t.Errorf("job-master: %v %s", err, out)
	}
	if out, err := exec.Command(script, "echo", "hello").CombinedOutput(); err != nil || string(out) != "hello\n" {
		t.Errorf("a program on the PATH: %v %q", err, out)
	}
}

// TestEntrypointFormatOnce runs the entrypoint's format-journal with the
// real binary: with a token it formats once, and again only for a new token
// (a new release revision), so a master pod restarted in the same revision
// keeps its journal.
func TestEntrypointFormatOnce(t *testing.T) {
	script := filepath.Join(packagingRepo(t), "packaging", "docker", "entrypoint.sh")
	home := t.TempDir()
	journal := filepath.Join(home, "journal")
	os.MkdirAll(journal, 0o755)
	db := filepath.Join(journal, "metastore.db")
	format := func(token string) bool {
		t.Helper()
		if err := os.WriteFile(db, []byte("state"), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(script, "format-journal")
		cmd.Env = append(withoutAlluxioEnv(), "ALLUXIO_HOME="+home, "ALLUXIO="+filepath.Join(binDir, "alluxio"),
			"ALLUXIO_FORMAT_TOKEN="+token, "ALLUXIO_JAVA_OPTS=-Dalluxio.master.journal.folder="+journal)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("format-journal: %v\n%s", err, out)
		}
		_, err := os.Stat(db)
		return err != nil
	}
	for i, step := range []struct {
		token     string
		formatted bool
	}{{"alluxio-revision-2", true}, {"alluxio-revision-2", false}, {"alluxio-revision-3", true}} {
		if got := format(step.token); got != step.formatted {
			t.Errorf("step %d, token %s: formatted=%v, want %v", i, step.token, got, step.formatted)
		}
	}
}

func TestHelmPlacement(t *testing.T) {
	r := renderChart(t, "--set", "hostNetwork=true", "--set", "fuse.enabled=true",
		"--set", "imagePullSecrets={regcred}", "--set", "tolerations[0].operator=Exists",
		"--set", "nodeSelector.pool=data", "--set", "worker.nodeSelector.disk=ssd")
	for _, name := range []string{"alluxio-master", "alluxio-worker", "alluxio-fuse"} {
		kind := "DaemonSet"
		if name == "alluxio-master" {
			kind = "StatefulSet"
		}
		spec := r.find(t, kind, name).workload.Template.Spec
		wantSelector := map[string]string{"pool": "data"}
		if name == "alluxio-worker" {
			wantSelector = map[string]string{"disk": "ssd"}
		}
		if !spec.HostNetwork || spec.DNSPolicy != "ClusterFirstWithHostNet" || len(spec.ImagePullSecrets) != 1 ||
			len(spec.Tolerations) != 1 || fmt.Sprint(spec.NodeSelector) != fmt.Sprint(wantSelector) {
			t.Errorf("%s: hostNetwork %v, dnsPolicy %s, pull secrets %v, tolerations %v, nodeSelector %v",
				name, spec.HostNetwork, spec.DNSPolicy, spec.ImagePullSecrets, spec.Tolerations, spec.NodeSelector)
		}
	}
}
