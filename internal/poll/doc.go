// Package poll is the one loop that tries something until it is done,
// waiting a growing interval between tries: Until, with its Backoff. It
// is for conditions nothing announces (another node's answer, a Raft index
// read through an API without a watch); a condition the replicated state
// or a runtime event announces is waited for on that (state.Store's
// WaitChange, runtime subscriptions), not polled.
//
// It owns only the loop and its waits, on an internal/clock.Clock, so a
// test of a caller can drive it with a manual clock. It must not decide
// what is retried: the function it calls says whether it is done and
// which error ends the loop.
package poll
