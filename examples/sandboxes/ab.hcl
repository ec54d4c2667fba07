# An experiment: two sandboxes created together, all or nothing, placed by
# the leader (node "auto": on different nodes when the cluster has them).
# "ab-fast" pings its echo every 50ms, "ab-slow" every 500ms; compare puts
# their messages, callbacks and latency side by side.
#
#   bin/steward experiment create examples/sandboxes/ab.hcl   # each part's status as it starts
#   bin/steward experiment watch ab                           # from another terminal
#   bin/steward experiment status ab
#   bin/steward experiment compare ab                         # one column per sandbox
#   bin/steward experiment destroy ab
#
# If a part cannot be set up (say, a limit its tree does not fit in), or its
# node is lost, or the deadline passes first, every part is removed and the
# experiment is failed with the reason (experiment status ab shows it).
name     = "ab"
deadline = "60s"

sandbox "ab-fast" {
  node      = "auto"
  isolation = "strict"
  limits {
    max_processes = 5
  }
  tree {
    child "echo" {
      behavior = "echo"
      name     = "ab-fast-echo"
    }
    child "pinger" {
      behavior = "ticker"
      args     = { target = "ab-fast-echo", interval = "50ms" }
    }
  }
}

sandbox "ab-slow" {
  node      = "auto"
  isolation = "strict"
  limits {
    max_processes = 5
  }
  tree {
    child "echo" {
      behavior = "echo"
      name     = "ab-slow-echo"
    }
    child "pinger" {
      behavior = "ticker"
      args     = { target = "ab-slow-echo", interval = "500ms" }
    }
  }
}
