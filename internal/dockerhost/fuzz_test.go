package dockerhost

import "testing"

// FuzzParse: Parse never panics, and what it accepts has an environment, a
// description and, unless a context, a Host that parses to the same.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"default", "lab-b", "unix:///var/run/docker.sock", "tcp://10.0.0.2:2376", "tcp://[fd00::2]:2376/",
		"ssh://lab@host:22/run/docker.sock", "tcp://h", "ssh://u:p@h", "unix://", "%", "tcp://%zz:1", "ssh://[::1"} {
		f.Add(s, "", false)
		f.Add(s, "/certs", true)
	}
	f.Fuzz(func(t *testing.T, s, dir string, verify bool) {
		tls := TLSFiles{Dir: dir, Verify: verify}
		e, err := Parse(s, tls)
		if err != nil {
			return
		}
		if len(e.Env()) < 5 || e.String() == "" || e.Kind().String() == "invalid" {
			t.Fatalf("Parse(%q) = %#v: Env %v String %q", s, e, e.Env(), e.String())
		}
		if e.Kind() == KindContext {
			return
		}
		again, err := Parse(e.Host(), tls)
		if err != nil || again.Kind() != e.Kind() || again.Host() != e.Host() {
			t.Fatalf("Parse(%q).Host() = %q parses to %#v, %v", s, e.Host(), again, err)
		}
	})
}
