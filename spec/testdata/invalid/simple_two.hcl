name = "pool"
child "empty" {
  type     = "supervisor"
  strategy = "simple_one_for_one"
}
child "two" {
  type     = "supervisor"
  strategy = "simple_one_for_one"
  child "a" { behavior = "counter" }
  child "b" { behavior = "counter" }
}
