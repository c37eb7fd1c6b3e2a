package topology

import "github.com/fluidos-lab/testbed/internal/yamlfile"

// The located errors and positions of every testbed input file; topology's
// Load returns them, and validation adds its own at the same positions.
type (
	FieldError = yamlfile.FieldError
	ErrorList  = yamlfile.ErrorList
	Position   = yamlfile.Position
	Document   = yamlfile.Document
)

// AsErrorList extracts an ErrorList (or a single FieldError) from err.
func AsErrorList(err error) (ErrorList, bool) { return yamlfile.AsErrorList(err) }
