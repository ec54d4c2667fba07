package hotcode

import (
	"fmt"
	"strconv"
	"strings"
)

// A module version is 1 to 4 dot-separated decimal numbers ("3", "1.2",
// "1.2.0"); versions compare number by number, a missing number counting
// as 0 ("1.2" == "1.2.0").
const maxVersionParts = 4

type version []uint32

func parseVersion(s string) (version, error) {
	parts := strings.Split(s, ".")
	if s == "" || len(parts) > maxVersionParts {
		return nil, fmt.Errorf("version %q: want 1 to %d dot-separated numbers", s, maxVersionParts)
	}
	v := make(version, len(parts))
	for i, p := range parts {
		if p == "" || len(p) > 9 || strings.TrimLeft(p, "0123456789") != "" || (len(p) > 1 && p[0] == '0') {
			return nil, fmt.Errorf("version %q: %q is not a number without leading zeros", s, p)
		}
		n, _ := strconv.ParseUint(p, 10, 32)
		v[i] = uint32(n)
	}
	return v, nil
}

func (v version) compare(w version) int {
	for i := 0; i < max(len(v), len(w)); i++ {
		var a, b uint32
		if i < len(v) {
			a = v[i]
		}
		if i < len(w) {
			b = w[i]
		}
		switch {
		case a < b:
			return -1
		case a > b:
			return 1
		}
	}
	return 0
}

// CompareVersions compares two module versions: -1, 0 or 1.
func CompareVersions(a, b string) (int, error) {
	va, err := parseVersion(a)
	if err != nil {
		return 0, err
	}
	vb, err := parseVersion(b)
	if err != nil {
		return 0, err
	}
	return va.compare(vb), nil
}

// A version range is "*" (any version) or comma-separated constraints, all
// of which must hold: "OP VERSION" with OP one of = >= > <= < (= when
// omitted). Example: ">=1.2, <2".
type constraint struct {
	op string
	v  version
}

func parseRange(s string) ([]constraint, error) {
	if strings.TrimSpace(s) == "*" {
		return nil, nil
	}
	var out []constraint
	for _, part := range strings.Split(s, ",") {
		p := strings.TrimSpace(part)
		op := "="
		for _, o := range []string{">=", "<=", "=", ">", "<"} {
			if strings.HasPrefix(p, o) {
				op, p = o, strings.TrimSpace(p[len(o):])
				break
			}
		}
		v, err := parseVersion(p)
		if err != nil {
			return nil, fmt.Errorf("version range %q: %w", s, err)
		}
		out = append(out, constraint{op, v})
	}
	return out, nil
}

// MatchRange reports whether version v is within range rng.
func MatchRange(rng, v string) (bool, error) {
	cs, err := parseRange(rng)
	if err != nil {
		return false, err
	}
	vv, err := parseVersion(v)
	if err != nil {
		return false, err
	}
	for _, c := range cs {
		d := vv.compare(c.v)
		ok := map[string]bool{"=": d == 0, ">=": d >= 0, ">": d > 0, "<=": d <= 0, "<": d < 0}[c.op]
		if !ok {
			return false, nil
		}
	}
	return true, nil
}
