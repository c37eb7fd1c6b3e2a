package kubeclient

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"k8s.io/client-go/rest"
)

const kubeconfig = `apiVersion: v1
kind: Config
clusters:
- name: c1
  cluster: {server: "https://127.0.0.1:6443", insecure-skip-tls-verify: true}
contexts:
- name: c1
  context: {cluster: c1, user: u1}
current-context: c1
users:
- name: u1
  user: {token: abc}
`

func TestFactory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c1")
	if err := os.WriteFile(path, []byte(kubeconfig), 0o600); err != nil {
		t.Fatal(err)
	}
	var f Factory
	cfg, err := f.Config(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.QPS != QPS || cfg.Burst != Burst || cfg.Host != "https://127.0.0.1:6443" {
		t.Errorf("config QPS %v burst %d host %s", cfg.QPS, cfg.Burst, cfg.Host)
	}
	var wg sync.WaitGroup
	got := make([]*Clients, 8)
	for i := range got {
		wg.Add(1)
		go func() { defer wg.Done(); got[i], _ = f.For(path) }()
	}
	wg.Wait()
	for _, c := range got {
		if c == nil || c != got[0] {
			t.Fatal("clients not cached per kubeconfig")
		}
	}
	f.Forget(path)
	if c, _ := f.For(path); c == got[0] {
		t.Error("Forget kept the cached clients")
	}
	if _, err := f.Kube(filepath.Join(t.TempDir(), "missing")); err == nil || !strings.Contains(err.Error(), "loading kubeconfig") {
		t.Errorf("missing kubeconfig: %v", err)
	}
}

func TestFactoryLoadOverride(t *testing.T) {
	base := &rest.Config{Host: "https://10.0.0.1:6443", QPS: 5}
	f := Factory{Load: func(string) (*rest.Config, error) { return base, nil }}
	cfg, err := f.Config("x")
	if err != nil || cfg.QPS != QPS || base.QPS != 5 {
		t.Errorf("override: cfg %+v err %v, base QPS %v (must not be mutated)", cfg, err, base.QPS)
	}
	f = Factory{Load: func(string) (*rest.Config, error) { return nil, errors.New("boom") }}
	if _, _, err := f.KubeDynamic("x"); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("err %v", err)
	}
}
