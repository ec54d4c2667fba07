package fielderr

import (
	"strconv"
	"strings"
)

// Join appends a field, or a path starting with an index step, to a path:
// ("children[0]", "restart") -> "children[0].restart", ("args", "[2]") ->
// "args[2]"; an empty side leaves the other as it is.
func Join(prefix, field string) string {
	switch {
	case prefix == "":
		return field
	case field == "":
		return prefix
	case strings.HasPrefix(field, "["):
		return prefix + field
	default:
		return prefix + "." + field
	}
}

// Index appends an index step to a path: ("children", 3) -> "children[3]".
func Index(prefix string, i int) string {
	return prefix + "[" + strconv.Itoa(i) + "]"
}
