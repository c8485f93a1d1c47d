package tests

// Tests of the container and Kubernetes packaging (packaging/docker,
// packaging/helm/alluxio, packaging/kubernetes). No Docker engine or
// Kubernetes cluster runs here, so the Dockerfile is checked statically, the
// entrypoint is run against stub and real binaries, and the chart is
// rendered with helm and checked object by object: decoded strictly into
// the k8s.io/api types as the API server decodes them (an unknown,
// duplicated or misspelt field is an error), validated offline with
// apimachinery's validators and the rules the API server and kubelet apply
// (names, labels, selectors, ports, probes, mounts against volumes,
// $(VAR) references), and its alluxio-site.properties and environment
// loaded by the real `alluxio` binary as each pod would load them.

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	k8sjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	k8syaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
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

// k8sKinds are the kinds the chart renders; any other is an error.
var k8sKinds = map[schema.GroupVersionKind]bool{
	corev1.SchemeGroupVersion.WithKind("ConfigMap"):             true,
	corev1.SchemeGroupVersion.WithKind("Service"):               true,
	corev1.SchemeGroupVersion.WithKind("Pod"):                   true,
	corev1.SchemeGroupVersion.WithKind("PersistentVolumeClaim"): true,
	appsv1.SchemeGroupVersion.WithKind("StatefulSet"):           true,
	appsv1.SchemeGroupVersion.WithKind("DaemonSet"):             true,
}

// k8sDecoder decodes one YAML document into the k8s.io/api type its
// apiVersion and kind name, as the API server does: strictly, so that an
// unknown or duplicated field, a field spelt with the wrong case (which
// encoding/json would accept) or a value of the wrong type is an error
// instead of being dropped.
var k8sDecoder = func() *k8sjson.Serializer {
	scheme := k8sruntime.NewScheme()
	for _, add := range []func(*k8sruntime.Scheme) error{corev1.AddToScheme, appsv1.AddToScheme} {
		if err := add(scheme); err != nil {
			panic(err)
		}
	}
	return k8sjson.NewSerializerWithOptions(k8sjson.DefaultMetaFactory, scheme, scheme,
		k8sjson.SerializerOptions{Yaml: true, Strict: true})
}()

// k8sObject is one decoded object: a *corev1.ConfigMap, *appsv1.StatefulSet, ...
type k8sObject struct {
	kind string
	obj  k8sruntime.Object
	meta metav1.Object
}

func (o k8sObject) String() string { return o.kind + "/" + o.meta.GetName() }

// decodeK8sObjects splits a YAML stream of Kubernetes objects, decodes each
// strictly into its k8s.io/api type, and validates them all.
func decodeK8sObjects(t *testing.T, stream []byte) []k8sObject {
	t.Helper()
	rd := k8syaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(stream)))
	var objs []k8sObject
	for {
		doc, err := rd.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("splitting the YAML stream: %v", err)
		}
		js, err := yaml.YAMLToJSON(doc)
		if err != nil {
			t.Fatalf("not YAML: %v\n%s", err, doc)
		}
		if string(bytes.TrimSpace(js)) == "null" {
			continue // comments only: a template that rendered nothing
		}
		obj, gvk, err := k8sDecoder.Decode(doc, nil, nil)
		if err != nil {
			t.Fatalf("decoding: %v\n%s", err, doc)
		}
		if !k8sKinds[*gvk] {
			t.Fatalf("unexpected kind or apiVersion %s\n%s", gvk, doc)
		}
		meta, ok := obj.(metav1.Object)
		if !ok {
			t.Fatalf("%s has no object metadata", gvk)
		}
		objs = append(objs, k8sObject{kind: gvk.Kind, obj: obj, meta: meta})
	}
	checkK8sObjects(t, objs)
	return objs
}

var k8sEnvRefRE = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

// Values the API server accepts for the enumerations the chart sets.
var (
	k8sDNSPolicies     = []corev1.DNSPolicy{corev1.DNSClusterFirst, corev1.DNSClusterFirstWithHostNet, corev1.DNSDefault, corev1.DNSNone}
	k8sPullPolicies    = []corev1.PullPolicy{corev1.PullAlways, corev1.PullIfNotPresent, corev1.PullNever}
	k8sProtocols       = []corev1.Protocol{corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP}
	k8sPropagations    = []corev1.MountPropagationMode{corev1.MountPropagationNone, corev1.MountPropagationHostToContainer, corev1.MountPropagationBidirectional}
	k8sStorageMedia    = []corev1.StorageMedium{corev1.StorageMediumDefault, corev1.StorageMediumMemory, corev1.StorageMediumHugePages}
	k8sAccessModes     = []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce, corev1.ReadOnlyMany, corev1.ReadWriteMany, corev1.ReadWriteOncePod}
	k8sEnvFieldPaths   = []string{"metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName", "spec.serviceAccountName", "status.hostIP", "status.podIP", "status.podIPs"}
	k8sCapabilityRE    = regexp.MustCompile(`^[A-Z][A-Z_]*$`)
	k8sHostPathTypes   = []corev1.HostPathType{corev1.HostPathUnset, corev1.HostPathDirectoryOrCreate, corev1.HostPathDirectory, corev1.HostPathFileOrCreate, corev1.HostPathFile, corev1.HostPathSocket, corev1.HostPathCharDev, corev1.HostPathBlockDev}
	k8sResourceNames   = []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage}
	k8sRestartPolicies = []corev1.RestartPolicy{corev1.RestartPolicyAlways, corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever}
)

// k8sErrs reports validation messages of what.
func k8sErrs(t *testing.T, where, what string, msgs []string) {
	t.Helper()
	for _, m := range msgs {
		t.Errorf("%s: %s: %s", where, what, m)
	}
}

// k8sFieldErrs reports a field.ErrorList.
func k8sFieldErrs(t *testing.T, where string, errs field.ErrorList) {
	t.Helper()
	for _, e := range errs {
		t.Errorf("%s: %v", where, e)
	}
}

// checkK8sObjects applies, offline, the checks the API server and the
// kubelet would: object metadata, selectors against pod labels, Services
// against the pods they select, claims, and every pod spec.
func checkK8sObjects(t *testing.T, objs []k8sObject) {
	t.Helper()
	configMaps, services, seen := map[string]bool{}, map[string]*corev1.Service{}, map[string]bool{}
	for _, o := range objs {
		if seen[o.String()] {
			t.Errorf("%s is rendered twice", o)
		}
		seen[o.String()] = true
		checkK8sMeta(t, o)
		switch v := o.obj.(type) {
		case *corev1.ConfigMap:
			configMaps[v.Name] = true
			for k := range v.Data {
				k8sErrs(t, o.String(), "data key "+k, validation.IsConfigMapKey(k))
			}
		case *corev1.Service:
			services[v.Name] = v
			checkK8sService(t, o.String(), v)
		case *corev1.PersistentVolumeClaim:
			checkK8sClaim(t, o.String(), &v.Spec)
		}
	}
	for _, o := range objs {
		where := o.String()
		switch v := o.obj.(type) {
		case *appsv1.StatefulSet:
			if v.Spec.Replicas == nil || *v.Spec.Replicas < 1 {
				t.Errorf("%s: replicas %v", where, v.Spec.Replicas)
			}
			checkK8sSelector(t, where, v.Spec.Selector, &v.Spec.Template)
			svc := services[v.Spec.ServiceName]
			if svc == nil {
				t.Errorf("%s: serviceName %q is not rendered", where, v.Spec.ServiceName)
			} else {
				checkK8sServiceTargets(t, where, svc, &v.Spec.Template)
			}
			claims := map[string]bool{}
			for _, c := range v.Spec.VolumeClaimTemplates {
				cw := where + " volumeClaimTemplate " + c.Name
				k8sErrs(t, cw, "name", validation.IsDNS1123Label(c.Name))
				if claims[c.Name] {
					t.Errorf("%s: repeated", cw)
				}
				claims[c.Name] = true
				checkK8sClaim(t, cw, &c.Spec)
			}
			checkK8sPodSpec(t, where, &v.Spec.Template.Spec, true, claims, configMaps)
		case *appsv1.DaemonSet:
			checkK8sSelector(t, where, v.Spec.Selector, &v.Spec.Template)
			checkK8sPodSpec(t, where, &v.Spec.Template.Spec, true, nil, configMaps)
		case *corev1.Pod:
			checkK8sPodSpec(t, where, &v.Spec, false, nil, configMaps)
		}
	}
}

// checkK8sMeta validates an object's metadata as the API server does, in
// the release's namespace, and its name as a DNS label (a pod's name, and
// so a StatefulSet's, becomes its hostname).
func checkK8sMeta(t *testing.T, o k8sObject) {
	t.Helper()
	m := o.meta
	om := &metav1.ObjectMeta{Name: m.GetName(), Namespace: m.GetNamespace(), Labels: m.GetLabels(), Annotations: m.GetAnnotations()}
	if om.Namespace == "" {
		om.Namespace = "default"
	}
	nameFn := apivalidation.NameIsDNSSubdomain
	if o.kind == "Service" {
		nameFn = apivalidation.NameIsDNS1035Label
	}
	k8sFieldErrs(t, o.String(), apivalidation.ValidateObjectMeta(om, true, nameFn, field.NewPath("metadata")))
	k8sErrs(t, o.String(), "name", validation.IsDNS1123Label(m.GetName()))
}

// checkK8sSelector checks a workload's selector and that it selects the
// pods of its template.
func checkK8sSelector(t *testing.T, where string, sel *metav1.LabelSelector, tpl *corev1.PodTemplateSpec) {
	t.Helper()
	fld := field.NewPath("spec", "template", "metadata")
	k8sFieldErrs(t, where, metavalidation.ValidateLabels(tpl.Labels, fld.Child("labels")))
	k8sFieldErrs(t, where, apivalidation.ValidateAnnotations(tpl.Annotations, fld.Child("annotations")))
	if sel == nil || len(sel.MatchLabels)+len(sel.MatchExpressions) == 0 {
		t.Errorf("%s: empty selector", where)
		return
	}
	k8sFieldErrs(t, where, metavalidation.ValidateLabelSelector(sel, metavalidation.LabelSelectorValidationOptions{}, field.NewPath("spec", "selector")))
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		t.Errorf("%s: selector: %v", where, err)
	} else if !s.Matches(labels.Set(tpl.Labels)) {
		t.Errorf("%s: selector %s does not match the pod labels %v", where, s, tpl.Labels)
	}
}

// checkK8sService checks a Service's own fields.
func checkK8sService(t *testing.T, where string, svc *corev1.Service) {
	t.Helper()
	k8sFieldErrs(t, where, metavalidation.ValidateLabels(svc.Spec.Selector, field.NewPath("spec", "selector")))
	if len(svc.Spec.Ports) == 0 {
		t.Errorf("%s: no ports", where)
	}
	names := map[string]bool{}
	for _, p := range svc.Spec.Ports {
		pw := fmt.Sprintf("%s port %q", where, p.Name)
		if len(svc.Spec.Ports) > 1 || p.Name != "" {
			k8sErrs(t, pw, "name", validation.IsDNS1123Label(p.Name))
		}
		if names[p.Name] {
			t.Errorf("%s: repeated", pw)
		}
		names[p.Name] = true
		k8sErrs(t, pw, "port", validation.IsValidPortNum(int(p.Port)))
		if p.Protocol != "" && !slices.Contains(k8sProtocols, p.Protocol) {
			t.Errorf("%s: protocol %q", pw, p.Protocol)
		}
		switch p.TargetPort.Type {
		case intstr.String:
			k8sErrs(t, pw, "targetPort", validation.IsValidPortName(p.TargetPort.StrVal))
		case intstr.Int:
			if p.TargetPort.IntVal != 0 {
				k8sErrs(t, pw, "targetPort", validation.IsValidPortNum(int(p.TargetPort.IntVal)))
			}
		}
	}
}

// checkK8sServiceTargets checks that svc selects the pods of tpl and that
// its named target ports are ports of theirs.
func checkK8sServiceTargets(t *testing.T, where string, svc *corev1.Service, tpl *corev1.PodTemplateSpec) {
	t.Helper()
	if len(svc.Spec.Selector) == 0 || !labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(tpl.Labels)) {
		t.Errorf("%s: Service %s selects %v, which the pods (%v) lack", where, svc.Name, svc.Spec.Selector, tpl.Labels)
	}
	ports := map[string]bool{}
	for _, c := range tpl.Spec.Containers {
		for _, p := range c.Ports {
			ports[p.Name] = true
		}
	}
	for _, p := range svc.Spec.Ports {
		if p.TargetPort.Type == intstr.String && !ports[p.TargetPort.StrVal] {
			t.Errorf("%s: Service %s port %s targets %q, which no container names", where, svc.Name, p.Name, p.TargetPort.StrVal)
		}
	}
}

// checkK8sClaim checks a PersistentVolumeClaim spec: access modes and a
// positive storage request.
func checkK8sClaim(t *testing.T, where string, c *corev1.PersistentVolumeClaimSpec) {
	t.Helper()
	if len(c.AccessModes) == 0 {
		t.Errorf("%s: no access mode", where)
	}
	for _, m := range c.AccessModes {
		if !slices.Contains(k8sAccessModes, m) {
			t.Errorf("%s: access mode %q", where, m)
		}
	}
	if q, ok := c.Resources.Requests[corev1.ResourceStorage]; !ok || q.Sign() <= 0 {
		t.Errorf("%s: storage request %v", where, c.Resources.Requests)
	}
	if c.StorageClassName != nil {
		k8sErrs(t, where, "storageClassName", validation.IsDNS1123Subdomain(*c.StorageClassName))
	}
}

// k8sVolumeSources counts the sources a volume sets; exactly one is valid.
func k8sVolumeSources(v *corev1.Volume) int {
	n := 0
	src := reflect.ValueOf(v.VolumeSource)
	for i := range src.NumField() {
		if !src.Field(i).IsNil() {
			n++
		}
	}
	return n
}

// checkK8sPodSpec checks a pod spec: its volumes (claims are the
// StatefulSet's volumeClaimTemplates), containers, ports, probes,
// environment, resources and mounts. A workload's pods must restart always.
func checkK8sPodSpec(t *testing.T, where string, spec *corev1.PodSpec, workload bool, claims, configMaps map[string]bool) {
	t.Helper()
	if spec.DNSPolicy != "" && !slices.Contains(k8sDNSPolicies, spec.DNSPolicy) {
		t.Errorf("%s: dnsPolicy %q", where, spec.DNSPolicy)
	}
	if spec.RestartPolicy != "" && (!slices.Contains(k8sRestartPolicies, spec.RestartPolicy) || workload && spec.RestartPolicy != corev1.RestartPolicyAlways) {
		t.Errorf("%s: restartPolicy %q", where, spec.RestartPolicy)
	}
	if sc := spec.SecurityContext; sc != nil {
		for _, id := range []*int64{sc.RunAsUser, sc.RunAsGroup, sc.FSGroup} {
			if id != nil {
				k8sErrs(t, where, "securityContext", validation.IsValidUserID(*id))
			}
		}
	}
	for _, s := range spec.ImagePullSecrets {
		k8sErrs(t, where, "imagePullSecrets", validation.IsDNS1123Subdomain(s.Name))
	}
	k8sFieldErrs(t, where, metavalidation.ValidateLabels(spec.NodeSelector, field.NewPath("spec", "nodeSelector")))
	volumes := map[string]bool{}
	for i := range spec.Volumes {
		v := &spec.Volumes[i]
		vw := where + " volume " + v.Name
		k8sErrs(t, vw, "name", validation.IsDNS1123Label(v.Name))
		if volumes[v.Name] {
			t.Errorf("%s: repeated", vw)
		}
		volumes[v.Name] = true
		if n := k8sVolumeSources(v); n != 1 {
			t.Errorf("%s: %d sources, want exactly one", vw, n)
		}
		switch {
		case v.ConfigMap != nil:
			if !configMaps[v.ConfigMap.Name] {
				t.Errorf("%s: ConfigMap %q is not rendered", vw, v.ConfigMap.Name)
			}
		case v.Secret != nil:
			k8sErrs(t, vw, "secretName", validation.IsDNS1123Subdomain(v.Secret.SecretName))
		case v.PersistentVolumeClaim != nil:
			k8sErrs(t, vw, "claimName", validation.IsDNS1123Subdomain(v.PersistentVolumeClaim.ClaimName))
		case v.HostPath != nil:
			if !path.IsAbs(v.HostPath.Path) || path.Clean(v.HostPath.Path) != v.HostPath.Path {
				t.Errorf("%s: hostPath %q is not a clean absolute path", vw, v.HostPath.Path)
			}
			if v.HostPath.Type != nil && !slices.Contains(k8sHostPathTypes, *v.HostPath.Type) {
				t.Errorf("%s: hostPath type %q", vw, *v.HostPath.Type)
			}
		case v.EmptyDir != nil:
			if !slices.Contains(k8sStorageMedia, v.EmptyDir.Medium) {
				t.Errorf("%s: emptyDir medium %q", vw, v.EmptyDir.Medium)
			}
			if v.EmptyDir.SizeLimit != nil && v.EmptyDir.SizeLimit.Sign() <= 0 {
				t.Errorf("%s: sizeLimit %s", vw, v.EmptyDir.SizeLimit)
			}
		}
	}
	for c := range claims {
		if volumes[c] {
			t.Errorf("%s: %s is both a volume and a volumeClaimTemplate", where, c)
		}
		volumes[c] = true
	}
	containers := map[string]bool{}
	for i, c := range slices.Concat(spec.InitContainers, spec.Containers) {
		cw := where + " container " + c.Name
		k8sErrs(t, cw, "name", validation.IsDNS1123Label(c.Name))
		if containers[c.Name] {
			t.Errorf("%s: repeated", cw)
		}
		containers[c.Name] = true
		checkK8sContainer(t, cw, &c, i < len(spec.InitContainers), volumes)
	}
	if len(spec.Containers) == 0 {
		t.Errorf("%s: no containers", where)
	}
}

// checkK8sContainer checks one container against the volumes of its pod.
func checkK8sContainer(t *testing.T, cw string, c *corev1.Container, init bool, volumes map[string]bool) {
	t.Helper()
	if c.Image == "" || (len(c.Command) == 0 && len(c.Args) == 0) {
		t.Errorf("%s: no image or nothing to run", cw)
	}
	if c.ImagePullPolicy != "" && !slices.Contains(k8sPullPolicies, c.ImagePullPolicy) {
		t.Errorf("%s: imagePullPolicy %q", cw, c.ImagePullPolicy)
	}
	ports, endpoints := map[string]bool{}, map[string]bool{}
	for _, p := range c.Ports {
		if p.Name != "" {
			k8sErrs(t, cw, "port name", validation.IsValidPortName(p.Name))
			if ports[p.Name] {
				t.Errorf("%s: port name %q repeated", cw, p.Name)
			}
			ports[p.Name] = true
		}
		k8sErrs(t, cw, "containerPort", validation.IsValidPortNum(int(p.ContainerPort)))
		proto := p.Protocol
		if proto == "" {
			proto = corev1.ProtocolTCP
		}
		if !slices.Contains(k8sProtocols, proto) {
			t.Errorf("%s: port %q protocol %q", cw, p.Name, p.Protocol)
		}
		if ep := fmt.Sprint(p.ContainerPort, proto); endpoints[ep] {
			t.Errorf("%s: port %d/%s repeated", cw, p.ContainerPort, proto)
		} else {
			endpoints[ep] = true
		}
	}
	for _, pr := range []*corev1.Probe{c.StartupProbe, c.ReadinessProbe, c.LivenessProbe} {
		if pr == nil {
			continue
		}
		if init {
			t.Errorf("%s: an init container has a probe", cw)
		}
		h := pr.ProbeHandler
		n := 0
		for _, set := range []bool{h.Exec != nil, h.HTTPGet != nil, h.TCPSocket != nil, h.GRPC != nil} {
			if set {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%s: probe with %d handlers, want one", cw, n)
		}
		if h.Exec != nil && len(h.Exec.Command) == 0 {
			t.Errorf("%s: exec probe without a command", cw)
		}
		if h.TCPSocket != nil {
			if p := h.TCPSocket.Port; p.Type == intstr.String && !ports[p.StrVal] {
				t.Errorf("%s: probe on unknown port %q", cw, p.StrVal)
			} else if p.Type == intstr.Int {
				k8sErrs(t, cw, "probe port", validation.IsValidPortNum(int(p.IntVal)))
			}
		}
		for _, v := range []int32{pr.InitialDelaySeconds, pr.PeriodSeconds, pr.TimeoutSeconds, pr.FailureThreshold, pr.SuccessThreshold} {
			if v < 0 {
				t.Errorf("%s: negative probe setting %d", cw, v)
			}
		}
	}
	defined := map[string]bool{}
	for _, e := range c.Env {
		k8sErrs(t, cw, "env name", validation.IsEnvVarName(e.Name))
		if e.ValueFrom != nil {
			if e.Value != "" {
				t.Errorf("%s: env %s has both value and valueFrom", cw, e.Name)
			}
			if f := e.ValueFrom.FieldRef; f == nil || !slices.Contains(k8sEnvFieldPaths, f.FieldPath) {
				t.Errorf("%s: env %s: valueFrom %+v is not a field the kubelet sets", cw, e.Name, e.ValueFrom)
			}
		}
		for _, m := range k8sEnvRefRE.FindAllStringSubmatch(e.Value, -1) {
			if !defined[m[1]] {
				t.Errorf("%s: env %s refers to $(%s), not defined before it", cw, e.Name, m[1])
			}
		}
		defined[e.Name] = true
	}
	knownResource := func(name corev1.ResourceName) bool {
		return slices.Contains(k8sResourceNames, name) || strings.HasPrefix(string(name), corev1.ResourceHugePagesPrefix) ||
			strings.Contains(string(name), "/") // an extended resource, e.g. nvidia.com/gpu
	}
	for name, q := range c.Resources.Requests {
		if !knownResource(name) {
			t.Errorf("%s: request of unknown resource %q", cw, name)
		}
		if lim, ok := c.Resources.Limits[name]; ok && q.Cmp(lim) > 0 {
			t.Errorf("%s: %s request %s is above its limit %s", cw, name, q.String(), lim.String())
		}
	}
	for name := range c.Resources.Limits {
		if !knownResource(name) {
			t.Errorf("%s: limit of unknown resource %q", cw, name)
		}
	}
	privileged := c.SecurityContext != nil && c.SecurityContext.Privileged != nil && *c.SecurityContext.Privileged
	if sc := c.SecurityContext; sc != nil {
		for _, id := range []*int64{sc.RunAsUser, sc.RunAsGroup} {
			if id != nil {
				k8sErrs(t, cw, "securityContext", validation.IsValidUserID(*id))
			}
		}
		if sc.Capabilities != nil {
			for _, cp := range slices.Concat(sc.Capabilities.Add, sc.Capabilities.Drop) {
				if !k8sCapabilityRE.MatchString(string(cp)) || strings.HasPrefix(string(cp), "CAP_") {
					t.Errorf("%s: capability %q (write SYS_ADMIN, not CAP_SYS_ADMIN)", cw, cp)
				}
			}
		}
	}
	mounts := map[string]bool{}
	for _, m := range c.VolumeMounts {
		if !volumes[m.Name] {
			t.Errorf("%s: mounts unknown volume %q", cw, m.Name)
		}
		if mounts[m.MountPath] || !path.IsAbs(m.MountPath) || strings.Contains(m.MountPath, ":") {
			t.Errorf("%s: mount path %q repeated, relative or with a colon", cw, m.MountPath)
		}
		mounts[m.MountPath] = true
		if m.MountPropagation != nil {
			if !slices.Contains(k8sPropagations, *m.MountPropagation) {
				t.Errorf("%s: mountPropagation %q", cw, *m.MountPropagation)
			}
			if *m.MountPropagation == corev1.MountPropagationBidirectional && !privileged {
				t.Errorf("%s: Bidirectional propagation needs a privileged container", cw)
			}
		}
	}
}

// helmRender is one rendering of the chart.
type helmRender struct {
	objs []k8sObject
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

// k8sGet returns the object of type T (e.g. *appsv1.StatefulSet) and name,
// failing when it is absent.
func k8sGet[T k8sruntime.Object](t *testing.T, r helmRender, name string) T {
	t.Helper()
	v, ok := k8sLookup[T](r, name)
	if !ok {
		t.Fatalf("no %T %s among %v", v, name, r.names())
	}
	return v
}

// k8sLookup returns the object of type T and name, if rendered.
func k8sLookup[T k8sruntime.Object](r helmRender, name string) (T, bool) {
	for _, o := range r.objs {
		if v, ok := o.obj.(T); ok && o.meta.GetName() == name {
			return v, true
		}
	}
	var zero T
	return zero, false
}

func (r helmRender) names() []string {
	var out []string
	for _, o := range r.objs {
		out = append(out, o.String())
	}
	sort.Strings(out)
	return out
}

// properties parses the ConfigMap's alluxio-site.properties.
func (r helmRender) properties(t *testing.T) map[string]string {
	t.Helper()
	text, ok := k8sGet[*corev1.ConfigMap](t, r, "alluxio-config").Data["alluxio-site.properties"]
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

func k8sContainerNamed(cs []corev1.Container, name string) *corev1.Container {
	for i := range cs {
		if cs[i].Name == name {
			return &cs[i]
		}
	}
	return nil
}

// k8sPodEnv is a container's environment as the kubelet would set it: field
// references from fields, $(VAR) expanded from earlier variables.
func k8sPodEnv(c *corev1.Container, fields map[string]string) []string {
	vars := map[string]string{}
	var env []string
	for _, e := range c.Env {
		v := e.Value
		if e.ValueFrom != nil && e.ValueFrom.FieldRef != nil {
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

func k8sVolumeNamed(spec *corev1.PodSpec, name string) *corev1.Volume {
	for i := range spec.Volumes {
		if spec.Volumes[i].Name == name {
			return &spec.Volumes[i]
		}
	}
	return nil
}

// k8sMountAt returns the mount at dir in c, the volume it mounts (nil for a
// volumeClaimTemplate or an unknown volume) and its propagation ("" if unset).
func k8sMountAt(spec *corev1.PodSpec, c *corev1.Container, dir string) (*corev1.VolumeMount, *corev1.Volume, corev1.MountPropagationMode) {
	for i, m := range c.VolumeMounts {
		if m.MountPath == dir {
			var prop corev1.MountPropagationMode
			if m.MountPropagation != nil {
				prop = *m.MountPropagation
			}
			return &c.VolumeMounts[i], k8sVolumeNamed(spec, m.Name), prop
		}
	}
	return nil, nil, ""
}

// k8sVolumeAt returns the volume mounted at dir in c, and the mount's propagation.
func k8sVolumeAt(spec *corev1.PodSpec, c *corev1.Container, dir string) (*corev1.Volume, corev1.MountPropagationMode) {
	_, v, prop := k8sMountAt(spec, c, dir)
	return v, prop
}

// k8sHostPath returns the node directory of a hostPath volume and its
// type, or "" when v is not a hostPath volume.
func k8sHostPath(v *corev1.Volume) (dir string, typ corev1.HostPathType) {
	if v == nil || v.HostPath == nil {
		return "", ""
	}
	if v.HostPath.Type != nil {
		typ = *v.HostPath.Type
	}
	return v.HostPath.Path, typ
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
	text := k8sGet[*corev1.ConfigMap](t, r, "alluxio-config").Data["alluxio-site.properties"]
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

// checkRenderedConf fails unless the configuration loads without a
// warning, except warnings that name one of the tolerated keys.
func checkRenderedConf(t *testing.T, r helmRender, env []string, tolerated ...string) {
	t.Helper()
	out := loadRenderedConf(t, r, env, "validateConf")
	var rest []string
	for _, line := range strings.Split(out, "\n") {
		if !slices.ContainsFunc(tolerated, func(k string) bool { return strings.Contains(line, k+": ") }) {
			rest = append(rest, line)
		}
	}
	if strings.Join(rest, "\n") != "Configuration is valid." {
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

// helmPods are the masters and the workers of a rendering, with their
// main containers.
type helmPods struct {
	master *appsv1.StatefulSet
	mc     *corev1.Container
	worker *appsv1.DaemonSet
	wc     *corev1.Container
}

// pods returns the masters and the workers, which every rendering has.
func (r helmRender) pods(t *testing.T) helmPods {
	t.Helper()
	g := helmPods{master: k8sGet[*appsv1.StatefulSet](t, r, "alluxio-master"), worker: k8sGet[*appsv1.DaemonSet](t, r, "alluxio-worker")}
	g.mc = k8sContainerNamed(g.master.Spec.Template.Spec.Containers, "alluxio-master")
	g.wc = k8sContainerNamed(g.worker.Spec.Template.Spec.Containers, "alluxio-worker")
	if g.mc == nil || g.wc == nil {
		t.Fatalf("no alluxio-master or alluxio-worker container")
	}
	return g
}

// masterEnv and workerEnv are the environments of master 0 and of a worker.
func (g helmPods) masterEnv() []string {
	return k8sPodEnv(g.mc, map[string]string{"metadata.name": "alluxio-master-0"})
}

func (g helmPods) workerEnv() []string {
	return k8sPodEnv(g.wc, map[string]string{"status.podIP": "10.1.2.3"})
}

// claimTemplate returns the masters' volumeClaimTemplate of that name.
func (g helmPods) claimTemplate(name string) *corev1.PersistentVolumeClaim {
	for i := range g.master.Spec.VolumeClaimTemplates {
		if c := &g.master.Spec.VolumeClaimTemplates[i]; c.Name == name {
			return c
		}
	}
	return nil
}

// wantClaim checks a claim's size, storage class ("" for the default) and
// access modes.
func wantClaim(t *testing.T, where string, c *corev1.PersistentVolumeClaimSpec, size, class string, modes ...corev1.PersistentVolumeAccessMode) {
	t.Helper()
	q := c.Resources.Requests[corev1.ResourceStorage]
	var gotClass string
	if c.StorageClassName != nil {
		gotClass = *c.StorageClassName
	}
	if q.String() != size || gotClass != class || !slices.Equal(c.AccessModes, modes) {
		t.Errorf("%s: claim of %s, class %q, modes %v; want %s, %q, %v", where, q.String(), gotClass, c.AccessModes, size, class, modes)
	}
}

// wantProps checks properties of the rendered alluxio-site.properties.
func wantProps(t *testing.T, r helmRender, want map[string]string) {
	t.Helper()
	props := r.properties(t)
	for k, v := range want {
		if got, ok := props[k]; !ok || got != v {
			t.Errorf("%s=%q, want %q", k, got, v)
		}
	}
}

// wantMount checks that c mounts a volume named name at dir (name may be a
// volumeClaimTemplate), and returns the volume (nil for a claim template).
func wantMount(t *testing.T, spec *corev1.PodSpec, c *corev1.Container, dir, name string) *corev1.Volume {
	t.Helper()
	m, v, _ := k8sMountAt(spec, c, dir)
	if m == nil || m.Name != name {
		t.Errorf("%s: mount at %s is %+v, want volume %s", c.Name, dir, m, name)
		return nil
	}
	return v
}

func TestHelmDefaults(t *testing.T) {
	r := renderChart(t)
	want := []string{"ConfigMap/alluxio-config", "DaemonSet/alluxio-worker", "Service/alluxio-master", "StatefulSet/alluxio-master"}
	if got := r.names(); !slices.Equal(got, want) {
		t.Fatalf("objects %v, want %v", got, want)
	}
	wantProps(t, r, map[string]string{
		"alluxio.master.hostname":                          "alluxio-master-0.alluxio-master.default.svc.cluster.local",
		"alluxio.master.journal.type":                      "EMBEDDED",
		"alluxio.master.journal.folder":                    "/journal",
		"alluxio.worker.tieredstore.levels":                "1",
		"alluxio.worker.tieredstore.level0.dirs.path":      "/dev/shm",
		"alluxio.worker.tieredstore.level0.dirs.quota":     "1GB",
		"alluxio.worker.data.server.domain.socket.address": "/opt/domain/worker.sock",
	})
	if _, ok := r.properties(t)["alluxio.master.embedded.journal.addresses"]; ok {
		t.Error("a single master has a journal address list")
	}
	g := r.pods(t)
	master := g.master.Spec
	if *master.Replicas != 1 || len(master.Template.Spec.InitContainers) != 0 {
		t.Errorf("master: %d replicas, init containers %v", *master.Replicas, master.Template.Spec.InitContainers)
	}
	if len(master.VolumeClaimTemplates) != 1 || g.claimTemplate("alluxio-journal") == nil {
		t.Errorf("master: want one journal claim per pod, have %+v", master.VolumeClaimTemplates)
	}
	svc := k8sGet[*corev1.Service](t, r, "alluxio-master")
	if svc.Spec.ClusterIP != corev1.ClusterIPNone || !svc.Spec.PublishNotReadyAddresses {
		t.Errorf("master Service: want headless and publishing not-ready masters, have %+v", svc.Spec)
	}
	sc := master.Template.Spec.SecurityContext
	if sc == nil || sc.RunAsUser == nil || *sc.RunAsUser != 1000 || sc.FSGroup == nil || *sc.FSGroup != 1000 {
		t.Errorf("master pods: want user and fsGroup 1000, have %+v", sc)
	}
	// Each process loads the rendered configuration without a warning.
	checkRenderedConf(t, r, g.masterEnv())
	checkRenderedConf(t, r, g.workerEnv())
	if got := loadRenderedConf(t, r, g.workerEnv(), "getConf", "alluxio.worker.hostname"); got != "10.1.2.3" {
		t.Errorf("worker hostname %q, want the pod IP", got)
	}
}

func TestHelmMultiMaster(t *testing.T) {
	r := renderChart(t, "--set", "master.count=3")
	g := r.pods(t)
	if *g.master.Spec.Replicas != 3 || g.master.Spec.PodManagementPolicy != appsv1.ParallelPodManagement {
		t.Fatalf("masters: %d replicas, %q", *g.master.Spec.Replicas, g.master.Spec.PodManagementPolicy)
	}
	props := r.properties(t)
	journal := strings.Split(props["alluxio.master.embedded.journal.addresses"], ",")
	rpcs := strings.Split(props["alluxio.master.rpc.addresses"], ",")
	if len(journal) != 3 || len(rpcs) != 3 {
		t.Fatalf("journal addresses %v, rpc addresses %v: want 3 each", journal, rpcs)
	}
	for i := range 3 {
		host := fmt.Sprintf("alluxio-master-%d.alluxio-master.default.svc.cluster.local", i)
		if journal[i] != host+":19200" || rpcs[i] != host+":19998" {
			t.Errorf("master %d: journal %s, rpc %s; want %s", i, journal[i], rpcs[i], host)
		}
		// The master finds itself in the list by its hostname, which its
		// pod gets from the environment.
		env := k8sPodEnv(g.mc, map[string]string{"metadata.name": fmt.Sprintf("alluxio-master-%d", i)})
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
		if g := r.pods(t); len(g.master.Spec.VolumeClaimTemplates) != 1 {
			t.Errorf("a local UFS journal of one master wants its claim, have %+v", g.master.Spec.VolumeClaimTemplates)
		}
	})
	t.Run("HDFS", func(t *testing.T) {
		r := renderChart(t, "--set", "journal.type=UFS", "--set", "journal.ufsType=HDFS",
			"--set", "journal.folder=hdfs://nn:8020/alluxio/journal")
		g := r.pods(t)
		if len(g.master.Spec.VolumeClaimTemplates) != 0 || k8sVolumeNamed(&g.master.Spec.Template.Spec, "alluxio-journal") != nil {
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
		claim := k8sGet[*corev1.PersistentVolumeClaim](t, r, "alluxio-journal")
		wantClaim(t, "shared journal", &claim.Spec, "1Gi", "", corev1.ReadWriteMany)
		g := r.pods(t)
		v := wantMount(t, &g.master.Spec.Template.Spec, g.mc, "/journal", "alluxio-journal")
		if v == nil || v.PersistentVolumeClaim == nil || v.PersistentVolumeClaim.ClaimName != "alluxio-journal" || len(g.master.Spec.VolumeClaimTemplates) != 0 {
			t.Errorf("masters of a UFS journal share one claim: volume %+v, claim templates %+v", v, g.master.Spec.VolumeClaimTemplates)
		}
		if _, ok := r.properties(t)["alluxio.master.embedded.journal.addresses"]; ok {
			t.Error("a UFS journal has embedded journal addresses")
		}
	})
	t.Run("emptyDir", func(t *testing.T) {
		g := renderChart(t, "--set", "journal.volumeType=emptyDir").pods(t)
		if v := k8sVolumeNamed(&g.master.Spec.Template.Spec, "alluxio-journal"); v == nil || v.EmptyDir == nil || len(g.master.Spec.VolumeClaimTemplates) != 0 {
			t.Errorf("journal volume %+v, claims %+v", v, g.master.Spec.VolumeClaimTemplates)
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
	off := renderChart(t).pods(t).master.Spec
	on := renderChart(t, "--set", "journal.format.runFormat=true").pods(t)
	if c := k8sContainerNamed(off.Template.Spec.InitContainers, "journal-format"); c != nil {
		t.Fatal("the format initContainer is there without runFormat")
	}
	spec := &on.master.Spec.Template.Spec
	c := k8sContainerNamed(spec.InitContainers, "journal-format")
	if c == nil {
		t.Fatal("no journal-format initContainer with runFormat=true")
	}
	if !slices.Equal(c.Args, []string{"format-journal"}) || c.Image != on.mc.Image {
		t.Errorf("journal-format runs %v in %s", c.Args, c.Image)
	}
	if on.claimTemplate("alluxio-journal") == nil {
		t.Error("no journal claim template")
	}
	wantMount(t, spec, c, "/journal", "alluxio-journal")
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
	wantProps(t, r, map[string]string{
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
	})
	g := r.pods(t)
	spec := &g.worker.Spec.Template.Spec
	if v, _ := k8sVolumeAt(spec, g.wc, "/dev/shm"); v == nil || v.EmptyDir == nil || v.EmptyDir.Medium != corev1.StorageMediumMemory ||
		v.EmptyDir.SizeLimit == nil || v.EmptyDir.SizeLimit.String() != "2Gi" {
		t.Errorf("MEM tier volume %+v", v)
	}
	for _, dir := range []string{"/mnt/ssd0", "/mnt/ssd1"} {
		if v, _ := k8sVolumeAt(spec, g.wc, dir); v == nil || v.Name != path.Base(dir) {
			t.Errorf("SSD directory %s: volume %+v", dir, v)
		} else if host, _ := k8sHostPath(v); host != dir {
			t.Errorf("SSD directory %s: volume %+v", dir, v)
		}
	}
	// The kubelet makes missing hostPath directories owned by root; an
	// initContainer hands them to the worker's user.
	prep := k8sContainerNamed(spec.InitContainers, "prepare-dirs")
	if prep == nil || !slices.Contains(prep.Command, "/mnt/ssd0") || !slices.Contains(prep.Command, "/mnt/ssd1") {
		t.Errorf("prepare-dirs %+v", prep)
	}
	checkRenderedConf(t, r, g.workerEnv())

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

// checkFusePods checks the meaning of fuse.enabled: a privileged FUSE
// container with SYS_ADMIN and /dev/fuse, mounting alluxioPath at mountPath
// in a node directory shared Bidirectionally, and sharing the worker's
// socket directory; it returns the FUSE container.
func checkFusePods(t *testing.T, r helmRender, mountPath, alluxioPath string) (*corev1.PodSpec, *corev1.Container) {
	t.Helper()
	fuse := k8sGet[*appsv1.DaemonSet](t, r, "alluxio-fuse")
	spec := &fuse.Spec.Template.Spec
	fc := k8sContainerNamed(spec.Containers, "alluxio-fuse")
	if fc == nil {
		t.Fatal("no alluxio-fuse container")
	}
	sc := fc.SecurityContext
	if sc == nil || sc.Privileged == nil || !*sc.Privileged || sc.RunAsUser == nil || *sc.RunAsUser != 0 {
		t.Errorf("FUSE container security context %+v: want privileged root", sc)
	}
	if sc == nil || sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Add, "SYS_ADMIN") {
		t.Errorf("FUSE container security context %+v: want the SYS_ADMIN capability", sc)
	}
	if v, _ := k8sVolumeAt(spec, fc, "/dev/fuse"); v == nil {
		t.Error("/dev/fuse is not mounted")
	} else if host, typ := k8sHostPath(v); host != "/dev/fuse" || typ != corev1.HostPathCharDev {
		t.Errorf("/dev/fuse volume %+v", v)
	}
	parent := path.Dir(mountPath)
	if v, prop := k8sVolumeAt(spec, fc, parent); v == nil || prop != corev1.MountPropagationBidirectional {
		t.Errorf("mount point's parent %s: volume %+v, propagation %q", parent, v, prop)
	} else if host, _ := k8sHostPath(v); host != parent {
		t.Errorf("mount point's parent %s: volume %+v", parent, v)
	}
	if n := len(fc.Args); n < 3 || fc.Args[0] != "fuse" || !slices.Equal(fc.Args[n-2:], []string{mountPath, alluxioPath}) {
		t.Errorf("FUSE args %v, want fuse ... %s %s", fc.Args, mountPath, alluxioPath)
	}
	if pr := fc.ReadinessProbe; pr == nil || pr.Exec == nil || !strings.Contains(strings.Join(pr.Exec.Command, " "), " "+mountPath+" fuse") {
		t.Errorf("FUSE readiness probe %+v does not wait for the mount", pr)
	}
	// The FUSE daemon and the worker of a node share the socket directory.
	g := r.pods(t)
	sock := r.properties(t)["alluxio.worker.data.server.domain.socket.address"]
	wv, _ := k8sVolumeAt(&g.worker.Spec.Template.Spec, g.wc, path.Dir(sock))
	fv, _ := k8sVolumeAt(spec, fc, path.Dir(sock))
	if wh, _ := k8sHostPath(wv); wh == "" {
		t.Errorf("socket %s: worker volume %+v", sock, wv)
	} else if fh, _ := k8sHostPath(fv); fh != wh {
		t.Errorf("socket %s: worker volume %+v, FUSE volume %+v", sock, wv, fv)
	}
	wantProps(t, r, map[string]string{"alluxio.fuse.mount.point": mountPath, "alluxio.fuse.mount.alluxio.path": alluxioPath})
	return spec, fc
}

// checkFuseClient checks the example client pod: it sees the node's FUSE
// mount through the mount point's parent, propagated HostToContainer.
func checkFuseClient(t *testing.T, r helmRender, mountPath string) {
	t.Helper()
	client := k8sGet[*corev1.Pod](t, r, "alluxio-fuse-client")
	cc := &client.Spec.Containers[0]
	parent := path.Dir(mountPath)
	if v, prop := k8sVolumeAt(&client.Spec, cc, parent); v == nil || prop != corev1.MountPropagationHostToContainer {
		t.Errorf("client mount: volume %+v, propagation %q", v, prop)
	} else if host, _ := k8sHostPath(v); host != parent {
		t.Errorf("client mount: volume %+v", v)
	}
	if !strings.Contains(strings.Join(cc.Command, " "), "ls -l "+mountPath) {
		t.Errorf("client command %v", cc.Command)
	}
}

func TestHelmFuse(t *testing.T) {
	if _, ok := k8sLookup[*appsv1.DaemonSet](renderChart(t), "alluxio-fuse"); ok {
		t.Fatal("a FUSE DaemonSet without fuse.enabled")
	}
	r := renderChart(t, "--set", "fuse.enabled=true", "--set", "fuse.clientEnabled=true",
		"--set", "fuse.args={--fuse-opts=attr_timeout=60}")
	_, fc := checkFusePods(t, r, "/mnt/alluxio-fuse", "/")
	if !slices.Equal(fc.Args, []string{"fuse", "--fuse-opts=attr_timeout=60", "/mnt/alluxio-fuse", "/"}) {
		t.Errorf("FUSE args %v", fc.Args)
	}
	checkRenderedConf(t, r, k8sPodEnv(fc, nil))
	checkFuseClient(t, r, "/mnt/alluxio-fuse")
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
	wantProps(t, r, map[string]string{
		"alluxio.master.mount.table.root.ufs":                   "s3://bucket/alluxio/",
		"alluxio.user.block.size.bytes.default":                 "1073741824",
		"alluxio.fuse.debug.enabled":                            "true",
		"alluxio.worker.tieredstore.level0.watermark.low.ratio": "0.5",
		"alluxio.master.rpc.port":                               "19990",
	})
	g := r.pods(t)
	env := g.masterEnv()
	for k, v := range map[string]string{
		"alluxio.user.file.writetype.default":   "THROUGH",
		"alluxio.master.ttl.checker.interval":   "5min",
		"alluxio.user.block.size.bytes.default": "1073741824",
	} {
		if got := loadRenderedConf(t, r, env, "getConf", k); got != v {
			t.Errorf("master loads %s=%s, want %s", k, got, v)
		}
	}
	wantSecret(t, &g.master.Spec.Template.Spec, g.mc, "alluxio-hdfs-config", "hdfsConfig")
}

// wantSecret checks that c mounts the Secret name read-only at /secrets/dir.
func wantSecret(t *testing.T, spec *corev1.PodSpec, c *corev1.Container, name, dir string) {
	t.Helper()
	m, v, _ := k8sMountAt(spec, c, "/secrets/"+dir)
	if m == nil || v == nil || v.Secret == nil || v.Secret.SecretName != name || !m.ReadOnly {
		t.Errorf("%s: /secrets/%s: mount %+v of volume %+v, want Secret %s read-only", c.Name, dir, m, v, name)
	}
}

// helmGuideValues are the values files of packaging/helm/alluxio/ci, one
// per example of Alluxio's Kubernetes guide, each with what it must mean
// in the rendered objects besides rendering and validating.
var helmGuideValues = []struct {
	file    string
	masters int32
	check   func(t *testing.T, r helmRender, g helmPods)
	// unknown are keys the guide sets that alluxio-go does not know, and
	// warns about when it loads them.
	unknown []string
}{
	{"s3-root-mount-values.yaml", 1, func(t *testing.T, r helmRender, g helmPods) {
		wantProps(t, r, map[string]string{
			"alluxio.master.mount.table.root.ufs":                    "s3a://example-bucket/alluxio",
			"alluxio.master.mount.table.root.option.s3a.accessKeyId": "EXAMPLE-ACCESS-KEY-ID",
			"alluxio.master.mount.table.root.option.s3a.secretKey":   "example-secret-key-value",
		})
		if got := loadRenderedConf(t, r, g.masterEnv(), "getConf", "alluxio.master.mount.table.root.ufs"); got != "s3a://example-bucket/alluxio" {
			t.Errorf("master loads the root UFS %q", got)
		}
	}, nil},
	{"single-master-pv-journal-values.yaml", 1, func(t *testing.T, r helmRender, g helmPods) {
		wantProps(t, r, map[string]string{"alluxio.master.journal.type": "UFS", "alluxio.master.journal.folder": "/journal"})
		c := g.claimTemplate("alluxio-journal")
		if c == nil {
			t.Fatalf("no journal claim template among %+v", g.master.Spec.VolumeClaimTemplates)
		}
		wantClaim(t, "journal", &c.Spec, "1Gi", "standard", corev1.ReadWriteOnce)
		if v := wantMount(t, &g.master.Spec.Template.Spec, g.mc, "/journal", "alluxio-journal"); v != nil {
			t.Errorf("the journal is volume %+v, not the claim template", v)
		}
		if _, ok := k8sLookup[*corev1.PersistentVolumeClaim](r, "alluxio-journal"); ok {
			t.Error("a single master's journal claim is a shared PersistentVolumeClaim")
		}
	}, nil},
	{"single-master-emptydir-journal-values.yaml", 1, func(t *testing.T, r helmRender, g helmPods) {
		wantProps(t, r, map[string]string{"alluxio.master.journal.type": "UFS", "alluxio.master.journal.folder": "/journal"})
		if n := len(g.master.Spec.VolumeClaimTemplates); n != 0 {
			t.Errorf("%d claim templates for an emptyDir journal", n)
		}
		v := wantMount(t, &g.master.Spec.Template.Spec, g.mc, "/journal", "alluxio-journal")
		if v == nil || v.EmptyDir == nil || v.EmptyDir.Medium != corev1.StorageMediumDefault ||
			v.EmptyDir.SizeLimit == nil || v.EmptyDir.SizeLimit.String() != "1Gi" {
			t.Errorf("journal volume %+v, want a 1Gi emptyDir on the node's disk", v)
		}
	}, nil},
	{"hdfs-journal-values.yaml", 1, func(t *testing.T, r helmRender, g helmPods) {
		const conf = "alluxio.master.journal.ufs.option.alluxio.underfs.hdfs.configuration"
		wantProps(t, r, map[string]string{
			"alluxio.master.journal.type":         "UFS",
			"alluxio.master.journal.folder":       "hdfs://namenode:8020/alluxio/journal",
			"alluxio.master.mount.table.root.ufs": "hdfs://namenode:8020/alluxio",
		})
		spec := &g.master.Spec.Template.Spec
		if len(g.master.Spec.VolumeClaimTemplates) != 0 || k8sVolumeNamed(spec, "alluxio-journal") != nil {
			t.Error("an HDFS journal has a journal volume")
		}
		wantSecret(t, spec, g.mc, "alluxio-hdfs-config", "hdfsConfig")
		wantSecret(t, &g.worker.Spec.Template.Spec, g.wc, "alluxio-hdfs-config", "hdfsConfig")
		// The Hadoop files the journal option names are in the Secret's directory.
		for _, f := range strings.Split(r.properties(t)[conf], ":") {
			if path.Dir(f) != "/secrets/hdfsConfig" {
				t.Errorf("%s names %s, outside the mounted Secret", conf, f)
			}
		}
	}, []string{
		// Options of the UFS journal's under-store: alluxio-go keeps a
		// Raft journal whatever journal.type says, and has no such family.
		"alluxio.master.journal.ufs.option.alluxio.underfs.hdfs.configuration",
	}},
	{"multi-master-embedded-journal-values.yaml", 3, func(t *testing.T, r helmRender, g helmPods) {
		if g.master.Spec.PodManagementPolicy != appsv1.ParallelPodManagement {
			t.Errorf("masters start %q, want in parallel", g.master.Spec.PodManagementPolicy)
		}
		wantProps(t, r, map[string]string{"alluxio.master.journal.type": "EMBEDDED", "alluxio.master.journal.folder": "/journal"})
		props := r.properties(t)
		var peers, rpcs []string
		for i := range 3 {
			host := fmt.Sprintf("alluxio-master-%d.alluxio-master.default.svc.cluster.local", i)
			peers, rpcs = append(peers, host+":19200"), append(rpcs, host+":19998")
		}
		if got := props["alluxio.master.embedded.journal.addresses"]; got != strings.Join(peers, ",") {
			t.Errorf("journal addresses %s", got)
		}
		if got := props["alluxio.master.rpc.addresses"]; got != strings.Join(rpcs, ",") {
			t.Errorf("rpc addresses %s", got)
		}
		c := g.claimTemplate("alluxio-journal")
		if c == nil {
			t.Fatalf("no journal claim template among %+v", g.master.Spec.VolumeClaimTemplates)
		}
		wantClaim(t, "journal", &c.Spec, "1Gi", "standard", corev1.ReadWriteOnce)
		wantMount(t, &g.master.Spec.Template.Spec, g.mc, "/journal", "alluxio-journal")
		if _, ok := k8sLookup[*corev1.PersistentVolumeClaim](r, "alluxio-journal"); ok {
			t.Error("embedded-journal masters share a claim")
		}
	}, nil},
	{"rocks-metastore-pvc-values.yaml", 1, func(t *testing.T, r helmRender, g helmPods) {
		wantProps(t, r, map[string]string{"alluxio.master.metastore": "ROCKS", "alluxio.master.metastore.dir": "/metastore"})
		c := g.claimTemplate("alluxio-metastore")
		if c == nil {
			t.Fatalf("no metastore claim template among %+v", g.master.Spec.VolumeClaimTemplates)
		}
		wantClaim(t, "metastore", &c.Spec, "1Gi", "standard", corev1.ReadWriteOnce)
		wantMount(t, &g.master.Spec.Template.Spec, g.mc, "/metastore", "alluxio-metastore")
		wantMount(t, &g.master.Spec.Template.Spec, g.mc, "/journal", "alluxio-journal")
		if got := loadRenderedConf(t, r, g.masterEnv(), "getConf", "alluxio.master.metastore.dir"); got != "/metastore" {
			t.Errorf("master loads alluxio.master.metastore.dir=%s", got)
		}
	}, nil},
	{"tieredstore-mem-values.yaml", 1, func(t *testing.T, r helmRender, g helmPods) {
		wantProps(t, r, map[string]string{
			"alluxio.worker.tieredstore.levels":                      "1",
			"alluxio.worker.tieredstore.level0.alias":                "MEM",
			"alluxio.worker.tieredstore.level0.dirs.path":            "/dev/shm",
			"alluxio.worker.tieredstore.level0.dirs.mediumtype":      "MEM",
			"alluxio.worker.tieredstore.level0.dirs.quota":           "1GB",
			"alluxio.worker.tieredstore.level0.watermark.high.ratio": "0.95",
			"alluxio.worker.tieredstore.level0.watermark.low.ratio":  "0.7",
		})
		spec := &g.worker.Spec.Template.Spec
		v := wantMount(t, spec, g.wc, "/dev/shm", "tier-0-0")
		if v == nil || v.EmptyDir == nil || v.EmptyDir.Medium != corev1.StorageMediumMemory || v.EmptyDir.SizeLimit == nil || v.EmptyDir.SizeLimit.String() != "1Gi" {
			t.Errorf("MEM tier volume %+v, want a 1Gi memory-backed emptyDir", v)
		}
		if prep := k8sContainerNamed(spec.InitContainers, "prepare-dirs"); prep != nil && slices.Contains(prep.Command, "/dev/shm") {
			t.Errorf("prepare-dirs changes the owner of the memory emptyDir: %v", prep.Command)
		}
	}, nil},
	{"tieredstore-mem-ssd-values.yaml", 1, func(t *testing.T, r helmRender, g helmPods) {
		wantProps(t, r, map[string]string{
			"alluxio.worker.tieredstore.levels":                 "2",
			"alluxio.worker.tieredstore.level0.alias":           "MEM",
			"alluxio.worker.tieredstore.level0.dirs.path":       "/dev/shm",
			"alluxio.worker.tieredstore.level0.dirs.mediumtype": "MEM",
			"alluxio.worker.tieredstore.level0.dirs.quota":      "1GB",
			"alluxio.worker.tieredstore.level1.alias":           "SSD",
			"alluxio.worker.tieredstore.level1.dirs.path":       "/ssd-disk",
			"alluxio.worker.tieredstore.level1.dirs.mediumtype": "SSD",
			"alluxio.worker.tieredstore.level1.dirs.quota":      "10GB",
		})
		spec := &g.worker.Spec.Template.Spec
		for name, dir := range map[string]string{"tier-0-0": "/dev/shm", "tier-1-0": "/ssd-disk"} {
			v := wantMount(t, spec, g.wc, dir, name)
			if host, typ := k8sHostPath(v); host != dir || typ != corev1.HostPathDirectoryOrCreate {
				t.Errorf("tier directory %s: volume %+v, want the node's %s", dir, v, dir)
			}
		}
		if prep := k8sContainerNamed(spec.InitContainers, "prepare-dirs"); prep == nil || !slices.Contains(prep.Command, "/ssd-disk") {
			t.Errorf("prepare-dirs %+v does not hand /ssd-disk to the worker's user", prep)
		}
	}, nil},
	{"tieredstore-one-level-two-media-values.yaml", 1, func(t *testing.T, r helmRender, g helmPods) {
		wantProps(t, r, map[string]string{
			"alluxio.worker.tieredstore.levels":                 "1",
			"alluxio.worker.tieredstore.level0.alias":           "MEM",
			"alluxio.worker.tieredstore.level0.dirs.path":       "/dev/shm,/alluxio-ssd",
			"alluxio.worker.tieredstore.level0.dirs.mediumtype": "MEM,SSD",
			"alluxio.worker.tieredstore.level0.dirs.quota":      "1GB,10GB",
		})
		spec := &g.worker.Spec.Template.Spec
		for name, dir := range map[string]string{"alluxio-mem": "/dev/shm", "alluxio-ssd": "/alluxio-ssd"} {
			if v := wantMount(t, spec, g.wc, dir, name); v == nil || v.PersistentVolumeClaim == nil || v.PersistentVolumeClaim.ClaimName != name {
				t.Errorf("tier directory %s: volume %+v, want claim %s", dir, v, name)
			}
		}
	}, nil},
	{"fuse-values.yaml", 1, func(t *testing.T, r helmRender, g helmPods) {
		_, fc := checkFusePods(t, r, "/mnt/alluxio-fuse", "/")
		wantProps(t, r, map[string]string{"alluxio.fuse.mount.options": "allow_other"})
		checkRenderedConf(t, r, k8sPodEnv(fc, nil))
		if got := loadRenderedConf(t, r, k8sPodEnv(fc, nil), "getConf", "alluxio.fuse.mount.options"); got != "allow_other" {
			t.Errorf("the FUSE daemon loads mount options %q", got)
		}
		checkFuseClient(t, r, "/mnt/alluxio-fuse")
	}, nil},
	{"short-circuit-uuid-pvc-values.yaml", 1, func(t *testing.T, r helmRender, g helmPods) {
		wantProps(t, r, map[string]string{"alluxio.worker.data.server.domain.socket.address": "/opt/domain/worker.sock"})
		claim := k8sGet[*corev1.PersistentVolumeClaim](t, r, "alluxio-worker-domain-socket")
		wantClaim(t, "domain socket", &claim.Spec, "1Mi", "standard", corev1.ReadWriteOnce)
		spec := &g.worker.Spec.Template.Spec
		if v := wantMount(t, spec, g.wc, "/opt/domain", "alluxio-domain"); v == nil || v.PersistentVolumeClaim == nil ||
			v.PersistentVolumeClaim.ClaimName != "alluxio-worker-domain-socket" {
			t.Errorf("domain socket volume %+v, want the claim", v)
		}
		if prep := k8sContainerNamed(spec.InitContainers, "prepare-dirs"); prep != nil {
			t.Errorf("prepare-dirs %v with no hostPath directory", prep.Command)
		}
	}, nil},
	{"short-circuit-uuid-hostpath-values.yaml", 1, func(t *testing.T, r helmRender, g helmPods) {
		wantProps(t, r, map[string]string{"alluxio.worker.data.server.domain.socket.address": "/opt/domain/worker.sock"})
		for _, o := range r.objs {
			if o.kind == "PersistentVolumeClaim" {
				t.Errorf("%s rendered for a hostPath socket directory", o)
			}
		}
		spec := &g.worker.Spec.Template.Spec
		v := wantMount(t, spec, g.wc, "/opt/domain", "alluxio-domain")
		if host, typ := k8sHostPath(v); host != "/tmp/alluxio-domain" || typ != corev1.HostPathDirectoryOrCreate {
			t.Errorf("domain socket volume %+v, want the node's /tmp/alluxio-domain", v)
		}
		prep := k8sContainerNamed(spec.InitContainers, "prepare-dirs")
		if prep == nil || !slices.Contains(prep.Command, "/opt/domain") {
			t.Errorf("prepare-dirs %+v does not hand the socket directory to the worker's user", prep)
		} else {
			wantMount(t, spec, prep, "/opt/domain", "alluxio-domain")
		}
	}, nil},
}

// TestHelmGuideValues lints and renders the chart with each values file
// of packaging/helm/alluxio/ci (the examples of Alluxio's Kubernetes
// guide), validates every object, checks what the file means, and loads
// the rendered configuration as the masters and workers would.
func TestHelmGuideValues(t *testing.T) {
	helmBinary(t)
	dir := filepath.Join(packagingRepo(t), helmChartDir, "ci")
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no values files in %s: %v", dir, err)
	}
	known := map[string]bool{}
	for _, tc := range helmGuideValues {
		known[tc.file] = true
	}
	for _, f := range files {
		if !known[filepath.Base(f)] {
			t.Errorf("%s is not checked by TestHelmGuideValues", f)
		}
	}
	for _, tc := range helmGuideValues {
		t.Run(strings.TrimSuffix(tc.file, "-values.yaml"), func(t *testing.T) {
			t.Parallel()
			values := filepath.Join(helmChartDir, "ci", tc.file)
			if out, err := runHelm(t, "lint", "--strict", helmChartDir, "-f", values); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			r := renderChart(t, "-f", values)
			g := r.pods(t)
			if got := *g.master.Spec.Replicas; got != tc.masters {
				t.Errorf("%d masters, want %d", got, tc.masters)
			}
			tc.check(t, r, g)
			checkRenderedConf(t, r, g.masterEnv(), tc.unknown...)
			checkRenderedConf(t, r, g.workerEnv(), tc.unknown...)
		})
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
	layouts := map[string]int32{"singleMaster-localJournal": 1, "singleMaster-hdfsJournal": 1, "multiMaster-embeddedJournal": 3}
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
			if got := *k8sGet[*appsv1.StatefulSet](t, r, "alluxio-master").Spec.Replicas; got != masters {
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
		var spec corev1.PodSpec
		if name == "alluxio-master" {
			spec = k8sGet[*appsv1.StatefulSet](t, r, name).Spec.Template.Spec
		} else {
			spec = k8sGet[*appsv1.DaemonSet](t, r, name).Spec.Template.Spec
		}
		wantSelector := map[string]string{"pool": "data"}
		if name == "alluxio-worker" {
			wantSelector = map[string]string{"disk": "ssd"}
		}
		if !spec.HostNetwork || spec.DNSPolicy != corev1.DNSClusterFirstWithHostNet || len(spec.ImagePullSecrets) != 1 ||
			len(spec.Tolerations) != 1 || fmt.Sprint(spec.NodeSelector) != fmt.Sprint(wantSelector) {
			t.Errorf("%s: hostNetwork %v, dnsPolicy %s, pull secrets %v, tolerations %v, nodeSelector %v",
				name, spec.HostNetwork, spec.DNSPolicy, spec.ImagePullSecrets, spec.Tolerations, spec.NodeSelector)
		}
	}
}
