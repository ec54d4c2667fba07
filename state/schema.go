package state

import (
	"fmt"
	"sort"

	"github.com/hashicorp/go-memdb"
	"google.golang.org/protobuf/proto"
)

// tableDef is one table: its memdb schema and how its records travel in a
// snapshot. Every table registers one from its own file.
type tableDef struct {
	// tag identifies the table's records in a snapshot stream. Tags are
	// appended, never reused.
	tag    byte
	schema *memdb.TableSchema
	// newRecord returns an empty record to decode a snapshot entry into.
	newRecord func() proto.Message
	// external is set for a table kept outside go-memdb (the kv table,
	// Store.kv): it has no memdb table, only its rows in the index table
	// and its place in snapshots.
	external bool
}

var tables = map[string]tableDef{}

// registerTable adds a table; a duplicate name or tag is a programming error
// caught at start-up.
func registerTable(def tableDef) {
	name := def.schema.Name
	if _, ok := tables[name]; ok {
		panic(fmt.Sprintf("state: table %q registered twice", name))
	}
	for other, d := range tables {
		if d.tag == def.tag {
			panic(fmt.Sprintf("state: snapshot tag %d used by %q and %q", def.tag, other, name))
		}
	}
	tables[name] = def
}

// tableNames lists the tables in a fixed order, so that snapshots are
// deterministic.
func tableNames() []string {
	names := make([]string, 0, len(tables))
	for n := range tables {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func schema() *memdb.DBSchema {
	s := &memdb.DBSchema{Tables: map[string]*memdb.TableSchema{}}
	for name, def := range tables {
		if !def.external {
			s.Tables[name] = def.schema
		}
	}
	return s
}

func tableByTag(tag byte) (string, tableDef, bool) {
	for name, def := range tables {
		if def.tag == tag {
			return name, def, true
		}
	}
	return "", tableDef{}, false
}
