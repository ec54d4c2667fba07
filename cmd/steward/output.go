package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"unicode"
	"unicode/utf8"

	"github.com/spf13/cobra"
)

// outputFlag adds -o/--output to a read command.
func outputFlag(cmd *cobra.Command) *string {
	var o string
	cmd.Flags().StringVarP(&o, "output", "o", "table", "output format: table or json")
	return &o
}

func checkOutput(o string) error {
	if o != "table" && o != "json" {
		return usageError(fmt.Sprintf("--output %q: must be table or json", o))
	}
	return nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// table writes aligned columns.
type table struct{ tw *tabwriter.Writer }

func newTable(w io.Writer, header ...any) *table {
	t := &table{tw: tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)}
	if len(header) > 0 {
		t.row(header...)
	}
	return t
}

func (t *table) row(cols ...any) {
	for i, c := range cols {
		if i > 0 {
			fmt.Fprint(t.tw, "\t")
		}
		fmt.Fprint(t.tw, c)
	}
	fmt.Fprintln(t.tw)
}

func (t *table) flush() error { return t.tw.Flush() }

// cell makes text safe for a table cell: control characters (a newline
// would break the row, a tab the columns, an escape sequence the terminal)
// and other unprintable runes are escaped as in Go strings (\n, \t, \x1b,
// \u2028), and text longer than max runes (max > 0) is cut to end in
// "...". Backslashes are left as they are; -o json gives the exact text.
func cell(s string, max int) string {
	if max > 0 && utf8.RuneCountInString(s) > max {
		r := []rune(s)
		s = string(r[:max-3]) + "..."
	}
	var b strings.Builder
	for _, r := range s {
		if unicode.IsPrint(r) {
			b.WriteRune(r)
			continue
		}
		q := strconv.QuoteRune(r) // '\n', '\x1b', '\u2028'
		b.WriteString(q[1 : len(q)-1])
	}
	return b.String()
}

// quietAlone refuses --quiet combined with any of the given flags (a
// usage error): -q prints an id and nothing else.
func quietAlone(cmd *cobra.Command, others ...string) error {
	if !cmd.Flags().Changed("quiet") {
		return nil
	}
	for _, o := range others {
		if cmd.Flags().Changed(o) {
			return usageError(fmt.Sprintf("--quiet and --%s cannot be combined", o))
		}
	}
	return nil
}
