name = "web"
child "c1" { behavior = "counter" }
child "sub" {
  type = "supervisor"
  child "w" {
    behavior = "echo"
    restart  = "sometimes"
  }
}
