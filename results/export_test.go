package results

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestExport(t *testing.T) {
	f := ptr
	c := &Campaign{
		Manifest: Manifest{Campaign: "x", Peers: []string{"b", "c"}},
		Runs: []Run{{
			Campaign: "x", Condition: "loss-10", Index: 3, TimedOut: true, Phase: "random", PauseMS: 1234.5,
			Started:    time.Date(2026, 1, 1, 0, 0, 0, 5, time.UTC),
			Impairment: Impairment{Backend: "netem", LossPct: 10, AchievedLossPct: f(9.5)},
			Pod:        PodTimeline{ContainerStartMS: f(800), LeaveMS: f(10000)},
			Peers:      []PeerTiming{{Peer: "c", DiscoveredMS: f(2000.25), GoneMS: f(12500), Flaps: []Flap{{DeletedMS: 1}, {DeletedMS: 2}}}},
			Missing:    []string{"b"},
		}},
	}
	rows := ExportRows(c)
	if len(rows) != 2 || rows[0].Peer != "b" || rows[1].Peer != "c" {
		t.Fatalf("rows = %+v", rows)
	}
	var buf bytes.Buffer
	if err := WriteCSV(&buf, rows); err != nil {
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
	if len(header) != reflect.TypeOf(ExportRow{}).NumField() {
		t.Fatalf("header has %d columns, ExportRow %d fields", len(header), reflect.TypeOf(ExportRow{}).NumField())
	}
	col := map[string]int{}
	for i, h := range header {
		col[h] = i
	}
	// The CSV header names are the JSON names, column for column.
	for i := 0; i < reflect.TypeOf(ExportRow{}).NumField(); i++ {
		if tag := reflect.TypeOf(ExportRow{}).Field(i).Tag.Get("json"); tag != header[i] {
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
	if err := WriteJSON(&buf, rows); err != nil {
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
	WriteJSON(&buf, nil)
	if strings.TrimSpace(buf.String()) != "[]" {
		t.Errorf("empty export = %q", buf.String())
	}
}
