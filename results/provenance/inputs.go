package provenance

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/fluidos-lab/testbed/internal/yamlfile"
	"github.com/fluidos-lab/testbed/results"
)

// ReadInput records an input file verbatim with its SHA-256. It reads at
// most yamlfile.DefaultLimits.MaxBytes, the limit the file was validated
// under (a file swapped for a larger one since is refused, not recorded).
func ReadInput(role, path string) (results.Input, error) {
	b, err := yamlfile.ReadFile(path, yamlfile.DefaultLimits.MaxBytes)
	if err != nil {
		return results.Input{}, fmt.Errorf("recording %s file: %w", role, err)
	}
	sum := sha256.Sum256(b)
	return results.Input{Role: role, Path: path, SHA256: hex.EncodeToString(sum[:]), Content: string(b)}, nil
}
