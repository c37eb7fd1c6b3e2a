// Package lablock keeps two campaigns off one lab.
//
// A campaign cycles node A's discovery workload, clears the peers'
// resources and installs impairments on the lab's pods; a second campaign
// on the same lab at the same time cycles the same agents and removes the
// first one's impairments, and both record nonsense (seen on the CI lab,
// 2026-12-06: one campaign lost every peer in a clean run, the other
// failed to read counters of an nftables table the first had removed).
// Acquire takes an exclusive, non-blocking lock on a file in the lab's
// state directory and writes who holds it; the kernel releases it when the
// holder's process ends, however it ends, so a killed run never leaves
// the lab locked.
package lablock

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// FileName is the lock file in a lab's state directory.
const FileName = "campaign.lock"

// Holder says who holds a lab: written into the lock file by the holder,
// read by whoever finds the lab busy.
type Holder struct {
	// Command is the holder's command line.
	Command string `json:"command"`
	PID     int    `json:"pid"`
	Host    string `json:"host,omitempty"`
	// Campaign is the campaign directory, if the holder writes one.
	Campaign string    `json:"campaign,omitempty"`
	Since    time.Time `json:"since"`
}

// BusyError is Acquire's error for a lab another process holds.
type BusyError struct {
	Lab  string
	Path string
	// Holder is what the holder wrote; zero if it could not be read (a
	// holder that had not written it yet, or a file from another version).
	Holder Holder
}

func (e *BusyError) Error() string {
	h := e.Holder
	msg := fmt.Sprintf("lab %q is busy", e.Lab)
	if !h.Since.IsZero() {
		msg += " since " + h.Since.Local().Format("15:04:05")
	}
	if h.PID > 0 {
		msg += fmt.Sprintf(": pid %d", h.PID)
		if h.Host != "" {
			msg += " on " + h.Host
		}
		msg += fmt.Sprintf(" (%q) holds it", h.Command)
		if h.Campaign != "" {
			msg += " for the campaign in " + h.Campaign
		}
	} else {
		msg += ": another testbed process holds it"
	}
	return msg + " (lock " + e.Path + "). Two campaigns on one lab cycle the same agents and undo each other's impairments: wait for it to end, or stop it with Ctrl-C"
}

// Lock is a held lab.
type Lock struct {
	f *os.File
}

// Acquire locks the lab whose state directory is dir for h, without
// waiting: a lab another process holds gives a *BusyError naming the
// holder. The directory must exist (up makes it): a lab without one is
// not up, or was made with another state root.
func Acquire(lab, dir string, h Holder) (*Lock, error) {
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("lab %s has no state directory %s: bring it up with `testbed up`, or set TESTBED_STATE_DIR to the state root it was made with", lab, dir)
	}
	path := filepath.Join(dir, FileName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lab %s: lock: %w", lab, err)
	}
	held, err := tryLock(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lab %s: lock %s: %w", lab, path, err)
	}
	if !held {
		busy := &BusyError{Lab: lab, Path: path}
		if b, err := os.ReadFile(path); err == nil {
			_ = json.Unmarshal(b, &busy.Holder) // best effort: the holder may not have written yet
		}
		f.Close()
		return nil, busy
	}
	b, err := json.Marshal(h)
	if err == nil {
		if err = f.Truncate(0); err == nil {
			_, err = f.WriteAt(append(b, '\n'), 0)
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lab %s: writing the lock's holder to %s: %w", lab, path, err)
	}
	return &Lock{f: f}, nil
}

// Release unlocks the lab. The file stays (removing it would race with a
// process that just opened it); its holder is cleared.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Truncate(0)
	if cerr := l.f.Close(); err == nil { // closing releases the lock
		err = cerr
	}
	l.f = nil
	return err
}

// IsBusy reports whether err is (or wraps) a BusyError.
func IsBusy(err error) bool {
	var b *BusyError
	return errors.As(err, &b)
}
