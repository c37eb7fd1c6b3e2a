// Package store reads and writes campaign directories and exports them as
// tidy (one row per run × peer) CSV or JSON.
//
// # Files
//
// A campaign directory holds:
//
//	manifest.json  what was run, on what, with which versions (results.Manifest)
//	runs.jsonl     one results.Run per line, appended and fsynced as each run ends
//	...            derived files (summary.json, report.html, plots/; see package report)
//
// manifest.json is written atomically by WriteManifest (temp file, fsync,
// rename, fsync of the directory); runs.jsonl is appended and fsynced line
// by line by a FileRecorder. Create starts a campaign, Open resumes one
// (ResumePoint tells the runner where to continue), and Read reads one
// back. The reader skips a truncated last line (a crash mid-write) with a
// warning and rejects any other malformed line with its line number
// (LineError).
//
// # Export
//
// ExportRows flattens a campaign into one ExportRow per run × peer, peers in
// manifest order, warm-up and aborted runs included and flagged; WriteCSV
// and WriteJSON write them (unobserved values are empty cells or null).
package store
