package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/user"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/steward/steward/hotcode"
	"github.com/steward/steward/hotcode/store"
	"github.com/steward/steward/pb"
)

// moduleJSON is `steward module inspect -o json`, each item of `module
// history -o json` and `module push -o json`'s module.
type moduleJSON struct {
	ID             string          `json:"id"`
	Name           string          `json:"name"`
	Version        string          `json:"version"`
	Behavior       string          `json:"behavior"`
	SHA256         string          `json:"sha256"`
	Size           uint64          `json:"size"`
	Chunks         int             `json:"chunks"`
	Safety         string          `json:"safety"`
	Capabilities   []hotcode.Use   `json:"capabilities"`
	MemoryMinPages uint32          `json:"memory_min_pages"`
	Warnings       []string        `json:"warnings"`
	Manifest       json.RawMessage `json:"manifest,omitempty"`
	PushedBy       string          `json:"pushed_by"`
	// The trusted key whose signature the leader verified ("" unsigned).
	SignedBy          string    `json:"signed_by"`
	SignerFingerprint string    `json:"signer_fingerprint,omitempty"`
	PushedAt          time.Time `json:"pushed_at"`
	Active            bool      `json:"active"`
	PinnedBy          []string  `json:"pinned_by,omitempty"`
}

func toModuleJSON(v *pb.ModuleVersion, active string) moduleJSON {
	j := moduleJSON{ID: v.Id, Name: v.Name, Version: v.Version, Behavior: store.BehaviorName(v.Name, v.Version),
		SHA256: v.Sha256, Size: v.Size, Chunks: len(v.Chunks), Safety: v.Safety, MemoryMinPages: v.MemoryMinPages,
		Capabilities: []hotcode.Use{}, Warnings: append([]string{}, v.Warnings...), PushedBy: v.PushedBy,
		SignedBy: v.SignedBy, SignerFingerprint: v.SignerFingerprint,
		PushedAt: time.Unix(0, v.PushedAtUnixNano).UTC(), Active: active == v.Version}
	if len(v.ManifestJson) > 0 && json.Valid(v.ManifestJson) {
		j.Manifest = v.ManifestJson
	}
	for _, u := range v.Capabilities {
		j.Capabilities = append(j.Capabilities, hotcode.Use{Function: u.Function, Class: hotcode.Class(u.Class)})
	}
	return j
}

func newModuleCmd(g *globals) *cobra.Command {
	m := &cobra.Command{Use: "module", Short: "Push, list and inspect the WebAssembly modules stored in the cluster"}
	m.AddCommand(newModulePushCmd(g), newModuleListCmd(g), newModuleHistoryCmd(g), newModuleInspectCmd(g), newModuleDeleteCmd(g),
		newModuleKeygenCmd(g), newModuleSignCmd(g), newModuleTrustCmd(g), newModuleVerifyCmd(g))
	return m
}

// moduleRef parses NAME@VERSION.
func moduleRef(s string) (string, string, error) {
	name, version, ok := strings.Cut(s, "@")
	if !ok || name == "" || version == "" {
		return "", "", usageError(fmt.Sprintf("%q is not NAME@VERSION", s))
	}
	return name, version, nil
}

func pusher() string {
	host, _ := os.Hostname()
	if u, err := user.Current(); err == nil {
		return u.Username + "@" + host
	}
	return host
}

func newModulePushCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "push NAME FILE", Short: "Validate a WebAssembly module at a safety level and store it in the cluster", Args: cobra.ExactArgs(2)}
	out := outputFlag(cmd)
	version := cmd.Flags().String("version", "", "the version the module's manifest must carry (default: whatever it carries)")
	safety := cmd.Flags().String("safety", string(hotcode.DefaultLevel), "safety level: strict, moderate or permissive")
	confirm := cmd.Flags().Bool("confirm-dangerous", false, "confirm the dangerous host functions (register, spawn, exit) the manifest declares (strict)")
	sigFile := cmd.Flags().String("signature", "", "a detached ed25519 signature of FILE (steward module sign): required at strict once the cluster trusts a key, verified at any level")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := checkOutput(*out); err != nil {
			return err
		}
		if _, err := hotcode.ParseLevel(*safety); err != nil {
			return usageError(fmt.Sprintf("safety: %q is not one of strict, moderate, permissive", *safety))
		}
		bin, err := readInput(cmd, "module", args[1], hotcode.MaxModuleBytes)
		if err != nil {
			return err
		}
		var sig []byte
		if *sigFile != "" {
			if sig, err = readSignature(cmd, *sigFile); err != nil {
				return err
			}
		}
		c, ctx, done, err := g.connect(cmd)
		if err != nil {
			return err
		}
		defer done()
		up, err := pb.NewModulesClient(c.Conn()).Push(ctx)
		if err != nil {
			return g.rpcError(err)
		}
		first := true
		for first || len(bin) > 0 {
			n := min(len(bin), 1<<20)
			msg := &pb.ModulePushChunk{Data: bin[:n]}
			if first {
				msg.Name, msg.Version, msg.Safety, msg.ConfirmDangerous, msg.PushedBy = args[0], *version, *safety, *confirm, pusher()
				msg.Signature = sig
				first = false
			}
			if err := up.Send(msg); err != nil {
				break // the server's answer says why
			}
			bin = bin[n:]
		}
		resp, err := up.CloseAndRecv()
		if err != nil {
			return g.rpcError(err)
		}
		w := cmd.OutOrStdout()
		if *out == "json" {
			return writeJSON(w, map[string]any{"module": toModuleJSON(resp.Module, ""), "unchanged": resp.Unchanged,
				"evicted": append([]string{}, resp.Evicted...), "index": resp.Meta.GetIndex()})
		}
		if resp.Unchanged {
			fmt.Fprintf(w, "Module %s already stored with these bytes (sha256 %s): nothing changed\n", resp.Module.Id, resp.Module.Sha256)
			return nil
		}
		fmt.Fprintf(w, "Module %s stored: %d bytes, sha256 %s, validated at %s; run it as behavior %q\n",
			resp.Module.Id, resp.Module.Size, resp.Module.Sha256, resp.Module.Safety, store.BehaviorName(resp.Module.Name, resp.Module.Version))
		if resp.Module.SignedBy != "" {
			fmt.Fprintf(w, "Signed by trusted key %s (fingerprint %s)\n", resp.Module.SignedBy, resp.Module.SignerFingerprint)
		}
		for _, e := range resp.Evicted {
			fmt.Fprintf(w, "Evicted from the history: %s\n", e)
		}
		return nil
	}
	return cmd
}

type moduleRPC struct {
	c    pb.ModulesClient
	ctx  context.Context
	done func()
}

func (g *globals) dialModules(cmd *cobra.Command) (*moduleRPC, error) {
	c, ctx, done, err := g.connect(cmd)
	if err != nil {
		return nil, err
	}
	return &moduleRPC{c: pb.NewModulesClient(c.Conn()), ctx: ctx, done: done}, nil
}

func newModuleListCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "list", Short: "List the stored modules with their active and latest versions", Args: cobra.NoArgs}
	out := outputFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := checkOutput(*out); err != nil {
			return err
		}
		r, err := g.dialModules(cmd)
		if err != nil {
			return err
		}
		defer r.done()
		resp, err := r.c.List(r.ctx, &pb.ListModulesRequest{})
		if err != nil {
			return g.rpcError(err)
		}
		type item struct {
			Name     string `json:"name"`
			Active   string `json:"active"`
			Latest   string `json:"latest"`
			Versions uint32 `json:"versions"`
			Bytes    uint64 `json:"bytes"`
		}
		items := []item{}
		for _, m := range resp.Modules {
			items = append(items, item{m.Name, m.Active, m.Latest, m.Versions, m.Bytes})
		}
		w := cmd.OutOrStdout()
		if *out == "json" {
			return writeJSON(w, map[string]any{"modules": items, "stored_bytes": resp.StoredBytes, "max_bytes": resp.MaxBytes})
		}
		t := newTable(w, "NAME", "ACTIVE", "LATEST", "VERSIONS", "BYTES")
		for _, m := range items {
			t.row(m.Name, m.Active, m.Latest, m.Versions, m.Bytes)
		}
		if err := t.flush(); err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "Stored: %d of %d bytes\n", resp.StoredBytes, resp.MaxBytes)
		return err
	}
	return cmd
}

func newModuleHistoryCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "history NAME", Short: "A module's stored versions, oldest first, with who pushed each and when", Args: cobra.ExactArgs(1)}
	out := outputFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := checkOutput(*out); err != nil {
			return err
		}
		r, err := g.dialModules(cmd)
		if err != nil {
			return err
		}
		defer r.done()
		resp, err := r.c.History(r.ctx, &pb.ModuleHistoryRequest{Name: args[0]})
		if err != nil {
			return g.rpcError(err)
		}
		items := []moduleJSON{}
		for _, v := range resp.Versions {
			items = append(items, toModuleJSON(v, resp.Active))
		}
		w := cmd.OutOrStdout()
		if *out == "json" {
			return writeJSON(w, items)
		}
		t := newTable(w, "VERSION", "ACTIVE", "SAFETY", "BYTES", "SHA256", "PUSHED BY", "PUSHED AT")
		for _, v := range items {
			active := ""
			if v.Active {
				active = "*"
			}
			t.row(v.Version, active, v.Safety, v.Size, cell(v.SHA256, 16), v.PushedBy, v.PushedAt.Format(time.RFC3339))
		}
		return t.flush()
	}
	return cmd
}

func newModuleInspectCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "inspect NAME@VERSION", Short: "A stored version: manifest, capability report, checksum, the trees that run it", Args: cobra.ExactArgs(1)}
	out := outputFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := checkOutput(*out); err != nil {
			return err
		}
		name, version, err := moduleRef(args[0])
		if err != nil {
			return err
		}
		r, err := g.dialModules(cmd)
		if err != nil {
			return err
		}
		defer r.done()
		resp, err := r.c.Inspect(r.ctx, &pb.InspectModuleRequest{Name: name, Version: version})
		if err != nil {
			return g.rpcError(err)
		}
		active := ""
		if resp.Active {
			active = version
		}
		j := toModuleJSON(resp.Module, active)
		j.PinnedBy = append([]string{}, resp.PinnedBy...)
		w := cmd.OutOrStdout()
		if *out == "json" {
			return writeJSON(w, j)
		}
		return printModule(w, j)
	}
	return cmd
}

func printModule(w io.Writer, j moduleJSON) error {
	fmt.Fprintf(w, "Module:     %s\nBehavior:   %s\nActive:     %t\nSHA-256:    %s\nSize:       %d bytes in %d chunks\n",
		j.ID, j.Behavior, j.Active, j.SHA256, j.Size, j.Chunks)
	fmt.Fprintf(w, "Safety:     %s\nMemory min: %d pages\nPushed:     %s by %s\n", j.Safety, j.MemoryMinPages, j.PushedAt.Format(time.RFC3339), j.PushedBy)
	if j.SignedBy != "" {
		fmt.Fprintf(w, "Signed by:  %s (fingerprint %s)\n", j.SignedBy, j.SignerFingerprint)
	} else {
		fmt.Fprintf(w, "Signed by:  (unsigned)\n")
	}
	if len(j.Manifest) > 0 {
		fmt.Fprintf(w, "Manifest:   %s\n", j.Manifest)
	}
	fmt.Fprintf(w, "Run by:     %s\n", orNone(strings.Join(j.PinnedBy, ", ")))
	for _, warn := range j.Warnings {
		fmt.Fprintf(w, "Warning:    %s\n", warn)
	}
	t := newTable(w, "IMPORT", "CLASS")
	for _, u := range j.Capabilities {
		t.row(u.Function, u.Class)
	}
	return t.flush()
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func newModuleDeleteCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "delete NAME@VERSION", Short: "Delete a stored version (refused while a tree runs it or it is active)", Args: cobra.ExactArgs(1)}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		name, version, err := moduleRef(args[0])
		if err != nil {
			return err
		}
		r, err := g.dialModules(cmd)
		if err != nil {
			return err
		}
		defer r.done()
		if _, err := r.c.Delete(r.ctx, &pb.DeleteModuleRequest{Name: name, Version: version}); err != nil {
			return g.rpcError(err)
		}
		fmt.Fprintf(cmd.OutOrStdout(), "Module %s@%s deleted\n", name, version)
		return nil
	}
	return cmd
}
