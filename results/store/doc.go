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
// by line by a FileRecorder (AppendBatch: many lines, one fsync). Create
// starts a campaign, Open resumes one (ResumePoint tells the runner where to
// continue).
//
// # Reading
//
// Every reader goes through the same decoder and the same Checker, so
// report, export and compare accept, refuse and warn about exactly the same
// campaigns:
//
//   - Scan and OpenStream/Stream.Each stream runs.jsonl line by line and
//     hold no runs (Stream.EachTransient also recycles the run's memory
//     from line to line); later passes of a Stream read exactly the bytes
//     of the first and fail if the accepted runs differ. A pass takes a
//     context, checked before the first line and every CheckEvery lines,
//     and stops with its error once it ends. Read collects the runs in
//     memory (for small campaigns and the runner's resume).
//   - ExportDir streams the tidy rows (two passes: nothing is written for a
//     campaign a reader refuses).
//   - Warnings are on Campaign.Warnings, each naming runs.jsonl and the
//     line; print them with Campaign.WriteWarnings (or WriteWarnings) so
//     that every command prints them alike.
//
// The decoder has a fast path for the lines the recorder writes (exact
// keys, no escapes, no nulls); any other line is decoded by encoding/json,
// so results and error messages are encoding/json's.
//
// # Limits and integrity rules
//
// Errors (the campaign is refused, the error names runs.jsonl, the line and
// the rule; a *LineError):
//
//   - a line longer than MaxLineBytes (1 MiB; a run is 1–3 KB), and a
//     manifest.json larger than MaxManifestBytes (32 MiB);
//   - a malformed line other than a truncated last line, a run without a
//     condition, a negative index, a number beyond ±1e12;
//   - an impossible index: at or beyond the manifest's warm-up + runs for
//     that condition, or beyond MaxRunIndex (2^24−1) for a condition the
//     manifest lists without a run count or not at all. (2^63−1 used to be
//     accepted, and resume then overflowed.);
//   - a duplicated run: a second record of the same condition and index
//     that counts. Aborted records never count: the runner records an
//     aborted run and re-runs the same index on resume, so "aborted, then
//     the same index" is legitimate, any number of times. Which of two
//     complete records is right cannot be known, so no statistic is
//     computed from either.
//
// Loud warnings (the campaign is read; the line is left out by every
// reader, export included, and never counts as a duplicate, so a resumed
// campaign can record that index again):
//
//   - a truncated last line (no newline and not a complete run: a crash
//     mid-write; Open cuts it off before appending);
//   - a run with an impossible time: a non-finite number anywhere, or a
//     negative discoveredMS, reverseMS, goneMS, truthMS, flap time,
//     pod.leaveMS, pauseMS, cycleOverheadMS, apiLatencyMS or endMS (these
//     are ms after the run's t0 or durations; truthSendMS and the pod's
//     scheduled/started/ready/container-start times may precede t0). Such
//     a run means a stale resource or a clock fault in that run only, so
//     the rest of the campaign stays usable.
//
// Warning (the runs are read): runs of a condition manifest.json does not
// list, when it lists any.
//
// # Export
//
// ExportRows flattens a campaign into one ExportRow per run × peer, peers in
// manifest order, warm-up and aborted runs included and flagged; WriteCSV
// and WriteJSON write them (unobserved values are empty cells or null), and
// ExportDir streams the same bytes from a directory.
package store
