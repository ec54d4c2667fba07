# The same tree as web.json, written as one tree block, defaults spelled out
# differently.
tree "web" {
  node         = "n1"
  max_restarts = 3

  child "c1" {
    behavior = "counter"
    shutdown = "5000ms"
  }
  child "m1" {
    module  = "tally"
    restart = "permanent"
  }
  child "m2" {
    module = "tally@2"
    args   = { start = "5" }
  }

  child "sub" {
    type     = "supervisor"
    strategy = "rest_for_one"
    max_seconds = 5

    child "w1" {
      type     = "worker"
      behavior = "echo"
      name     = "echo_one"
      args     = { "greeting" = "hi" }
    }
    child "w2" {
      behavior = "echo"
      restart  = "transient"
      shutdown = "brutal_kill"
    }
  }
}
