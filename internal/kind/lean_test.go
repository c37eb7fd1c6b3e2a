package kind

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"sigs.k8s.io/yaml"

	"github.com/fluidos-lab/testbed/topology"
)

// kindV1beta4 is the part of kind v0.33's kubeadm config (ConfigTemplateBetaV4)
// the lean patches touch, rendered as kind renders it for a Config cluster:
// IPv4, no feature gates (so the scheduler's argument list is null).
var kindV1beta4 = map[string]string{
	"ClusterConfiguration": `apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
apiServer:
  extraArgs:
    - name: "runtime-config"
      value: ""
controllerManager:
  extraArgs:
    - name: "enable-hostpath-provisioner"
      value: "true"
scheduler:
  extraArgs:
networking:
  podSubnet: "10.244.0.0/16"
`,
	"InitConfiguration": `apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
nodeRegistration:
  kubeletExtraArgs:
    - name: "node-ip"
      value: "172.30.0.2"
`,
	"JoinConfiguration": `apiVersion: kubeadm.k8s.io/v1beta4
kind: JoinConfiguration
nodeRegistration:
  kubeletExtraArgs:
    - name: "node-ip"
      value: "172.30.0.3"
`,
	"KubeletConfiguration": `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupRoot: /kubelet
`,
	"KubeProxyConfiguration": `apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
iptables:
  minSyncPeriod: 1s
`,
}

// patchLikeKind applies the config's patches to doc the way kind's
// internal/patch does: merge patches whose apiVersion and kind match, then
// RFC 6902 patches whose group, version and kind match.
func patchLikeKind(t *testing.T, doc string, merge []string, p6902 []struct{ gvk, patch string }) map[string]any {
	t.Helper()
	js, err := yaml.YAMLToJSON([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	var meta struct{ APIVersion, Kind string }
	if err := json.Unmarshal(js, &meta); err != nil {
		t.Fatal(err)
	}
	for _, m := range merge {
		pj, err := yaml.YAMLToJSON([]byte(m))
		if err != nil {
			t.Fatalf("merge patch does not parse: %v\n%s", err, m)
		}
		var pm struct{ APIVersion, Kind string }
		if err := json.Unmarshal(pj, &pm); err != nil || pm.APIVersion == "" {
			t.Fatalf("merge patch without apiVersion (kind would apply it to every document): %s", m)
		}
		if pm != meta {
			continue
		}
		if js, err = jsonpatch.MergePatch(js, pj); err != nil {
			t.Fatalf("merge patch on %s: %v", meta.Kind, err)
		}
	}
	for _, p := range p6902 {
		if p.gvk != meta.APIVersion+"/"+meta.Kind {
			continue
		}
		pj, err := yaml.YAMLToJSON([]byte(p.patch))
		if err != nil {
			t.Fatal(err)
		}
		ops, err := jsonpatch.DecodePatch(pj)
		if err != nil {
			t.Fatalf("decoding %s patch: %v", p.gvk, err)
		}
		if js, err = ops.Apply(js); err != nil {
			t.Fatalf("applying %s patch: %v", p.gvk, err)
		}
	}
	var out map[string]any
	if err := json.Unmarshal(js, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// args returns a v1beta4 argument list (or a v1beta3 map) as a map.
func args(v any) map[string]string {
	out := map[string]string{}
	switch a := v.(type) {
	case []any:
		for _, e := range a {
			m := e.(map[string]any)
			out[m["name"].(string)] = m["value"].(string)
		}
	case map[string]any:
		for k, e := range a {
			out[k] = e.(string)
		}
	}
	return out
}

func dig(m map[string]any, path ...string) any {
	var v any = m
	for _, p := range path {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[p]
	}
	return v
}

func TestLeanPatchesOnKindsTemplate(t *testing.T) {
	cp := topology.ClusterPlan{Name: "c1", Profile: topology.ProfileLean}
	cfg := Config(cp)
	var p6902 []struct{ gvk, patch string }
	for _, p := range cfg.KubeadmConfigPatchesJSON6902 {
		p6902 = append(p6902, struct{ gvk, patch string }{p.Group + "/" + p.Version + "/" + p.Kind, p.Patch})
	}
	docs := map[string]map[string]any{}
	for kind, doc := range kindV1beta4 {
		docs[kind] = patchLikeKind(t, doc, cfg.KubeadmConfigPatches, p6902)
	}
	cc := docs["ClusterConfiguration"]
	tests := []struct {
		name string
		got  map[string]string
		want map[string]string
	}{
		{"controller manager", args(dig(cc, "controllerManager", "extraArgs")),
			map[string]string{"enable-hostpath-provisioner": "true", "leader-elect": "false", "controllers": leanDisabledControls}},
		{"scheduler", args(dig(cc, "scheduler", "extraArgs")), map[string]string{"leader-elect": "false"}},
		{"etcd", args(dig(cc, "etcd", "local", "extraArgs")), map[string]string{"watch-progress-notify-interval": leanEtcdProgressNotify}},
		{"api server", args(dig(cc, "apiServer", "extraArgs")), map[string]string{"runtime-config": "", "enable-priority-and-fairness": "false", "watch-cache": "false"}},
		{"init kubelet", args(dig(docs["InitConfiguration"], "nodeRegistration", "kubeletExtraArgs")),
			map[string]string{"node-ip": "172.30.0.2", "housekeeping-interval": leanHousekeeping}},
		{"join kubelet", args(dig(docs["JoinConfiguration"], "nodeRegistration", "kubeletExtraArgs")),
			map[string]string{"node-ip": "172.30.0.3", "housekeeping-interval": leanHousekeeping}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if len(tt.got) != len(tt.want) {
				t.Errorf("args %v, want %v", tt.got, tt.want)
			}
			for k, v := range tt.want {
				if tt.got[k] != v {
					t.Errorf("%s = %q, want %q (all: %v)", k, tt.got[k], v, tt.got)
				}
			}
		})
	}
	kl := docs["KubeletConfiguration"]
	if _, set := kl["nodeStatusUpdateFrequency"]; set || kl["syncFrequency"] != "2m" || kl["cgroupRoot"] != "/kubelet" {
		t.Errorf("kubelet configuration %v", kl)
	}
	kp := docs["KubeProxyConfiguration"]
	if dig(kp, "iptables", "syncPeriod") != "5m" || dig(kp, "iptables", "minSyncPeriod") != "1s" || kp["mode"] != "iptables" {
		t.Errorf("kube-proxy configuration %v", kp)
	}
}

func TestLeanPatchesOnV1beta3(t *testing.T) {
	cfg := Config(topology.ClusterPlan{Name: "c1", Profile: topology.ProfileLean})
	doc := strings.NewReplacer("v1beta4", "v1beta3").Replace(`apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
controllerManager:
  extraArgs:
    enable-hostpath-provisioner: "true"
`)
	cc := patchLikeKind(t, doc, cfg.KubeadmConfigPatches, nil)
	got := args(dig(cc, "controllerManager", "extraArgs"))
	if got["enable-hostpath-provisioner"] != "true" || got["leader-elect"] != "false" {
		t.Errorf("v1beta3 controller manager args %v", got)
	}
	if args(dig(cc, "scheduler", "extraArgs"))["leader-elect"] != "false" {
		t.Errorf("v1beta3 scheduler %v", cc["scheduler"])
	}
	if a := args(dig(cc, "apiServer", "extraArgs")); a["enable-priority-and-fairness"] != "false" || a["watch-cache"] != "false" {
		t.Errorf("v1beta3 API server %v", cc["apiServer"])
	}
	if args(dig(cc, "etcd", "local", "extraArgs"))["watch-progress-notify-interval"] != leanEtcdProgressNotify {
		t.Errorf("v1beta3 etcd %v", cc["etcd"])
	}
}

func TestStockHasNoPatches(t *testing.T) {
	for _, p := range []string{"", topology.ProfileStock} {
		cfg := Config(topology.ClusterPlan{Name: "c1", Profile: p})
		if len(cfg.KubeadmConfigPatches)+len(cfg.KubeadmConfigPatchesJSON6902) != 0 {
			t.Errorf("profile %q: patches %v %v", p, cfg.KubeadmConfigPatches, cfg.KubeadmConfigPatchesJSON6902)
		}
	}
}

// A lean cluster whose node image carries LeanFiles gets kubeadm's
// patches directory in its init and join configuration, in both config
// versions kind writes; without them, or stock, the key is absent.
func TestLeanPatchesDirectory(t *testing.T) {
	v1beta3 := map[string]string{}
	for k, doc := range kindV1beta4 {
		v1beta3[k] = strings.ReplaceAll(doc, "kubeadm.k8s.io/v1beta4", "kubeadm.k8s.io/v1beta3")
	}
	for _, tc := range []struct {
		name, profile, dir, want string
	}{
		{"lean with files", topology.ProfileLean, LeanPatchDir, LeanPatchDir},
		{"lean without files", topology.ProfileLean, "", ""},
		{"stock ignores a directory", topology.ProfileStock, LeanPatchDir, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config(topology.ClusterPlan{Name: "c1", Profile: tc.profile, KubeadmPatches: tc.dir})
			var p6902 []struct{ gvk, patch string }
			for _, p := range cfg.KubeadmConfigPatchesJSON6902 {
				p6902 = append(p6902, struct{ gvk, patch string }{p.Group + "/" + p.Version + "/" + p.Kind, p.Patch})
			}
			for version, docs := range map[string]map[string]string{"v1beta4": kindV1beta4, "v1beta3": v1beta3} {
				for _, kind := range []string{"InitConfiguration", "JoinConfiguration"} {
					doc := patchLikeKind(t, docs[kind], cfg.KubeadmConfigPatches, p6902)
					got, _ := dig(doc, "patches", "directory").(string)
					if got != tc.want {
						t.Errorf("%s %s: patches.directory %q, want %q", version, kind, got, tc.want)
					}
					if dig(doc, "nodeRegistration") == nil {
						t.Errorf("%s %s lost its nodeRegistration: %v", version, kind, doc)
					}
				}
			}
		})
	}
}

// LeanFiles are kubeadm strategic-merge patches, one per static pod, each
// naming the container kubeadm's manifest gives that pod. Applied as
// kubeadm applies them (strategic merge into the Pod) to a manifest shaped
// like kubeadm's, they set GOGC and GOMAXPROCS in every one, and the
// readiness probe period of every one but the controller manager (which
// kubeadm gives no readiness probe) and every liveness probe's, keeping
// the rest of those probes.
func TestLeanFiles(t *testing.T) {
	files := LeanFiles()
	if len(files) != len(leanStaticPods)+2 {
		t.Fatalf("%d files, want one per static pod and two drop-ins", len(files))
	}
	// The drop-ins are systemd units' [Service] sections that set the
	// variables systemd passes to the daemon: GOMAXPROCS in both, GOGC in
	// containerd only (its shims inherit it; the kubelet paid CPU for it).
	for _, d := range []struct {
		unit string
		gogc bool
	}{{"kubelet", false}, {"containerd", true}} {
		got := files["/etc/systemd/system/"+d.unit+".service.d/20-testbed-lean.conf"]
		if !strings.HasPrefix(got, "[Service]\n") || !regexp.MustCompile(`(?m)^Environment=GOMAXPROCS=1$`).MatchString(got) {
			t.Errorf("%s drop-in %q", d.unit, got)
		}
		if has := regexp.MustCompile(`(?m)^Environment=GOGC=25$`).MatchString(got); has != d.gogc {
			t.Errorf("%s drop-in %q: GOGC=25 %v, want %v", d.unit, got, has, d.gogc)
		}
	}
	for _, c := range leanStaticPods {
		path := LeanPatchDir + "/" + c + "+strategic.yaml"
		probe := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Host: "172.18.0.2", Path: "/readyz", Scheme: corev1.URISchemeHTTPS}},
			PeriodSeconds: 1, TimeoutSeconds: 15, FailureThreshold: 3}
		manifest := corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: c, Command: []string{c}, Env: []corev1.EnvVar{{Name: "KEPT", Value: "1"}}, ReadinessProbe: probe,
			LivenessProbe: &corev1.Probe{PeriodSeconds: 10, FailureThreshold: 8}}}}}
		orig, err := json.Marshal(manifest)
		if err != nil {
			t.Fatal(err)
		}
		patch, err := yaml.YAMLToJSON([]byte(files[path]))
		if err != nil {
			t.Fatalf("%s: %v\n%s", path, err, files[path])
		}
		merged, err := strategicpatch.StrategicMergePatch(orig, patch, corev1.Pod{})
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		var got corev1.Pod
		if err := json.Unmarshal(merged, &got); err != nil {
			t.Fatal(err)
		}
		if len(got.Spec.Containers) != 1 {
			t.Fatalf("%s: the patch added a container: %+v", path, got.Spec.Containers)
		}
		ct := got.Spec.Containers[0]
		env := map[string]string{}
		for _, e := range ct.Env {
			env[e.Name] = e.Value
		}
		if env["GOGC"] != leanGOGC || env["GOMAXPROCS"] != "1" || env["KEPT"] != "1" || len(env) != 3 {
			t.Errorf("%s: env %v, want GOGC=%s, GOMAXPROCS=1 and the manifest's own", path, env, leanGOGC)
		}
		wantPeriod := int32(1)
		if c != "kube-controller-manager" {
			wantPeriod = leanReadinessPeriod
		}
		rp := ct.ReadinessProbe
		if rp == nil || rp.PeriodSeconds != wantPeriod || rp.TimeoutSeconds != 15 || rp.FailureThreshold != 3 || rp.HTTPGet == nil || rp.HTTPGet.Path != "/readyz" || rp.HTTPGet.Host != "172.18.0.2" {
			t.Errorf("%s: readiness probe %+v, want kubeadm's with period %d", path, rp, wantPeriod)
		}
		if ct.LivenessProbe == nil || ct.LivenessProbe.PeriodSeconds != leanLivenessPeriod || ct.LivenessProbe.FailureThreshold != 8 || len(ct.Command) != 1 {
			t.Errorf("%s: the patch changed more than it should: %+v", path, ct)
		}
	}
}

// The controllers the lean profile turns off by name depend on the node
// image's Kubernetes version, read from its tag; an image whose tag names
// no version gets the list every version accepts.
func TestLeanControllers(t *testing.T) {
	all := leanDisabledControls + leanDisabledControls134
	tests := []struct {
		image string
		minor int
		ok    bool
		want  string
	}{
		{"kindest/node:v1.34.2@sha256:abcd", 34, true, all},
		{"testbed.local/kind-node:v1.34.2", 34, true, all},
		{"testbed.local/kind-node:v1.35.0-0123456789ab", 35, true, all},
		{"localhost:5000/kind-node:v1.33.1", 33, true, leanDisabledControls},
		{"kindest/node:v1.29.14", 29, true, leanDisabledControls},
		{"localhost:5000/kind-node", 0, false, leanDisabledControls},
		{"my/node:latest", 0, false, leanDisabledControls},
		{"", 0, false, leanDisabledControls},
	}
	for _, tt := range tests {
		t.Run(tt.image, func(t *testing.T) {
			if minor, ok := kubeMinor(tt.image); minor != tt.minor || ok != tt.ok {
				t.Errorf("kubeMinor = %d, %v; want %d, %v", minor, ok, tt.minor, tt.ok)
			}
			if got := leanControllers(tt.image); got != tt.want {
				t.Errorf("leanControllers = %q, want %q", got, tt.want)
			}
			cfg := Config(topology.ClusterPlan{Name: "c1", Profile: topology.ProfileLean, NodeImage: tt.image})
			var p6902 []struct{ gvk, patch string }
			for _, p := range cfg.KubeadmConfigPatchesJSON6902 {
				p6902 = append(p6902, struct{ gvk, patch string }{p.Group + "/" + p.Version + "/" + p.Kind, p.Patch})
			}
			cc := patchLikeKind(t, kindV1beta4["ClusterConfiguration"], cfg.KubeadmConfigPatches, p6902)
			if got := args(dig(cc, "controllerManager", "extraArgs"))["controllers"]; got != tt.want {
				t.Errorf("v1beta4 --controllers=%s, want %s", got, tt.want)
			}
		})
	}
}
