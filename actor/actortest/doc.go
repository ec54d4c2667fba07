// Package actortest is the test kit for code built on the process
// runtime: a manual clock that tests advance instead of sleeping, a logger
// that writes to t.Log, and helpers that wait for events or conditions
// with a deadline.
//
// It owns nothing at run time and must not be imported by non-test code.
package actortest
