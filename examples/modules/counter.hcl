# A tree running the stored WebAssembly counter (examples/modules/counter-v1.wat).
# Push the module first:
#
#   bin/steward module push counter examples/modules/counter-v1.wasm
#   bin/steward sup apply examples/modules/counter.hcl
#
# module = "counter" runs the module's active version (the first version
# pushed, until a deployment moves it) and resolves it again at every
# restart; module = "counter@1" would pin version 1. A stored version also
# runs as the behavior "wasm:NAME@VERSION" (behavior = "wasm:counter@1").
tree "tally" {
  strategy     = "one_for_one"
  max_restarts = 5
  max_seconds  = 10

  # Casts and plain messages: "inc N" adds N, anything else adds 1.
  # Calls: "get" -> the count, "inc [N]" -> the new count, "reset" -> "0".
  child "count" {
    module = "counter"
  }
}
