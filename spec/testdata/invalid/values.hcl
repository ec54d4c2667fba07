name         = "web"
strategy     = "one_for_some"
max_restarts = -1
max_seconds  = 99999
child "a" {
  type     = "process"
  behavior = "counter"
}
child "b" {
  behavior = "counter"
  shutdown = "forever"
}
child "c" {
  behavior = "counter"
  shutdown = "-1s"
}
child "d" {
  behavior = "counter"
  shutdown = "1h"
}
child "e" {
  behavior = "counter"
  shutdown = "brutal_kill"
}
child "f" {
  type         = "supervisor"
  max_restarts = 1001
}
