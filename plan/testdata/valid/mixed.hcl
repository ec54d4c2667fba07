# The same plan as mixed.json.
safety_level = "strict"
timeout      = "120s"

constraints {
  max_parallel           = 4
  max_memory_bytes       = 1073741824
  max_process_count      = 10000
  max_total_queue_length = 5000
  window {
    not_before = "2026-01-01T00:00:00Z"
    not_after  = "2026-01-01T01:00:00Z"
  }
}

operation "a" {
  type = "kill_process"
  node = "n1"
  target {
    supervisor = "web"
    child_id   = "c1"
  }
}

operation "b" {
  type       = "restart_supervisor"
  node       = "n2"
  target { supervisor = "web" }
  depends_on = ["a"]
}

operation "c" {
  type   = "send_message"
  node   = "n1"
  target { name = "db" }
  params { message = "flush" }
}

operation "d" {
  type = "change_supervisor_strategy"
  target {
    supervisor = "web"
    child_id   = "sub"
  }
  params { strategy = "one_for_all" }
}

operation "e" {
  type   = "suspend_process"
  target { pid = "n1/7" }
}

operation "f" {
  type       = "resume_process"
  target     { pid = "n1/7" }
  depends_on = ["e"]
}

operation "g" {
  type   = "start_child"
  target { supervisor = "web" }
  params {
    child "c9" {
      behavior = "counter"
      args     = { start = "1" }
    }
  }
}

operation "h" {
  type   = "start_child"
  target { supervisor = "pool" }
  params {
    args = { n = "1" }
  }
}

operation "i" {
  type   = "terminate_child"
  target { supervisor = "web" }
  params { child_id = "c2" }
}

operation "j" {
  type       = "restart_child"
  target     { supervisor = "web" }
  params     { child_id = "c2" }
  depends_on = ["i"]
}

operation "k" {
  type   = "kill_process"
  target { pid = "n3/12" }
  params { reason = "shutdown" }
}

operation "l" {
  type       = "delete_child"
  target     { supervisor = "web" }
  params     { child_id = "c2" }
  depends_on = ["j"]
}

operation "m" {
  type = "spawn"
  node = "n2"
  params {
    behavior = "counter"
    args     = { start = "5" }
    name     = "tally"
    state    = "{\"count\":7}"
  }
}

operation "n" {
  type       = "send_message"
  node       = "n2"
  target     { name = "tally" }
  params     { message = "inc 1" }
  depends_on = ["m"]
}
