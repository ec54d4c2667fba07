# Start two instances in the simple_one_for_one pool of examples/pool.hcl,
# each with its own args, then check one answers. Try it after
# `bin/steward sup apply examples/pool.hcl`:
#
#   bin/steward apply examples/plans/grow-pool.hcl --watch
#   bin/steward sup tree pool
safety_level = "moderate"

operation "worker-a" {
  type = "start_child"
  target { supervisor = "pool" }
  params {
    args = { prefix = "a: " }
  }
}

operation "worker-b" {
  type = "start_child"
  target { supervisor = "pool" }
  params {
    args = { prefix = "b: " }
  }
}
