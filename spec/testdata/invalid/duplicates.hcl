name = "web"
child "c1" {
  behavior = "counter"
  name     = "db"
}
child "c2" { behavior = "counter" }
child "c1" { behavior = "echo" }
child "sub" {
  type = "supervisor"
  child "c1" {
    behavior = "counter"
    name     = "db"
  }
  child "c2" {
    behavior = "counter"
    name     = "cache"
  }
  child "c2" {
    behavior = "counter"
    name     = "cache"
  }
}
