operation "a" {
  type       = "kill_process"
  target     { pid = "n1/1" }
  depends_on = ["a"]
}
operation "b" {
  type       = "kill_process"
  target     { pid = "n1/2" }
  depends_on = ["ghost", "c", "c"]
}
operation "c" {
  type       = "kill_process"
  target     { pid = "n1/3" }
  depends_on = ["d"]
}
operation "d" {
  type       = "kill_process"
  target     { pid = "n1/4" }
  depends_on = ["b"]
}
operation "e" {
  type       = "kill_process"
  target     { pid = "n1/5" }
  depends_on = ["f"]
}
operation "f" {
  type       = "kill_process"
  target     { pid = "n1/6" }
  depends_on = ["e"]
}
