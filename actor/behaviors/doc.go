// Package behaviors holds the native behaviors a spec can name — counter,
// kv, echo, ticker, crasher — and registers them into a actor.Catalog.
//
// It owns the behaviors' protocols (the message bodies each understands),
// their args and their exported state (JSON). It must not reach into the
// runtime beyond the actor.Behavior and actor.Proc interfaces: a
// behavior here is what a WebAssembly module will be, only compiled in.
//
// Bodies are short text commands, so an operator can type them:
//
//	counter  cast/info "inc [n]" (any other body counts 1); call "get", "inc [n]", "reset"
//	kv       call/cast "put <key> <value>", "del <key>"; call "get <key>", "keys", "size"
//	echo     call: replies the body; cast/info: sends the body back to From
//	ticker   sends its body to a target every interval
//	crasher  "crash" crashes it; call "ping" -> "pong"; "stop" stops it normally
package behaviors
