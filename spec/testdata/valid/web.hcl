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
