package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"time"

	"github.com/spf13/cobra"

	"github.com/fluidos-lab/testbed/internal/l2"
)

// maxSpecBytes bounds the spec `l2 ensure` reads from standard input.
const maxSpecBytes = 1 << 20

// newL2Command is the hidden `testbed l2`: the host side of a multi-host
// lab's discovery network, run by testbed itself in a helper container
// with host networking (dockerx.RunOnHost). Each subcommand is one l2
// call, JSON in and out.
func newL2Command(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:    "l2",
		Short:  "Join the discovery bridges of several Docker hosts with VXLAN (run by testbed in helper containers)",
		Hidden: true,
		Args:   cobra.NoArgs,
	}
	cmd.AddCommand(newL2EnsureCommand(a), newL2RemoveCommand(a), newL2InspectCommand(a), newL2UnderlayCommand(a),
		newL2ListenCommand(a), newL2ProbeCommand(a))
	return cmd
}

func newL2EnsureCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "ensure",
		Short: "Create or repair this host's VXLAN device from a JSON spec on standard input; print what changed as JSON",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			spec, err := readL2Spec(a.streams.In)
			if err != nil {
				return badInput(err)
			}
			res, err := l2.Ensure(cmd.Context(), spec)
			if err != nil {
				return err
			}
			return writeJSONLine(a.streams.Out, res)
		},
	}
}

// readL2Spec decodes exactly one Spec, with no unknown fields, and
// validates it.
func readL2Spec(r io.Reader) (l2.Spec, error) {
	var spec l2.Spec
	b, err := io.ReadAll(io.LimitReader(r, maxSpecBytes+1))
	if err != nil {
		return spec, fmt.Errorf("reading the spec from standard input: %w", err)
	}
	if len(b) > maxSpecBytes {
		return spec, fmt.Errorf("spec on standard input: more than %d bytes", maxSpecBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&spec); err != nil {
		return spec, fmt.Errorf("spec on standard input: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return spec, errors.New("spec on standard input: more after the JSON object")
	}
	if err := spec.Validate(); err != nil {
		return spec, fmt.Errorf("spec on standard input: %w", err)
	}
	return spec, nil
}

func newL2RemoveCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "remove DEVICE",
		Short: "Delete this host's VXLAN device DEVICE if present",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := l2.CheckIfname(args[0]); err != nil {
				return badInput(fmt.Errorf("DEVICE: %w", err))
			}
			removed, err := l2.Remove(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return writeJSONLine(a.streams.Out, struct {
				Device  string `json:"device"`
				Removed bool   `json:"removed"`
			}{args[0], removed})
		},
	}
}

func newL2InspectCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "inspect DEVICE",
		Short: "Print this host's VXLAN device DEVICE, its bridge and FDB as JSON",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := l2.CheckIfname(args[0]); err != nil {
				return badInput(fmt.Errorf("DEVICE: %w", err))
			}
			st, err := l2.Inspect(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return writeJSONLine(a.streams.Out, st)
		},
	}
}

func newL2UnderlayCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "underlay ADDRESS",
		Short: "Print the interface holding ADDRESS, its MTU and the MTU left for VXLAN, as JSON",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			addr, err := netip.ParseAddr(args[0])
			if err != nil {
				return badInput(fmt.Errorf("ADDRESS: %w", err))
			}
			u, err := l2.Underlay(cmd.Context(), addr)
			if err != nil {
				return err
			}
			return writeJSONLine(a.streams.Out, u)
		},
	}
}

func newL2ListenCommand(a *app) *cobra.Command {
	var dur time.Duration
	cmd := &cobra.Command{
		Use:   "listen ADDR:PORT",
		Short: `Answer probe datagrams on ADDR:PORT for --for; print {"listening":"ADDR:PORT"} once bound`,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			addr, err := netip.ParseAddrPort(args[0])
			if err != nil || !addr.Addr().Is4() {
				return badInput(fmt.Errorf("ADDR:PORT %q: want an IPv4 address and a port, such as 0.0.0.0:4790", args[0]))
			}
			if dur <= 0 {
				return badInput(fmt.Errorf("--for %v: must be positive", dur))
			}
			ln, err := l2.NewListener(addr)
			if err != nil {
				return err
			}
			defer ln.Close()
			if err := writeJSONLine(a.streams.Out, map[string]string{"listening": ln.Addr().String()}); err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), dur)
			defer cancel()
			if err := ln.Serve(ctx); err != nil {
				return err
			}
			return cmd.Context().Err() // interrupted, or nil when --for ran out
		},
	}
	cmd.Flags().DurationVar(&dur, "for", 10*time.Minute, "stop after this long")
	return cmd
}

func newL2ProbeCommand(a *app) *cobra.Command {
	var (
		sizes   []int
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "probe ADDR:PORT",
		Short: "Send Don't-Fragment datagrams of --sizes to a listener; print reachability, RTT and path MTU as JSON",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			to, err := netip.ParseAddrPort(args[0])
			if err != nil {
				return badInput(fmt.Errorf("ADDR:PORT %q: %w", args[0], err))
			}
			if err := l2.CheckProbe(to, sizes, timeout); err != nil {
				return badInput(err)
			}
			res, err := l2.Probe(cmd.Context(), to, sizes, timeout)
			if err != nil {
				return err
			}
			return writeJSONLine(a.streams.Out, res)
		},
	}
	cmd.Flags().IntSliceVar(&sizes, "sizes", []int{576, 1400, 1450, 1500}, "IP packet sizes to probe (headers included)")
	cmd.Flags().DurationVar(&timeout, "timeout", time.Second, "wait this long for each answer")
	return cmd
}

// writeJSONLine writes v as one line of JSON.
func writeJSONLine(w io.Writer, v any) error {
	if err := json.NewEncoder(w).Encode(v); err != nil {
		return fmt.Errorf("writing the result: %w", err)
	}
	return nil
}
