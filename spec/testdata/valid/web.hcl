# The same tree as web.json.
name         = "web"
node         = "n1"
strategy     = "one_for_one"
max_restarts = 3
max_seconds  = 5

child "c1" {
  behavior = "counter"
  restart  = "permanent"
}

# Module children: following the active version, and pinned.
child "m1" { module = "tally" }
child "m2" {
  module = "tally@2"
  args   = { start = "5" }
}

child "sub" {
  type     = "supervisor"
  strategy = "rest_for_one"

  child "w1" {
    behavior = "echo"
    name     = "echo_one"
    args     = { greeting = "hi" }
  }
  child "w2" {
    behavior = "echo"
    restart  = "transient"
    shutdown = "brutal_kill"
  }
}
