# Three counters following the module's active version, for the
# deployment walkthrough in the README:
#
#   bin/steward sup apply examples/modules/counters.hcl
#   bin/steward deploy counter@2 --canary 1 --max-parallel 2 --min-healthy-time 200ms
tree "counters" {
  strategy     = "one_for_one"
  max_restarts = 5
  max_seconds  = 10

  child "c1" { module = "counter" }
  child "c2" { module = "counter" }
  child "c3" { module = "counter" }
}
