package fuzzseed

import (
	"testing"

	"github.com/fluidos-lab/testbed/internal/yamlfile"
)

type doc struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Name       string `yaml:"name"`
}

// Every seed is refused by the decoder (each crosses a limit or is a
// second document), so the fuzz targets start next to every limit.
func TestSeedsCrossALimit(t *testing.T) {
	valid := "apiVersion: x/v1\nkind: T\nname: n\n"
	var d doc
	if _, err := yamlfile.Decode("f.yaml", []byte(valid), yamlfile.Spec{APIVersion: "x/v1", Kind: "T"}, &d); err != nil {
		t.Fatal(err)
	}
	for i, s := range Seeds(valid) {
		var d doc
		_, err := yamlfile.Decode("f.yaml", s, yamlfile.Spec{APIVersion: "x/v1", Kind: "T"}, &d)
		if err == nil {
			t.Errorf("seed %d accepted:\n%.300s", i, s)
			continue
		}
		t.Logf("seed %d (%d bytes): %.160s", i, len(s), err)
	}
}
