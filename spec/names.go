package spec

const (
	nameRule           = "must be 1-63 letters, digits, '_', '-' or '.', starting with a letter or digit"
	registeredNameRule = "must be 1-128 letters, digits, '_', '-' or '.', starting with a letter"
)

// ValidName reports whether s is a valid tree name, node name or child id:
// 1 to MaxNameLen bytes of ASCII letters, digits, '_', '-' and '.', the
// first a letter or a digit. (So no '/', which joins nested child ids and
// separates a PID's node from its sequence number.)
func ValidName(s string) bool {
	return len(s) <= MaxNameLen && nameChars(s)
}

// ValidRegisteredName reports whether s is a valid registered process name:
// 1 to MaxRegisteredNameLen bytes of ASCII letters, digits, '_', '-' and
// '.', the first a letter.
func ValidRegisteredName(s string) bool {
	return len(s) <= MaxRegisteredNameLen && nameChars(s) && isLetter(s[0])
}

// nameChars reports whether s is not empty, is made of ASCII letters,
// digits, '_', '-' and '.', and starts with a letter or a digit.
func nameChars(s string) bool {
	if len(s) == 0 || !isAlnum(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && c != '_' && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isAlnum(c byte) bool  { return isLetter(c) || c >= '0' && c <= '9' }
