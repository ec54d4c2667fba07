package behaviors

import "github.com/steward/steward/actor"

// Version is the version of every native behavior.
const Version = "1"

// Natives lists the native behaviors' catalog entries: the five
// application behaviors and the failure drills, bound to a fresh Drills
// on the system clock (each call makes its own).
func Natives() []actor.Entry {
	return append(apps(), NewDrills(actor.SystemClock()).Entries()...)
}

// apps are the natives that hold no runtime-wide state.
func apps() []actor.Entry {
	return []actor.Entry{
		{Name: "counter", Version: Version, New: NewCounter},
		{Name: "kv", Version: Version, New: NewKV},
		{Name: "echo", Version: Version, New: NewEcho},
		{Name: "ticker", Version: Version, New: NewTicker},
		{Name: "crasher", Version: Version, New: NewCrasher},
	}
}

// Register adds the natives to c, the drills with a Drills of their own.
func Register(c *actor.Catalog) error {
	return register(c, Natives())
}

// RegisterWith adds the natives to c, the drills bound to d.
func RegisterWith(c *actor.Catalog, d *Drills) error {
	return register(c, append(apps(), d.Entries()...))
}

func register(c *actor.Catalog, entries []actor.Entry) error {
	for _, e := range entries {
		if err := c.Register(e); err != nil {
			return err
		}
	}
	return nil
}

// NewCatalog returns a catalog holding the natives, the drills sharing
// one Drills on the system clock (one runtime's).
func NewCatalog() *actor.Catalog { return NewCatalogWith(NewDrills(actor.SystemClock())) }

// NewCatalogWith returns a catalog holding the natives, the drills bound
// to d: a test passes a Drills on a manual clock and drives it (Open,
// Starts, Release).
func NewCatalogWith(d *Drills) *actor.Catalog {
	c := actor.NewCatalog()
	if err := RegisterWith(c, d); err != nil {
		// The natives have distinct valid names; this cannot happen.
		panic(err)
	}
	return c
}
