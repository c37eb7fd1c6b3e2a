// Package compare measures a candidate campaign against a baseline and
// checks threshold rules on the result.
//
// Dirs (streaming two campaign directories), Compare (in memory) and
// Collections match conditions by name and, per metric (firstPeer,
// allPeers, anyPeer, k<N>), report the median delta with a seeded
// percentile bootstrap 95 % CI, the Mann–Whitney U p-value (normal
// approximation with tie and continuity correction, and Holm-adjusted over
// all rows) and the two-sample KS p-value (asymptotic). Every statistic is
// one merged pass over the sorted samples; a bootstrap median is drawn from
// the order statistics (Beta-distributed ranks), O(1) per resample, so the
// cost is O(n + B log B) per row instead of O(B·n).
//
// Options are validated, never replaced: Options.Validate requires a
// finite Alpha in (0, 1) and Bootstrap in [MinBootstrap, MaxBootstrap]
// (100–100000; B resamples hold about 16·B bytes per row). Only the legacy
// Campaigns fills zero fields with the defaults (WithDefaults) and panics
// on anything else invalid.
//
// Threshold rules (LoadThresholds / ParseThresholds: a Thresholds document,
// apiVersion testbed.dev/v1alpha1, read by internal/yamlfile) turn the
// comparison into a pass/fail for nightly jobs.
package compare
