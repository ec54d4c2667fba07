name = "web"
child "w1" {
  behavior     = "counter"
  strategy     = "one_for_all"
  max_restarts = 2
  max_seconds  = 3
}
child "w2" {
  behavior = "counter"
  child "x" { behavior = "echo" }
}
child "s1" {
  type     = "supervisor"
  behavior = "counter"
  args     = { a = "b" }
  name     = "sup"
}
