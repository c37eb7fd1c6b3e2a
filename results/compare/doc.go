// Package compare measures a candidate campaign against a baseline and
// checks threshold rules on the result.
//
// Campaigns matches conditions by name and, per metric (firstPeer,
// allPeers, anyPeer, k<N>), reports the median delta with a seeded
// percentile bootstrap 95 % CI, the Mann–Whitney U p-value (normal
// approximation with tie and continuity correction, and Holm-adjusted over
// all rows) and the two-sample KS p-value (asymptotic). Threshold rules
// (ParseThresholds) turn the comparison into a pass/fail for nightly jobs.
package compare
