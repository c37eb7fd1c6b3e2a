package store_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/fluidos-lab/testbed/results"
	"github.com/fluidos-lab/testbed/results/store"
)

func TestExport(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	c := &store.Campaign{
		Manifest: results.Manifest{Campaign: "x", Peers: []string{"b", "c"}},
		Runs: []results.Run{{
			Campaign: "x", Condition: "loss-10", Index: 3, TimedOut: true, Phase: "random", PauseMS: 1234.5,
			Started:    time.Date(2026, 1, 1, 0, 0, 0, 5, time.UTC),
			Impairment: results.Impairment{Backend: "netem", LossPct: 10, AchievedLossPct: f(9.5)},
			Pod:        results.PodTimeline{ContainerStartMS: f(800), LeaveMS: f(10000)},
			Peers:      []results.PeerTiming{{Peer: "c", DiscoveredMS: f(2000.25), GoneMS: f(12500), Flaps: []results.Flap{{DeletedMS: 1}, {DeletedMS: 2}}}},
			Missing:    []string{"b"},
		}},
	}
	rows := store.ExportRows(c)
	if len(rows) != 2 || rows[0].Peer != "b" || rows[1].Peer != "c" {
		t.Fatalf("rows = %+v", rows)
	}
	var buf bytes.Buffer
	if err := store.WriteCSV(&buf, rows); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(strings.NewReader(buf.String())).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 {
		t.Fatalf("csv has %d records", len(recs))
	}
	header := recs[0]
	if len(header) != reflect.TypeOf(store.ExportRow{}).NumField() {
		t.Fatalf("header has %d columns, ExportRow %d fields", len(header), reflect.TypeOf(store.ExportRow{}).NumField())
	}
	col := map[string]int{}
	for i, h := range header {
		col[h] = i
	}
	// The CSV header names are the JSON names, column for column.
	for i := 0; i < reflect.TypeOf(store.ExportRow{}).NumField(); i++ {
		if tag := reflect.TypeOf(store.ExportRow{}).Field(i).Tag.Get("json"); tag != header[i] {
			t.Errorf("column %d is %q, json tag %q", i, header[i], tag)
		}
	}
	b, cr := recs[1], recs[2]
	checks := []struct {
		rec           []string
		colName, want string
	}{
		{b, "discovered", "false"}, {b, "discoveredMS", ""}, {b, "protocolMS", ""}, {b, "achievedLossPct", "9.5"},
		{cr, "discoveredMS", "2000.25"}, {cr, "protocolMS", "1200.25"}, {cr, "flaps", "2"}, {cr, "run", "3"},
		{cr, "timedOut", "true"}, {cr, "started", "2026-01-01T00:00:00.000000005Z"}, {cr, "pauseMS", "1234.5"},
		{cr, "backend", "netem"}, {cr, "reverseMS", ""}, {cr, "leaveMS", "10000"}, {cr, "goneAfterLeaveMS", "2500"},
		{b, "goneAfterLeaveMS", ""},
	}
	for _, ch := range checks {
		if got := ch.rec[col[ch.colName]]; got != ch.want {
			t.Errorf("%s = %q, want %q", ch.colName, got, ch.want)
		}
	}
	buf.Reset()
	if err := store.WriteJSON(&buf, rows); err != nil {
		t.Fatal(err)
	}
	var back []map[string]any
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back[0]["discoveredMS"] != nil || back[1]["discoveredMS"] != 2000.25 {
		t.Errorf("json rows: %v", back)
	}
	buf.Reset()
	store.WriteJSON(&buf, nil)
	if strings.TrimSpace(buf.String()) != "[]" {
		t.Errorf("empty export = %q", buf.String())
	}
}
