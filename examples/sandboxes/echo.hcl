# A strict sandbox of native behaviors: an echo server, a ticker that pings
# it by its registered name every 200ms, and a kv store. Every process is
# inside the sandbox, so nothing crosses the boundary and verify passes.
#
#   bin/steward sandbox create examples/sandboxes/echo.hcl
#   bin/steward sandbox list
#   bin/steward sandbox inspect echo-box          # usage against each limit, the processes
#   bin/steward sandbox interactions echo-box     # pinger <-> echo, intensive, not crossing
#   bin/steward sandbox trace echo-box --type states
#   bin/steward sandbox violations echo-box       # none
#   bin/steward sandbox verify echo-box           # four checks, each pass (exit 0)
#   bin/steward sandbox destroy echo-box
#
# Strict: a process that sends, links, monitors or looks up anything
# outside the tree is refused (a boundary violation) and killed
# (response = "kill_process").
name      = "echo-box"
node      = "auto"
isolation = "strict"
response  = "kill_process"

trace {
  messages = true
  states   = true
}

limits {
  max_processes    = 10
  max_memory_bytes = 10485760 # 10 MiB
  cpu_percent      = 25
  max_mailbox      = 1000
}

tree {
  strategy = "one_for_one"

  child "echo" {
    behavior = "echo"
    name     = "echo-box-echo"
  }

  child "pinger" {
    behavior = "ticker"
    args     = { target = "echo-box-echo", interval = "200ms", body = "ping" }
  }

  child "store" {
    behavior = "kv"
  }
}
