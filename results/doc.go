// Package results holds the campaign record types: the Manifest of a
// campaign (what was run, on what, with which versions) and one Run per
// measured run, with its peer timings, flaps, pod timeline and impairment.
//
// The subpackages each do one job with these records:
//
//	store    the campaign directory on disk (manifest.json, runs.jsonl) and its tidy export
//	stats    quantiles, per-condition statistics and the discovery-time model
//	plot     the figures (SVG/PNG) of a campaign and of a sweep
//	report   the self-contained HTML report and summary.json
//	compare  a candidate campaign against a baseline, and threshold rules
package results
