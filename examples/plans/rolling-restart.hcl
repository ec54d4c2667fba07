# A coordinated plan over the tree of examples/web.hcl: pause the request
# counter, restart the backend's cache, then resume the counter and bump
# the hit counter once. Try it after `bin/steward sup apply examples/web.hcl`:
#
#   bin/steward plan examples/plans/rolling-restart.hcl        # dry run: phases, checks, estimates
#   bin/steward apply examples/plans/rolling-restart.hcl --watch
#
# The operations name their targets by tree and child path, so no node has
# to be written here: the leader looks up where the tree runs.
safety_level = "moderate"
timeout      = "30s"

operation "pause-requests" {
  type = "suspend_process"
  target {
    supervisor = "web"
    child_id   = "backend/requests"
  }
}

operation "restart-cache" {
  type = "kill_process"
  target {
    supervisor = "web"
    child_id   = "backend/cache"
  }
  params {
    reason = "planned restart"
  }
  depends_on = ["pause-requests"]
}

operation "resume-requests" {
  type = "resume_process"
  target {
    supervisor = "web"
    child_id   = "backend/requests"
  }
  depends_on = ["restart-cache"]
}

operation "count-it" {
  type = "send_message"
  target {
    supervisor = "web"
    child_id   = "hits"
  }
  params {
    message = "inc 100"
  }
  depends_on = ["restart-cache"]
}
