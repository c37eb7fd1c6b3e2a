// Package results reads and writes campaign directories, computes
// statistics and a discovery-time model from them, draws plots, renders a
// self-contained HTML report, compares two campaigns and exports tidy data.
//
// # Files
//
// A campaign directory holds manifest.json (Manifest, written atomically by
// WriteManifest) and runs.jsonl (one Run per line, appended and fsynced by a
// FileRecorder as each run ends). CreateCampaign starts one, OpenCampaign
// resumes one (ResumePoint tells the runner where to continue), and
// ReadCampaign reads one back. The reader skips a truncated last line (a
// crash mid-write) with a warning and rejects any other malformed line with
// its line number (LineError). WriteReport adds summary.json, report.html
// and plots/*.svg|png.
//
// # Statistics
//
// Analyze works per condition on the included runs (warm-up and aborted runs
// excluded): first-peer and all-peers time per run, the time to the k-th
// discovered peer (k = 1…N−1), each individual peer, timeouts and missing
// peers, responsiveness P(discovered within d), the start-up/protocol split
// (node A's container start from the runtime; protocol = discovered −
// container start), the flap rate (false failure detections per peer-minute
// of observation, from Run.EndMS or the last recorded time) and achieved vs
// requested loss.
//
// Quantiles everywhere in this package use Hyndman & Fan type 7 (linear
// interpolation between order statistics, the default of R's quantile() and
// numpy.percentile / pandas): for sorted x[0..n-1] and probability p,
// h = (n-1)p and Q(p) = x[⌊h⌋] + (h-⌊h⌋)(x[⌊h⌋+1]-x[⌊h⌋]). Standard
// deviations are sample (n−1) deviations (gonum/stat).
//
// # Model
//
// Model is a periodic announcer (interval T, loss p, start-up s):
// D = s + U·T + G·T with U ~ Uniform(0,1) and G ~ Geometric(1−p), whose CDF
// has a closed form; the k-th of N−1 peers uses order statistics of
// independent peers (an approximation: in the lab the peers' tickers keep
// fixed offsets, so peers are correlated). Each condition reports the KS
// distance between measured and model with s = median container start, and
// with the s that fits best.
//
// # Compare
//
// Compare matches conditions by name and, per metric (firstPeer, allPeers,
// anyPeer, k<N>), reports the median delta with a seeded percentile
// bootstrap 95 % CI, the Mann–Whitney U p-value (normal approximation with
// tie and continuity correction, and Holm-adjusted over all rows) and the
// two-sample KS p-value (asymptotic). Threshold rules (ParseThresholds)
// turn the comparison into a pass/fail for nightly jobs.
package results
