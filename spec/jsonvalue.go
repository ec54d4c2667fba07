package spec

import "github.com/steward/steward/internal/strictjson"

// JSON files are decoded with internal/strictjson, which keeps keys in
// order and exact spelling so that unknown and duplicate keys are refused
// with their paths; these adapters report its problems as this package's.

type jsonValue = strictjson.Value

const (
	jsonNull   = strictjson.Null
	jsonBool   = strictjson.Boolean
	jsonNumber = strictjson.Number
	jsonString = strictjson.String
	jsonArray  = strictjson.Array
	jsonObject = strictjson.Object
)

// Syntax reports a syntax problem at path (strictjson.Reporter).
func (ps *problems) Syntax(path, format string, args ...any) {
	ps.add(ErrSyntax, path, format, args...)
}

func parseJSONValue(data []byte) (*jsonValue, error) { return strictjson.Parse(data) }

func jsonFields(ps *problems, v *jsonValue, path string, known []string, fn func(key, path string, val *jsonValue)) {
	strictjson.Fields(ps, v, path, known, fn)
}

func jsonStr(ps *problems, path string, v *jsonValue) string { return strictjson.Str(ps, path, v) }

func jsonInt(ps *problems, path string, v *jsonValue) int { return strictjson.Int(ps, path, v) }

func jsonStringMap(ps *problems, path string, v *jsonValue) map[string]string {
	return strictjson.StringMap(ps, path, v)
}
