name = "web"
child "a" {
  behavior = "echo"
  module   = "tally"
}
child "b" { module = "-tally" }
child "c" { module = "tally@" }
child "d" { module = "tally@01" }
child "e" { module = "tally@1.2.3.4.5" }
child "f" { module = "nope" }
child "g" { module = "tally@9" }
child "h" { module = "tally@2" }
child "s" {
  type   = "supervisor"
  module = "tally"
}
