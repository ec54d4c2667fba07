// Package clock is the source of time of the layers above the runtime
// (supervision, coordination, snapshot, the node's leader loop): Clock
// reads the time and arms timers, System is the wall clock, and Manual is
// a clock for tests whose time moves only when the test advances it, so
// that a test of a backoff, a resync or a deadline feeds the clock instead
// of waiting for the wall (thejerf/suture's injected now and after).
//
// WithDeadline and Wait are the context deadline and the pause on a
// Clock; Deadline reads a deadline WithDeadline set.
//
// It owns only time. It must not know of the layers, and it must not be
// used where a timer only bounds a wait for something else to happen (a
// Raft apply, an RPC): those stay on the wall clock, since a manual clock
// would stop them. The runtime has its own clock interface
// (actor.Clock, with AfterFunc); actortest.ManualClock is a Manual.
package clock
