# Failure drills: children that fail the ways supervision must handle
# (actor/behaviors/doc.go, "Failure drills"), to watch what a supervisor
# does about each.
#
#   bin/steward sup apply examples/drills.hcl
#   bin/steward events -f --tree drills          # in another terminal
#
# Hold a restart at a gate, look, let it go:
#
#   bin/steward proc send tree:drills/gate "close held" --kind cast
#   bin/steward proc send tree:drills/held crash --kind cast
#   bin/steward sup tree drills                  # the restart is under way
#   bin/steward proc send tree:drills/gate "open held" --kind cast
#
# A restart that takes 1 s (restarted after it):
#
#   bin/steward proc send tree:drills/slow crash --kind cast
#
# A restart that fails, then its retries, to escalation (start_failed,
# supervisor_escalated, tree_failed; the node starts the tree again after
# a backoff, and flaky's first start then fails too, as its count is kept
# per key on the node: "reset flaky" to the gate makes the next a first):
#
#   bin/steward proc send tree:drills/flaky crash --kind cast
#   bin/steward proc send tree:drills/gate "reset flaky" --kind cast
#
# Stopping the tree (sup delete drills) stops the children in reverse
# order: stubborn ignores its stop and is killed after its 500ms shutdown
# (shutdown_timeout), slowstop's 3 s Terminate is killed the same way.
tree "drills" {
  strategy     = "one_for_one"
  max_restarts = 3
  max_seconds  = 10

  child "gate" {
    behavior = "gate"
  }

  child "held" {
    behavior = "gated_start"
    args     = { gate = "held" }
  }

  child "slow" {
    behavior = "slow_start"
    args     = { start_ms = "1000" }
  }

  child "flaky" {
    behavior = "flaky_start"
    args     = { key = "flaky" }
  }

  child "slowstop" {
    behavior = "slow_stop"
    args     = { stop_ms = "3000" }
    shutdown = "500ms"
  }

  child "stubborn" {
    behavior = "stubborn"
    shutdown = "500ms"
  }
}
