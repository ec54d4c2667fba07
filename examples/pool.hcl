# A simple_one_for_one supervisor: its one child is a template, and
# instances of it ("worker-1", "worker-2", ...) are started on demand, each
# with its own args merged over the template's. They are not part of the
# spec: applying the spec again keeps them, and each is restarted on its
# own (here: only after a crash, as restart is transient).
#
#   bin/steward sup apply examples/pool.hcl
#   bin/steward sup tree pool
tree "pool" {
  strategy     = "simple_one_for_one"
  max_restarts = 10
  max_seconds  = 60

  child "worker" {
    behavior = "echo"
    restart  = "transient"
    shutdown = "2s"
    args     = { prefix = "pool: " }
  }
}
