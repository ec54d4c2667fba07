package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

// What a command sends is checked here against the limit the agent
// enforces, before anything is sent: a file too large is refused with its
// name, its size and the limit, not by gRPC ("trying to send message larger
// than max") nor after a round trip. Standard input is read up to the limit
// and no further.

// commandName is a command's path without the binary: "kv put".
func commandName(cmd *cobra.Command) string {
	return strings.TrimPrefix(cmd.CommandPath(), cmd.Root().Name()+" ")
}

// sizeText renders a limit for people: "512 KiB", "1 MiB", "1.0 GiB".
func sizeText(n int64) string {
	for _, u := range []struct {
		size int64
		name string
	}{{1 << 30, "GiB"}, {1 << 20, "MiB"}, {1 << 10, "KiB"}} {
		switch {
		case n >= u.size && n%u.size == 0:
			return fmt.Sprintf("%d %s", n/u.size, u.name)
		case n >= u.size:
			return fmt.Sprintf("%.1f %s", float64(n)/float64(u.size), u.name)
		}
	}
	return fmt.Sprintf("%d B", n)
}

// tooLarge is the error for an input over its limit; size < 0: more than
// the limit, by how much unknown (standard input is not read further).
func tooLarge(cmd *cobra.Command, what string, size, limit int64) error {
	if size < 0 {
		return &cliError{msg: fmt.Sprintf("%s: %s is larger than the limit of %d bytes (%s)", commandName(cmd), what, limit, sizeText(limit)), code: 1}
	}
	return &cliError{msg: fmt.Sprintf("%s: %s is %d bytes; the limit is %d (%s)", commandName(cmd), what, size, limit, sizeText(limit)), code: 1}
}

// readInput reads the file at path, or standard input for "-", refusing
// more than limit bytes. noun names the content in errors: "spec" gives
// "spec file web.hcl" and "spec on standard input".
func readInput(cmd *cobra.Command, noun, path string, limit int64) ([]byte, error) {
	if path == "-" {
		b, err := io.ReadAll(io.LimitReader(cmd.InOrStdin(), limit+1))
		if err != nil {
			return nil, fmt.Errorf("%s: %s on standard input: %w", commandName(cmd), noun, err)
		}
		if int64(len(b)) > limit {
			return nil, tooLarge(cmd, noun+" on standard input", -1, limit)
		}
		return b, nil
	}
	what := noun + " file " + path
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %s file: %w", commandName(cmd), noun, err)
	}
	defer f.Close()
	if err := checkFileSize(cmd, f, what, limit); err != nil {
		return nil, err
	}
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", commandName(cmd), what, err)
	}
	if int64(len(b)) > limit {
		return nil, tooLarge(cmd, what, -1, limit) // grew, or not a regular file
	}
	return b, nil
}

// checkFileSize refuses a regular file over limit without reading it.
func checkFileSize(cmd *cobra.Command, f *os.File, what string, limit int64) error {
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("%s: %s: %w", commandName(cmd), what, err)
	}
	if st.Mode().IsRegular() && st.Size() > limit {
		return tooLarge(cmd, what, st.Size(), limit)
	}
	return nil
}
