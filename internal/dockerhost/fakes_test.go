package dockerhost

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeSSHEnv, when set in the environment of a process started as "ssh"
// (the test binary behind a symlink), makes TestMain play ssh: it writes
// its arguments to fakeSSHEnv's file and relays stdin/stdout to the unix
// socket in fakeSSHSocketEnv, as `ssh host docker system dial-stdio` does
// to the remote engine.
const (
	fakeSSHEnv       = "TESTBED_DOCKERHOST_FAKE_SSH_ARGS"
	fakeSSHSocketEnv = "TESTBED_DOCKERHOST_FAKE_SSH_SOCKET"
)

func TestMain(m *testing.M) {
	if args := os.Getenv(fakeSSHEnv); args != "" && filepath.Base(os.Args[0]) == "ssh" {
		os.Exit(fakeSSH(args, os.Getenv(fakeSSHSocketEnv)))
	}
	os.Exit(m.Run())
}

func fakeSSH(argsFile, socket string) int {
	if err := os.WriteFile(argsFile, []byte(strings.Join(os.Args[1:], "\n")), 0o600); err != nil {
		return 1
	}
	c, err := net.Dial("unix", socket)
	if err != nil {
		return 255
	}
	go func() {
		_, _ = io.Copy(c, os.Stdin)
		_ = c.(*net.UnixConn).CloseWrite()
	}()
	_, _ = io.Copy(os.Stdout, c)
	return 0
}

// fakeEngineAPI is the API version the fake engine speaks.
const fakeEngineAPI = "1.41"

// fakeEngine answers /_ping and /info as a Docker engine does.
func fakeEngine(t *testing.T, name string) http.Handler {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/_ping", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Api-Version", fakeEngineAPI)
		w.Header().Set("Ostype", "linux")
		_, _ = io.WriteString(w, "OK")
	})
	mux.HandleFunc("/v"+fakeEngineAPI+"/info", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"Name": name, "SystemTime": time.Now().Format(time.RFC3339Nano)})
	})
	return mux
}

// serveUnix serves h on a unix socket in a fresh directory and returns the
// socket's path.
func serveUnix(t *testing.T, h http.Handler) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "dh") // short: socket paths are limited to 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "docker.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	srv := &httptest.Server{Listener: l, Config: &http.Server{Handler: h}}
	srv.Start()
	t.Cleanup(srv.Close)
	return path
}

// pki is a CA with a server certificate for 127.0.0.1 and a client
// certificate, as PEM.
type pki struct {
	caPEM, serverCert, serverKey, clientCert, clientKey []byte
}

func newPKI(t *testing.T) pki {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "testbed test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	var p pki
	p.caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	p.serverCert, p.serverKey = leaf(t, ca, caKey, 2, x509.ExtKeyUsageServerAuth)
	p.clientCert, p.clientKey = leaf(t, ca, caKey, 3, x509.ExtKeyUsageClientAuth)
	return p
}

func leaf(t *testing.T, ca *x509.Certificate, caKey *ecdsa.PrivateKey, serial int64, use x509.ExtKeyUsage) (cert, key []byte) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "testbed"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{use},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

// serveTLS serves h over TLS with p's server certificate, requiring a
// client certificate of p's CA, and returns the tcp:// URL.
func serveTLS(t *testing.T, p pki, h http.Handler) string {
	t.Helper()
	cert, err := tls.X509KeyPair(p.serverCert, p.serverKey)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(p.caPEM)
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // handshake failures are expected
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return "tcp://" + srv.Listener.Addr().String()
}

// certDir writes files (name → content) into a fresh directory.
func certDir(t *testing.T, files map[string][]byte) string {
	t.Helper()
	dir := t.TempDir()
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
