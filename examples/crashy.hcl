# A tree that crashes, to watch restarts and restart intensity at work.
#
#   bin/steward sup apply examples/crashy.hcl
#   bin/steward events -f --tree crashy          # in another terminal
#
# "flaky" crashes on every 5th message; "poker" sends it one every second,
# so it crashes and is restarted every 5 seconds: 2 restarts in 10 seconds,
# within the intensity (3 in 10). Crash it by hand a few times in a row,
#
#   bin/steward proc send tree:crashy/flaky crash
#
# and the 4th restart within 10 seconds exceeds the intensity: the root
# supervisor stops its children and exits (supervisor_escalated), the tree
# fails (tree_failed), and the node starts it again after a backoff
# (tree_restart_scheduled, then spec_applied).
tree "crashy" {
  strategy     = "one_for_one"
  max_restarts = 3
  max_seconds  = 10

  child "flaky" {
    behavior = "crasher"
    name     = "flaky"
    args     = { crash_after = "5", reason = "flaky crashed" }
  }

  child "poker" {
    behavior = "ticker"
    args     = { target = "flaky", interval = "1s", body = "poke" }
  }
}
