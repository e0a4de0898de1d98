package deploy_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/keytab"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"
)

const manifestFile = "deploy/kubernetes/authsvc.yaml"

type manifests struct {
	cm  corev1.ConfigMap
	sec corev1.Secret
	dep appsv1.Deployment
	svc corev1.Service
	pdb policyv1.PodDisruptionBudget
}

// loadManifests decodes every document of the file strictly into the
// Kubernetes API type its apiVersion/kind names: an unknown or misspelt
// field, a wrong type or an unexpected kind fails. (kubeconform needs JSON
// schemas it downloads from GitHub, which CI cannot reach; the Go types of
// k8s.io/api are the same API, from the Go module proxy.)
func loadManifests(t *testing.T) *manifests {
	t.Helper()
	m := &manifests{}
	seen := map[string]bool{}
	for i, doc := range bytes.Split(readRepoFile(t, manifestFile), []byte("\n---\n")) {
		var meta struct{ APIVersion, Kind string }
		if err := yaml.Unmarshal(doc, &meta); err != nil {
			t.Fatalf("document %d: %v", i, err)
		}
		var into any
		switch meta.APIVersion + " " + meta.Kind {
		case "v1 ConfigMap":
			into = &m.cm
		case "v1 Secret":
			into = &m.sec
		case "apps/v1 Deployment":
			into = &m.dep
		case "v1 Service":
			into = &m.svc
		case "policy/v1 PodDisruptionBudget":
			into = &m.pdb
		default:
			t.Fatalf("document %d: unexpected %s %s", i, meta.APIVersion, meta.Kind)
		}
		if err := yaml.UnmarshalStrict(doc, into); err != nil {
			t.Errorf("document %d (%s): %v", i, meta.Kind, err)
		}
		seen[meta.Kind] = true
	}
	for _, k := range []string{"ConfigMap", "Secret", "Deployment", "Service", "PodDisruptionBudget"} {
		if !seen[k] {
			t.Errorf("%s has no %s", manifestFile, k)
		}
	}
	return m
}

func TestKubernetesManifestsDecodeStrictly(t *testing.T) {
	m := loadManifests(t)
	spec := m.dep.Spec.Template.Spec
	if len(spec.Containers) != 1 {
		t.Fatalf("want one container, got %d", len(spec.Containers))
	}
	labels := m.dep.Spec.Template.Labels
	for name, sel := range map[string]map[string]string{
		"Deployment selector": m.dep.Spec.Selector.MatchLabels,
		"Service selector":    m.svc.Spec.Selector,
		"PDB selector":        m.pdb.Spec.Selector.MatchLabels,
	} {
		if len(sel) == 0 {
			t.Errorf("%s is empty", name)
		}
		for k, v := range sel {
			if labels[k] != v {
				t.Errorf("%s %s=%s does not match the pod labels %v", name, k, v, labels)
			}
		}
	}
	if m.pdb.Spec.MinAvailable == nil || m.dep.Spec.Replicas == nil || m.pdb.Spec.MinAvailable.IntValue() >= int(*m.dep.Spec.Replicas) {
		t.Errorf("PDB minAvailable %v must be below replicas %v, or no node could ever drain", m.pdb.Spec.MinAvailable, m.dep.Spec.Replicas)
	}
}

func TestKubernetesProbesAndShutdown(t *testing.T) {
	m := loadManifests(t)
	spec := m.dep.Spec.Template.Spec
	c := spec.Containers[0]
	port := intstr.FromString("http")
	if len(c.Ports) != 1 || c.Ports[0].Name != "http" || c.Ports[0].ContainerPort != 8080 {
		t.Fatalf("container ports %v: want one named http on 8080 (the config's listen)", c.Ports)
	}
	for name, p := range map[string]struct {
		probe *corev1.Probe
		path  string
	}{"readiness": {c.ReadinessProbe, "/readyz"}, "liveness": {c.LivenessProbe, "/healthz"}} {
		if p.probe == nil || p.probe.HTTPGet == nil || p.probe.HTTPGet.Path != p.path || p.probe.HTTPGet.Port != port {
			t.Errorf("%s probe %+v: want GET %s on port http", name, p.probe, p.path)
		}
	}
	if c.Lifecycle == nil || c.Lifecycle.PreStop == nil || c.Lifecycle.PreStop.Sleep == nil {
		t.Fatal("no preStop sleep")
	}
	preStop := c.Lifecycle.PreStop.Sleep.Seconds
	// The grace period must cover preStop, a 10s shutdown_delay and a 30s request.
	if g := spec.TerminationGracePeriodSeconds; g == nil || *g < preStop+10+30 {
		t.Errorf("terminationGracePeriodSeconds %v < preStop %d + shutdown_delay 10 + 30", g, preStop)
	}
}

func TestKubernetesSecurityContext(t *testing.T) {
	m := loadManifests(t)
	spec := m.dep.Spec.Template.Spec
	c := spec.Containers[0]
	sc := c.SecurityContext
	if sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.Capabilities == nil || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" || len(sc.Capabilities.Add) != 0 ||
		sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("container securityContext %+v: want runAsNonRoot, readOnlyRootFilesystem, no privilege escalation, drop ALL, seccomp RuntimeDefault", sc)
	}
	if ps := spec.SecurityContext; ps == nil || ps.RunAsUser == nil || *ps.RunAsUser == 0 {
		t.Errorf("pod securityContext %+v: want a non-zero runAsUser", ps)
	}
	if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
		t.Error("automountServiceAccountToken must be false: authsvc does not talk to the API server")
	}
}

// TestKubernetesConfigChecks runs authsvc check-config on the ConfigMap's
// configuration, with its mount paths pointed at a temp dir holding the
// ConfigMap's other files and a real keytab where the Secret is mounted.
func TestKubernetesConfigChecks(t *testing.T) {
	m := loadManifests(t)
	c := m.dep.Spec.Template.Spec.Containers[0]
	mounts := map[string]string{}
	for _, vm := range c.VolumeMounts {
		mounts[vm.Name] = vm.MountPath
	}
	var secretName string
	for _, v := range m.dep.Spec.Template.Spec.Volumes {
		if v.Secret != nil {
			secretName = v.Secret.SecretName
			if mounts[v.Name] == "" {
				t.Errorf("secret volume %s is not mounted", v.Name)
			}
		}
	}
	if secretName != m.sec.Name {
		t.Errorf("the Deployment mounts secret %q, the file defines %q", secretName, m.sec.Name)
	}
	cfg := m.cm.Data["authsvc.yaml"]
	// The grace period above counts on this shutdown_delay.
	if !strings.Contains(cfg, "\nshutdown_delay: 10s ") {
		t.Errorf("the config's shutdown_delay is not the 10s the grace period counts on:\n%s", cfg)
	}
	keytabPath := mounts["keytab"] + "/service.keytab"
	if !strings.Contains(cfg, "keytab: "+keytabPath) {
		t.Fatalf("the config does not name the Secret's keytab %s:\n%s", keytabPath, cfg)
	}
	dir := t.TempDir()
	for name, data := range m.cm.Data {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// A keytab for the principal the config names, as the operator exports it.
	kt := keytab.New()
	if err := kt.AddEntry("HTTP/authsvc.example.com", "EXAMPLE.COM", "pw", time.Now(), 2, 18); err != nil {
		t.Fatal(err)
	}
	ktb, err := kt.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "service.keytab"), ktb, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg = strings.ReplaceAll(cfg, mounts["config"]+"/", dir+"/")
	cfg = strings.ReplaceAll(cfg, keytabPath, filepath.Join(dir, "service.keytab"))
	p := filepath.Join(dir, "authsvc.yaml")
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, code := runAuthsvc(t, "check-config", "-config", p); code != 0 {
		t.Fatalf("check-config of the ConfigMap's authsvc.yaml exited %d:\n%s", code, out)
	}
}
