name = "web"
child "a" { behavior = "nope" }
child "b" {}
child "c" { behavior = "has space" }
child "d" { behavior = "echo" }
