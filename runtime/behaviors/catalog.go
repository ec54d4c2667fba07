package behaviors

import "github.com/steward/steward/runtime"

// Version is the version of every native behavior.
const Version = "1"

// Natives lists the native behaviors' catalog entries.
func Natives() []runtime.Entry {
	return []runtime.Entry{
		{Name: "counter", Version: Version, New: NewCounter},
		{Name: "kv", Version: Version, New: NewKV},
		{Name: "echo", Version: Version, New: NewEcho},
		{Name: "ticker", Version: Version, New: NewTicker},
		{Name: "crasher", Version: Version, New: NewCrasher},
	}
}

// Register adds the natives to c.
func Register(c *runtime.Catalog) error {
	for _, e := range Natives() {
		if err := c.Register(e); err != nil {
			return err
		}
	}
	return nil
}

// NewCatalog returns a catalog holding the natives.
func NewCatalog() *runtime.Catalog {
	c := runtime.NewCatalog()
	if err := Register(c); err != nil {
		// The natives have distinct valid names; this cannot happen.
		panic(err)
	}
	return c
}
