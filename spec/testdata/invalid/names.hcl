name = "web app!"
node = "n 1"
child "a/b" { behavior = "counter" }
child "" { behavior = "counter" }
child "w" {
  behavior = "counter"
  name     = "9lives"
}
child "x" {
  behavior = "counter"
  args     = { "bad key" = "v" }
}
