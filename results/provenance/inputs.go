package provenance

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"

	"github.com/fluidos-lab/testbed/results"
)

// ReadInput records an input file verbatim with its SHA-256.
func ReadInput(role, path string) (results.Input, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return results.Input{}, fmt.Errorf("recording %s file: %w", role, err)
	}
	sum := sha256.Sum256(b)
	return results.Input{Role: role, Path: path, SHA256: hex.EncodeToString(sum[:]), Content: string(b)}, nil
}
