package node

import (
	"bytes"
	"fmt"
	"log"
	"reflect"
	"regexp"

	"github.com/hashicorp/go-hclog"
)

// levelWriter is the io.Writer under a standard-library *log.Logger whose
// lines carry their level as a tag, as memberlist's do:
//
//	[DEBUG] memberlist: Stream connection from=127.0.0.1:50000
//
// It logs each line through hclog at the tag's level (a line without a tag
// at INFO), without the tag, without prefix (the component's name, already
// the logger's name) and without a leading standard-library date and time,
// so that hclog's level filter applies and each line has one timestamp.
// Give the *log.Logger flags 0: log.New(w, "", 0).
type levelWriter struct {
	logger hclog.Logger
	prefix []byte
}

func newLevelWriter(logger hclog.Logger, prefix string) *levelWriter {
	return &levelWriter{logger: logger, prefix: []byte(prefix)}
}

// stdTimestamp is what log.LstdFlags (and log.Lmicroseconds) put first.
var stdTimestamp = regexp.MustCompile(`^\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}(\.\d+)? `)

var levelTags = []struct {
	tag   []byte
	level hclog.Level
}{
	{[]byte("[TRACE]"), hclog.Trace},
	{[]byte("[DEBUG]"), hclog.Debug},
	{[]byte("[INFO]"), hclog.Info},
	{[]byte("[WARN]"), hclog.Warn},
	{[]byte("[ERR]"), hclog.Error},
	{[]byte("[ERROR]"), hclog.Error},
}

func (w *levelWriter) Write(p []byte) (int, error) {
	for _, line := range bytes.Split(p, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		if loc := stdTimestamp.FindIndex(line); loc != nil {
			line = line[loc[1]:]
		}
		level := hclog.Info
		for _, t := range levelTags {
			if bytes.HasPrefix(line, t.tag) {
				level, line = t.level, bytes.TrimSpace(line[len(t.tag):])
				break
			}
		}
		line = bytes.TrimPrefix(line, w.prefix)
		w.logger.Log(level, string(line))
	}
	return len(p), nil
}

// newMemberlistLogger is memberlist's logger: its lines go to logger at
// their own level, and those that tell of this node suspecting a member
// mark it suspect in members (gossipLog).
func newMemberlistLogger(logger hclog.Logger, members *memberTable) *log.Logger {
	return log.New(&gossipLog{members: members, out: newLevelWriter(logger, "memberlist: ")}, "", 0)
}

// plainArgs is an hclog.Logger that hands its key/value pairs on as the
// text format prints them (fmt's %v, so through their String method) when
// they are neither plain values nor values hclog formats itself. hclog's
// JSON format marshals values with encoding/json, and some of Raft's are
// structs without exported fields: "leader", "follower" and "node" are a
// *raft.Raft and came out as {}; "peer" in the replication lines is a
// raft.Server and came out as a JSON object; "command" in "updating
// configuration" is a number. With plainArgs they read as in the text
// format: "Node at 127.0.0.1:7402 [Leader]", "{Voter n2 127.0.0.1:7502}",
// "AddVoter".
type plainArgs struct {
	hclog.Logger
}

func (l plainArgs) Log(level hclog.Level, msg string, args ...interface{}) {
	l.Logger.Log(level, msg, plainValues(args)...)
}

func (l plainArgs) Trace(msg string, args ...interface{}) {
	l.Logger.Trace(msg, plainValues(args)...)
}

func (l plainArgs) Debug(msg string, args ...interface{}) {
	l.Logger.Debug(msg, plainValues(args)...)
}

func (l plainArgs) Info(msg string, args ...interface{}) {
	l.Logger.Info(msg, plainValues(args)...)
}

func (l plainArgs) Warn(msg string, args ...interface{}) {
	l.Logger.Warn(msg, plainValues(args)...)
}

func (l plainArgs) Error(msg string, args ...interface{}) {
	l.Logger.Error(msg, plainValues(args)...)
}

func (l plainArgs) With(args ...interface{}) hclog.Logger {
	return plainArgs{l.Logger.With(plainValues(args)...)}
}

func (l plainArgs) Named(name string) hclog.Logger { return plainArgs{l.Logger.Named(name)} }

func (l plainArgs) ResetNamed(name string) hclog.Logger {
	return plainArgs{l.Logger.ResetNamed(name)}
}

// plainValues returns args with every value (odd position) that is not
// plain replaced by its %v text.
func plainValues(args []interface{}) []interface{} {
	var out []interface{}
	for i := 1; i < len(args); i += 2 {
		if plain(args[i]) {
			continue
		}
		if out == nil {
			out = append([]interface{}(nil), args...)
		}
		out[i] = fmt.Sprintf("%v", args[i])
	}
	if out == nil {
		return args
	}
	return out
}

// plain reports whether hclog's JSON format prints v as the text format
// does: nil, errors, hclog's own formatting types, and values of basic
// kinds (or slices of them) without a String method.
func plain(v interface{}) bool {
	switch v.(type) {
	case nil, error, hclog.Format, hclog.Hex, hclog.Octal, hclog.Binary, hclog.Quote, hclog.CapturedStacktrace:
		return true
	case fmt.Stringer:
		return false
	}
	k := reflect.TypeOf(v).Kind()
	if k == reflect.Slice || k == reflect.Array {
		k = reflect.TypeOf(v).Elem().Kind()
	}
	switch k {
	case reflect.Bool, reflect.String,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return true
	}
	return false
}
