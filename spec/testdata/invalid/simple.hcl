name     = "pool"
strategy = "simple_one_for_one"
child "worker" {
  behavior = "counter"
  name     = "w"
  restart  = "temporary"
}
