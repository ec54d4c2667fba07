package coordination

// Claims is how many steps this node's executor holds claims for (tests).
func (l *Layer) Claims() int { return l.exec.claims() }
