package behaviors

import "github.com/steward/steward/actor"

// Version is the version of every native behavior.
const Version = "1"

// Natives lists the native behaviors' catalog entries.
func Natives() []actor.Entry {
	return []actor.Entry{
		{Name: "counter", Version: Version, New: NewCounter},
		{Name: "kv", Version: Version, New: NewKV},
		{Name: "echo", Version: Version, New: NewEcho},
		{Name: "ticker", Version: Version, New: NewTicker},
		{Name: "crasher", Version: Version, New: NewCrasher},
	}
}

// Register adds the natives to c.
func Register(c *actor.Catalog) error {
	for _, e := range Natives() {
		if err := c.Register(e); err != nil {
			return err
		}
	}
	return nil
}

// NewCatalog returns a catalog holding the natives.
func NewCatalog() *actor.Catalog {
	c := actor.NewCatalog()
	if err := Register(c); err != nil {
		// The natives have distinct valid names; this cannot happen.
		panic(err)
	}
	return c
}
