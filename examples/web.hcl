# A small service to explore supervision with. Apply it with
#
#   bin/steward sup apply examples/web.hcl
#
# No node is named, so the leader places it on the least loaded node
# (--node NODE pins it). examples/web.json is the same tree in JSON.
tree "web" {
  strategy     = "one_for_one"
  max_restarts = 5
  max_seconds  = 10

  # Counts hits: every cast or message adds one ("inc N" adds N);
  # call "get" reads it. The clock below casts "inc" to it every second.
  child "hits" {
    behavior = "counter"
    name     = "hits"
  }

  # A key/value store: call or cast "put KEY VALUE", "del KEY";
  # call "get KEY", "keys", "size".
  child "sessions" {
    behavior = "kv"
    name     = "sessions"
    args     = { max_keys = "1000" }
  }

  # Answers a call with its body, prefixed.
  child "echo" {
    behavior = "echo"
    args     = { prefix = "echo: " }
  }

  # rest_for_one: when a child dies, it and every child started after it
  # restart; the ones before it keep running.
  child "backend" {
    type         = "supervisor"
    strategy     = "rest_for_one"
    max_restarts = 3
    max_seconds  = 5

    child "db" {
      behavior = "kv"
    }
    child "cache" {
      behavior = "kv"
    }
    child "requests" {
      behavior = "counter"
      restart  = "transient"
    }
  }

  # Casts "inc" to the process registered as "hits" every second, looking
  # the name up at each tick, so it follows hits across restarts.
  child "clock" {
    behavior = "ticker"
    args     = { target = "hits", interval = "1s", body = "inc" }
  }
}
