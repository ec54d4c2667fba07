package main

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/state"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// kvJSON is `steward kv get -o json` and each item of `kv list -o json`.
type kvJSON struct {
	Key         string `json:"key"`
	Value       string `json:"value"`
	Encoding    string `json:"value_encoding"` // utf8 or base64
	CreateIndex uint64 `json:"create_index"`
	ModifyIndex uint64 `json:"modify_index"`
}

func toKVJSON(r *pb.KVRecord) kvJSON {
	j := kvJSON{Key: r.Key, CreateIndex: r.CreateIndex, ModifyIndex: r.ModifyIndex, Encoding: "utf8", Value: string(r.Value)}
	if !utf8.Valid(r.Value) {
		j.Encoding, j.Value = "base64", base64.StdEncoding.EncodeToString(r.Value)
	}
	return j
}

func newKVCmd(g *globals) *cobra.Command {
	kv := &cobra.Command{Use: "kv", Short: "Read and write the operator key/value namespace"}

	put := &cobra.Command{
		Use:   "put KEY VALUE",
		Short: "Write a key (VALUE '-' reads standard input, '@FILE' reads a file)",
		Args:  cobra.ExactArgs(2),
	}
	putCAS := put.Flags().Int64("cas", -1, "check-and-set: write only if the key's modify index is this (0: only if absent)")
	put.RunE = func(cmd *cobra.Command, args []string) error {
		if err := checkKey(cmd, args[0], false); err != nil {
			return err
		}
		value, err := readValue(cmd, args[1], "value", state.MaxKVValueSize)
		if err != nil {
			return err
		}
		c, ctx, done, err := g.connect(cmd)
		if err != nil {
			return err
		}
		defer done()
		resp, err := c.Put(ctx, args[0], value, casFlag(*putCAS))
		if err != nil {
			return g.rpcError(err)
		}
		fmt.Fprintf(cmd.OutOrStdout(), "Success! Data written to: %s (modify index %d)\n", args[0], resp.Entry.ModifyIndex)
		return nil
	}

	get := &cobra.Command{Use: "get KEY", Short: "Read a key", Args: cobra.ExactArgs(1)}
	getOut := outputFlag(get)
	getStale := get.Flags().Bool("stale", false, "answer from the agent's own replica, without the leader")
	get.RunE = func(cmd *cobra.Command, args []string) error {
		if err := checkOutput(*getOut); err != nil {
			return err
		}
		if err := checkKey(cmd, args[0], false); err != nil {
			return err
		}
		c, ctx, done, err := g.connect(cmd)
		if err != nil {
			return err
		}
		defer done()
		resp, err := c.Get(ctx, args[0], *getStale)
		if status.Code(err) == codes.NotFound {
			return &cliError{msg: fmt.Sprintf("not found: no key exists at %q", args[0]), code: 1}
		}
		if err != nil {
			return g.rpcError(err)
		}
		if *getOut == "json" {
			return writeJSON(cmd.OutOrStdout(), toKVJSON(resp.Entry))
		}
		_, err = cmd.OutOrStdout().Write(append(resp.Entry.Value, '\n'))
		return err
	}

	del := &cobra.Command{Use: "delete KEY", Short: "Delete a key (or every key under a prefix)", Args: cobra.ExactArgs(1)}
	delCAS := del.Flags().Int64("cas", -1, "check-and-set: delete only if the key's modify index is this")
	delPrefix := del.Flags().Bool("prefix", false, "delete every key starting with KEY")
	del.RunE = func(cmd *cobra.Command, args []string) error {
		if err := checkKey(cmd, args[0], *delPrefix); err != nil {
			return err
		}
		c, ctx, done, err := g.connect(cmd)
		if err != nil {
			return err
		}
		defer done()
		resp, err := c.KV.Delete(ctx, &pb.KVDeleteRequest{Key: args[0], Cas: casFlag(*delCAS), Prefix: *delPrefix})
		if err != nil {
			return g.rpcError(err)
		}
		fmt.Fprintf(cmd.OutOrStdout(), "Success! Deleted %d key(s)\n", resp.Deleted)
		return nil
	}

	list := &cobra.Command{Use: "list [PREFIX]", Short: "List keys under a prefix", Args: cobra.MaximumNArgs(1)}
	listOut := outputFlag(list)
	listStale := list.Flags().Bool("stale", false, "answer from the agent's own replica, without the leader")
	list.RunE = func(cmd *cobra.Command, args []string) error {
		if err := checkOutput(*listOut); err != nil {
			return err
		}
		prefix := ""
		if len(args) == 1 {
			prefix = args[0]
		}
		if err := checkKey(cmd, prefix, true); err != nil {
			return err
		}
		c, ctx, done, err := g.connect(cmd)
		if err != nil {
			return err
		}
		defer done()
		resp, err := c.KV.List(ctx, &pb.KVListRequest{Prefix: prefix, Read: &pb.ReadOptions{Stale: *listStale}})
		if err != nil {
			return g.rpcError(err)
		}
		items := make([]kvJSON, 0, len(resp.Entries))
		for _, e := range resp.Entries {
			items = append(items, toKVJSON(e))
		}
		w := cmd.OutOrStdout()
		if *listOut == "json" {
			return writeJSON(w, items)
		}
		t := newTable(w, "KEY", "MODIFY_INDEX", "VALUE")
		for _, it := range items {
			t.row(cell(it.Key, 0), it.ModifyIndex, cell(it.Value, 60))
		}
		return t.flush()
	}
	kv.AddCommand(put, get, del, list)
	return kv
}

func casFlag(v int64) *uint64 {
	if v < 0 {
		return nil
	}
	u := uint64(v)
	return &u
}

// checkKey checks a key (or, with prefix, a key prefix, which may be empty)
// by the agent's rules before it is sent: one that breaks them is a usage
// error. A key that is not UTF-8 would otherwise fail in gRPC's encoding.
func checkKey(cmd *cobra.Command, key string, prefix bool) error {
	what := "key"
	if prefix {
		what = "prefix"
	}
	switch {
	case !utf8.ValidString(key):
		return usageError(fmt.Sprintf("%s: %s %s is not valid UTF-8", commandName(cmd), what, quoteShort(key)))
	case len(key) > state.MaxKVKeySize:
		return usageError(fmt.Sprintf("%s: %s is %d bytes; the limit is %d (%s)", commandName(cmd), what, len(key), state.MaxKVKeySize, sizeText(state.MaxKVKeySize)))
	case prefix:
		return nil
	}
	if err := state.ValidateKey(key); err != nil {
		return usageError(fmt.Sprintf("%s: %v", commandName(cmd), err))
	}
	return nil
}

// quoteShort quotes s as Go would, its first 32 bytes only.
func quoteShort(s string) string {
	if len(s) > 32 {
		return strconv.Quote(s[:32]) + "..."
	}
	return strconv.Quote(s)
}

// readValue reads a VALUE argument: itself, '-' for standard input, or
// '@FILE', at most limit bytes. noun names it in errors.
func readValue(cmd *cobra.Command, arg, noun string, limit int64) ([]byte, error) {
	switch {
	case arg == "-":
		return readInput(cmd, noun, "-", limit)
	case strings.HasPrefix(arg, "@"):
		return readInput(cmd, noun, arg[1:], limit)
	case int64(len(arg)) > limit:
		return nil, tooLarge(cmd, noun, int64(len(arg)), limit)
	}
	return []byte(arg), nil
}
