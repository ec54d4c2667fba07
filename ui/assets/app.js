// steward dashboard: a single-page application with hash routes, plain
// JavaScript, no dependency. Data comes from the agent's /ui/api/ JSON
// endpoints; the live feed (/ui/api/stream, server-sent events) carries
// the cluster's runtime events and change notifications, on which the
// view on screen refetches what changed. Nothing polls on a timer.
"use strict";

(function () {
  const TOKEN_KEY = "steward.token";
  const MAX_EVENTS = 2000; // events kept in the page for the events view
  const MAX_ROWS = 500; // rows of the events table
  const REFETCH_DELAY_MS = 150; // coalesces a burst of notifications into one fetch

  // ---- small helpers -------------------------------------------------

  // h builds an element: h("a", {href: "#/x", class: "y"}, "text", child...).
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
      else if (k === "width%") el.style.width = v + "%";
      else el.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children.flat()) {
      if (c === undefined || c === null || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }

  const SVG_NS = "http://www.w3.org/2000/svg";
  function s(tag, attrs, ...children) {
    const el = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
    for (const c of children.flat()) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return el;
  }

  function badge(text, cls) {
    return h("span", { class: "badge " + (cls || text || "").replace(/\s+/g, "-") }, text || "-");
  }

  // time formats a protojson int64 of Unix nanoseconds ("0": none).
  function time(ns) {
    const n = Number(ns || 0);
    if (!n) return "-";
    const d = new Date(n / 1e6);
    return d.toLocaleTimeString([], { hour12: false }) + "." + String(d.getMilliseconds()).padStart(3, "0");
  }
  function dateTime(ns) {
    const n = Number(ns || 0);
    return n ? new Date(n / 1e6).toLocaleString([], { hour12: false }) : "-";
  }

  function token() { return localStorage.getItem(TOKEN_KEY) || ""; }

  // api GETs a dashboard endpoint with the token; rejects with the
  // server's error message.
  async function api(path) {
    const headers = {};
    if (token()) headers["X-Steward-Token"] = token();
    const resp = await fetch("/ui/api/" + path, { headers });
    let body;
    try { body = await resp.json(); } catch (e) { body = { error: resp.statusText }; }
    if (!resp.ok) {
      const err = new Error(body.error || resp.statusText);
      err.status = resp.status;
      throw err;
    }
    return body;
  }

  function errorBox(err) {
    const hint = err.status === 403 ? " (paste a token with the permission in the box above)" : "";
    return h("p", { class: "error", "data-error": err.status || "" }, String(err.message) + hint);
  }

  // ---- routing -------------------------------------------------------

  // parseHash: "#/trees/web?x=1" -> {view: "trees", arg: "web", query: URLSearchParams}.
  function parseHash() {
    const raw = location.hash.replace(/^#\/?/, "");
    const [p, q] = raw.split("?");
    const parts = p.split("/").filter(Boolean).map(decodeURIComponent);
    return { view: parts[0] || "members", arg: parts.slice(1).join("/"), query: new URLSearchParams(q || "") };
  }

  const views = {};
  let current = null; // {route, view, refresh()}

  function route() {
    const r = parseHash();
    const v = views[r.view] || views.members;
    for (const a of document.querySelectorAll("#nav a")) a.classList.toggle("active", a.dataset.view === r.view);
    const main = document.getElementById("view");
    main.replaceChildren();
    main.dataset.view = r.view;
    current = { route: r, view: v };
    v.show(main, r);
  }

  // Refetches are coalesced per key: a burst of events makes one fetch.
  const pending = new Map();
  function later(key, f) {
    if (pending.has(key)) return;
    pending.set(key, setTimeout(() => { pending.delete(key); f(); }, REFETCH_DELAY_MS));
  }

  // ---- members -------------------------------------------------------

  // role is a member's part in the cluster as the dashboard names it.
  function role(m) {
    if (m.mode === "client") return "client agent";
    switch (m.raft_role) {
      case "leader": return "leader";
      case "voter": return "follower";
      case "nonvoter": return "non-voter";
      default: return m.raft_role || "none";
    }
  }

  views.members = {
    topics: ["members", "leader", "nodes", "*"],
    show(main) {
      const box = h("section", { id: "members-view" }, h("h2", {}, "Members"));
      main.append(box);
      this.box = box;
      this.load();
    },
    async load() {
      const box = this.box;
      let d;
      try { d = await api("members"); } catch (e) { box.replaceChildren(h("h2", {}, "Members"), errorBox(e)); return; }
      const st = d.status || {};
      const ms = (d.members.members || []).slice().sort((a, b) => a.name.localeCompare(b.name));
      const rows = ms.map((m) => h("tr", { "data-member": m.name, "data-role": role(m), "data-status": m.status },
        h("td", {}, h("a", { href: "#/trees?node=" + encodeURIComponent(m.name) }, m.name)),
        h("td", {}, badge(role(m))),
        h("td", {}, badge(m.status)),
        h("td", { class: "mono" }, m.grpc_addr),
        h("td", { class: "mono" }, m.version),
        h("td", {}, (m.violations || []).length ? badge((m.violations || []).join(", "), "failed") : h("span", { class: "muted" }, "none")),
        h("td", {}, h("a", { href: "#/events?node=" + encodeURIComponent(m.name) }, "events"))));
      box.replaceChildren(
        h("h2", {}, "Members"),
        h("p", { class: "muted" }, "Asked ", d.node, ": leader ", h("strong", { id: "leader" }, st.leader || "none"),
          ", term ", st.term, ", commit index ", st.commit_index, ", ", String(ms.length), " members."),
        h("table", { id: "members" },
          h("thead", {}, h("tr", {}, ["node", "raft role", "gossip", "gRPC", "version", "over thresholds", ""].map((t) => h("th", {}, t)))),
          h("tbody", {}, rows)));
    },
    onChange() { later("members", () => this.load()); },
  };

  // ---- trees ---------------------------------------------------------

  const expanded = new Set(); // trees whose processes are shown

  views.trees = {
    topics: ["trees", "nodes", "*"],
    show(main, r) {
      if (r.arg) expanded.add(r.arg);
      this.node = r.query.get("node") || "";
      this.focus = r.arg;
      this.box = h("section", { id: "trees-view" }, h("h2", {}, "Supervision trees"));
      main.append(this.box);
      this.load();
    },
    async load() {
      let d;
      try { d = await api("trees"); } catch (e) { this.box.replaceChildren(h("h2", {}, "Supervision trees"), errorBox(e)); return; }
      let trees = d.trees.trees || [];
      if (this.node) trees = trees.filter((t) => t.node === this.node);
      trees.sort((a, b) => a.name.localeCompare(b.name));
      const byNode = new Map();
      for (const t of trees) {
        if (!byNode.has(t.node)) byNode.set(t.node, []);
        byNode.get(t.node).push(t);
      }
      const head = h("h2", {}, "Supervision trees", this.node ? " on " + this.node : "",
        this.node ? h("a", { href: "#/trees", class: "muted" }, "  (all nodes)") : "");
      const bodies = new Map([...this.box.querySelectorAll("details.tree")].map((d) => [d.dataset.tree, d.querySelector(".tree-body")]));
      const out = [head];
      if (!trees.length) out.push(h("p", { class: "muted", id: "no-trees" }, "No trees. Apply one with: steward sup apply FILE"));
      for (const [node, ts] of byNode) {
        const sec = h("div", { class: "panel", "data-node": node }, h("h3", {}, "node ", h("a", { href: "#/events?node=" + encodeURIComponent(node) }, node)));
        for (const t of ts) sec.append(this.treeBlock(t, bodies));
        out.push(sec);
      }
      this.box.replaceChildren(...out);
      for (const t of trees) if (expanded.has(t.name)) this.loadTree(t.name);
    },
    // treeBlock is one tree, collapsed or expanded; an expanded one keeps
    // what it showed until its refetch answers, so a refresh does not
    // flicker.
    treeBlock(t, bodies) {
      const body = (bodies && bodies.get(t.name)) || h("div", { class: "tree-body" }, h("p", { class: "muted" }, "loading…"));
      const det = h("details", { class: "tree", "data-tree": t.name, "data-status": t.status, open: expanded.has(t.name) },
        h("summary", {}, t.name, badge(t.status || "unknown"),
          h("span", { class: "muted" }, "  ", t.strategy, ", ", String(t.processes), " processes, root ", t.root_pid || "-"),
          t.reason ? h("span", { class: "error" }, " ", t.reason) : ""),
        body);
      det.addEventListener("toggle", () => {
        if (det.open) { expanded.add(t.name); this.loadTree(t.name); } else expanded.delete(t.name);
      });
      return det;
    },
    async loadTree(name) {
      const det = this.box.querySelector(`details.tree[data-tree="${CSS.escape(name)}"]`);
      if (!det) return;
      const body = det.querySelector(".tree-body");
      let d;
      try { d = await api("trees/" + encodeURIComponent(name)); } catch (e) { body.replaceChildren(errorBox(e)); return; }
      const tv = d.tree;
      body.replaceChildren(
        h("p", { class: "muted" }, "on ", tv.node, ", ", badge(tv.status), " applied index ", tv.applied_index, tv.reason ? " — " + tv.reason : ""),
        tv.root ? h("ul", { class: "children" }, procItem(name, tv.root, "")) : h("p", { class: "muted" }, "not running"));
    },
    onChange() { later("trees", () => this.load()); },
    onEvent(e) {
      if (!e.tree) return;
      if (expanded.has(e.tree)) later("tree:" + e.tree, () => this.loadTree(e.tree));
      if (/^tree_|^supervisor_|restarted|spawned|exited/.test(e.type)) later("trees", () => this.load());
    },
  };

  // procItem renders one process of a tree and, for a supervisor, its
  // children (collapsible).
  function procItem(tree, n, path) {
    const line = h("span", { class: "proc" },
      h("strong", {}, n.id || "(root)"),
      h("span", { class: "kind" }, n.type),
      badge(n.state || "-"),
      h("span", { class: "mono" }, n.pid || "-"),
      h("span", { class: "muted" }, n.behavior || n.strategy || ""),
      h("span", { class: "restarts", title: "restarts" }, "restarts ", String(n.restarts || 0)),
      n.dynamic ? badge("dynamic") : "");
    const attrs = { "data-child": path, "data-pid": n.pid || "", "data-state": n.state || "", "data-restarts": String(n.restarts || 0) };
    const kids = n.children || [];
    if (!kids.length) return h("li", attrs, line);
    const ul = h("ul", { class: "children" }, kids.map((k) => procItem(tree, k, path ? path + "/" + k.id : k.id)));
    return h("li", attrs, h("details", { class: "sup", open: true }, h("summary", {}, line), ul));
  }

  // ---- plans ---------------------------------------------------------

  function stageDone(st) { return ["succeeded", "failed", "skipped", "cancelled"].includes(st.status); }

  function progress(plan) {
    const stages = plan.stages || [];
    const done = stages.filter(stageDone).length;
    const pct = stages.length ? Math.round((100 * done) / stages.length) : 0;
    return { done, total: stages.length, bar: h("span", { class: "progress", title: done + "/" + stages.length + " stages" }, h("span", { "width%": pct })) };
  }

  views.plans = {
    topics: ["plans", "*"],
    show(main, r) {
      this.id = r.arg;
      this.box = h("section", { id: "plans-view" });
      main.append(this.box);
      this.load();
    },
    load() { return this.id ? this.loadPlan() : this.loadList(); },
    async loadList() {
      let d;
      try { d = await api("plans"); } catch (e) { this.box.replaceChildren(h("h2", {}, "Plans"), errorBox(e)); return; }
      const plans = (d.plans.plans || []).slice().sort((a, b) => Number(b.created_at_unix_nano) - Number(a.created_at_unix_nano));
      const rows = plans.map((p) => {
        const pr = progress(p);
        return h("tr", { "data-plan": p.id, "data-status": p.status, "data-done": pr.done, "data-total": pr.total },
          h("td", { class: "mono" }, h("a", { href: "#/plans/" + encodeURIComponent(p.id) }, p.id)),
          h("td", {}, badge(p.status)), h("td", {}, p.safety_level), h("td", {}, String(p.operations)),
          h("td", {}, pr.bar, " ", pr.done + "/" + pr.total), h("td", {}, dateTime(p.created_at_unix_nano)),
          h("td", { class: "muted" }, p.reason || ""));
      });
      this.box.replaceChildren(h("h2", {}, "Plans"),
        plans.length ? h("table", { id: "plans" },
          h("thead", {}, h("tr", {}, ["id", "status", "safety", "operations", "progress", "created", "reason"].map((t) => h("th", {}, t)))),
          h("tbody", {}, rows)) : h("p", { class: "muted" }, "No plans. Run one with: steward apply PLAN"));
    },
    async loadPlan() {
      let d;
      try { d = await api("plans/" + encodeURIComponent(this.id)); } catch (e) { this.box.replaceChildren(h("h2", {}, "Plan ", this.id), errorBox(e)); return; }
      this.box.replaceChildren(h("p", {}, h("a", { href: "#/plans" }, "← all plans")), planDetail(d.plan));
    },
    onChange() { later("plans", () => this.load()); },
  };

  // planDetail is a plan with its stages (phases, rollbacks) and each
  // node's step in them.
  function planDetail(p) {
    const pr = progress(p);
    const stages = (p.stages || []).map((st, i) => h("div", { class: "stage " + st.status, "data-stage": st.key, "data-status": st.status },
      h("div", {}, h("strong", {}, st.kind, " ", String(st.phase)), " ", badge(st.status)),
      h("div", { class: "muted" }, (st.operations || []).join(", ")),
      h("div", {}, (st.steps || []).map((sp) => h("div", { class: "mono" }, sp.node, " ", badge(sp.status)))),
      st.reason ? h("div", { class: "error" }, st.reason) : "",
      i === p.current && p.status === "running" ? h("div", { class: "muted" }, "current") : ""));
    return h("div", { id: "plan", class: "panel", "data-plan": p.id, "data-status": p.status, "data-done": pr.done, "data-total": pr.total },
      h("h2", {}, "Plan ", h("span", { class: "mono" }, p.id), " ", badge(p.status)),
      h("p", {}, pr.bar, " ", h("span", { id: "plan-progress" }, pr.done + "/" + pr.total + " stages"),
        h("span", { class: "muted" }, "  safety ", p.safety_level, ", ", String(p.operations), " operations, submitted by ", p.submitted_by || "-",
          ", created ", dateTime(p.created_at_unix_nano), Number(p.finished_at_unix_nano) ? ", finished " + dateTime(p.finished_at_unix_nano) : "")),
      p.reason ? h("p", { class: "error" }, p.reason) : "",
      h("div", { class: "stages" }, stages));
  }

  // ---- deployments ---------------------------------------------------

  views.deployments = {
    topics: ["deployments", "plans", "*"],
    show(main, r) {
      this.id = r.arg;
      this.box = h("section", { id: "deployments-view" });
      main.append(this.box);
      this.load();
    },
    async load() {
      if (this.id) {
        let d;
        try { d = await api("deployments/" + encodeURIComponent(this.id)); } catch (e) { this.box.replaceChildren(h("h2", {}, "Deployment ", this.id), errorBox(e)); return; }
        const v = d.deployment, dep = v.deployment || {};
        const rows = (v.progress || []).map((g) => h("tr", {}, h("td", {}, g.node), h("td", {}, String(g.phase)), h("td", {}, g.stage),
          h("td", {}, `${g.done}/${g.total}`, g.failed ? ` (${g.failed} failed)` : ""), h("td", {}, badge(g.status))));
        this.box.replaceChildren(h("p", {}, h("a", { href: "#/deployments" }, "← all deployments")),
          h("div", { class: "panel", id: "deployment", "data-status": dep.status },
            h("h2", {}, "Deployment ", h("span", { class: "mono" }, dep.id), " ", badge(dep.status)),
            h("p", {}, dep.module, "@", dep.version, " from ", (dep.from_versions || []).join(", ") || "-", ", safety ", dep.safety, ", ", String(dep.targets), " targets",
              dep.paused ? " — paused" : "", dep.status_description ? " — " + dep.status_description : ""),
            h("table", {}, h("thead", {}, h("tr", {}, ["node", "phase", "stage", "done", "status"].map((t) => h("th", {}, t)))), h("tbody", {}, rows))),
          v.plan && v.plan.id ? planDetail(v.plan) : "");
        return;
      }
      let d;
      try { d = await api("deployments"); } catch (e) { this.box.replaceChildren(h("h2", {}, "Deployments"), errorBox(e)); return; }
      const deps = d.deployments.deployments || [];
      const rows = deps.map((v) => {
        const dep = v.deployment || v;
        return h("tr", { "data-deployment": dep.id },
          h("td", { class: "mono" }, h("a", { href: "#/deployments/" + encodeURIComponent(dep.id) }, dep.id)),
          h("td", {}, dep.module, "@", dep.version), h("td", {}, badge(dep.status)), h("td", {}, dep.safety),
          h("td", {}, String(dep.targets)), h("td", {}, dateTime(dep.created_at_unix_nano)));
      });
      this.box.replaceChildren(h("h2", {}, "Deployments"),
        deps.length ? h("table", {}, h("thead", {}, h("tr", {}, ["id", "module", "status", "safety", "targets", "created"].map((t) => h("th", {}, t)))), h("tbody", {}, rows))
          : h("p", { class: "muted" }, "No deployments."));
    },
    onChange() { later("deployments", () => this.load()); },
  };

  // ---- events --------------------------------------------------------

  const events = []; // every event received, oldest first (bounded)
  // seen holds each event's key, so that the history a reconnected feed
  // sends first adds no duplicate. A node counts seq from 1 again when it
  // restarts: the time is part of the key.
  const seen = new Set();
  const eventKey = (e) => e.node + "/" + e.seq + "/" + e.time_unix_nano;

  function addEvent(e) {
    const key = eventKey(e);
    if (seen.has(key)) return false;
    seen.add(key);
    events.push(e);
    if (events.length > MAX_EVENTS) seen.delete(eventKey(events.shift()));
    return true;
  }

  views.events = {
    show(main, r) {
      this.filter = { node: r.query.get("node") || "", kind: r.query.get("kind") || "", q: r.query.get("q") || "" };
      const nodes = [...new Set(events.map((e) => e.node))].sort();
      const kinds = [...new Set(events.map((e) => e.type))].sort();
      const sel = (name, values, label) => h("select", { name, onchange: (ev) => this.set(name, ev.target.value) },
        h("option", { value: "" }, label), [...new Set([...values, this.filter[name]].filter(Boolean))].map((v) => h("option", { value: v, selected: v === this.filter[name] }, v)));
      const q = h("input", { name: "q", type: "search", placeholder: "text (tree, pid, reason…)", value: this.filter.q });
      q.addEventListener("input", () => { this.filter.q = q.value; this.render(); });
      q.addEventListener("change", () => this.set("q", q.value));
      this.body = h("tbody", {});
      this.count = h("span", { class: "muted" });
      main.append(h("section", { id: "events-view" }, h("h2", {}, "Events"),
        h("div", { class: "filters" }, sel("node", nodes, "all nodes"), sel("kind", kinds, "all kinds"), q, this.count),
        h("table", { id: "events" }, h("thead", {}, h("tr", {}, ["time", "node", "kind", "tree/child", "pid", "reason", "detail"].map((t) => h("th", {}, t)))), this.body)));
      this.render();
    },
    // set records a filter in the hash, so the view can be linked to.
    set(name, value) {
      this.filter[name] = value;
      const p = new URLSearchParams();
      for (const [k, v] of Object.entries(this.filter)) if (v) p.set(k, v);
      history.replaceState(null, "", "#/events" + (p.toString() ? "?" + p : ""));
      this.render();
    },
    match(e) {
      const f = this.filter;
      if (f.node && e.node !== f.node) return false;
      if (f.kind && e.type !== f.kind) return false;
      if (f.q) {
        const t = [e.node, e.type, e.tree, e.child_id, e.pid, e.reason, e.detail].join(" ").toLowerCase();
        if (!t.includes(f.q.toLowerCase())) return false;
      }
      return true;
    },
    row(e) {
      const where = e.tree ? h("a", { href: "#/trees/" + encodeURIComponent(e.tree) }, e.tree + (e.child_id ? "/" + e.child_id : "")) : "-";
      return h("tr", { class: "event " + e.type, "data-type": e.type, "data-node": e.node, "data-tree": e.tree || "", "data-child": e.child_id || "", "data-pid": e.pid || "" },
        h("td", { class: "mono" }, time(e.time_unix_nano)),
        h("td", {}, h("a", { href: "#/members" }, e.node)),
        h("td", {}, e.type),
        h("td", {}, where),
        h("td", { class: "mono" }, e.pid || "-"),
        h("td", {}, e.reason || ""),
        h("td", { class: "muted" }, linkPlans(e.detail || "")));
    },
    render() {
      const shown = events.filter((e) => this.match(e));
      // Newest first, at most MAX_ROWS.
      this.body.replaceChildren(...shown.slice(-MAX_ROWS).reverse().map((e) => this.row(e)));
      this.count.textContent = `${shown.length} of ${events.length} events`;
    },
    onEvent(e) {
      if (!this.match(e)) return;
      this.body.prepend(this.row(e));
      while (this.body.rows.length > MAX_ROWS) this.body.lastElementChild.remove();
      this.count.textContent = `${events.filter((x) => this.match(x)).length} of ${events.length} events`;
    },
  };

  // linkPlans turns plan ids (plan-..., 16+ hex) in a text into links.
  function linkPlans(text) {
    const out = [];
    let last = 0;
    const re = /\b(plan[-_:]?[0-9a-f]{6,}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\b/g;
    for (let m; (m = re.exec(text));) {
      out.push(text.slice(last, m.index), h("a", { href: "#/plans/" + encodeURIComponent(m[1]) }, m[1]));
      last = m.index + m[1].length;
    }
    out.push(text.slice(last));
    return out;
  }

  // ---- sandboxes -----------------------------------------------------

  views.sandboxes = {
    topics: ["sandboxes", "experiments", "*"],
    show(main, r) {
      this.name = r.arg;
      this.box = h("section", { id: "sandboxes-view" });
      main.append(this.box);
      this.load();
    },
    async load() {
      let d;
      try { d = await api("sandboxes"); } catch (e) { this.box.replaceChildren(h("h2", {}, "Sandboxes"), errorBox(e)); return; }
      const sbs = (d.sandboxes.sandboxes || []).map((v) => Object.assign({ policy: v.policy || {} }, v.sandbox || {}));
      const rows = sbs.map((sb) => h("tr", { "data-sandbox": sb.name },
        h("td", {}, h("a", { href: "#/sandboxes/" + encodeURIComponent(sb.name) }, sb.name)),
        h("td", {}, h("a", { href: "#/trees/" + encodeURIComponent(sb.tree || sb.name) }, sb.node || "-")),
        h("td", {}, badge(sb.status)), h("td", {}, sb.policy.isolation || sb.policy.isolation_level || ""), h("td", { class: "muted" }, sb.reason || "")));
      const out = [h("h2", {}, "Sandboxes"),
        sbs.length ? h("table", { id: "sandboxes" }, h("thead", {}, h("tr", {}, ["name", "node", "status", "isolation", "reason"].map((t) => h("th", {}, t)))), h("tbody", {}, rows))
          : h("p", { class: "muted" }, "No sandboxes. Create one with: steward sandbox create FILE")];
      this.box.replaceChildren(...out);
      if (this.name) this.loadGraph(this.name);
    },
    async loadGraph(name) {
      const panel = h("div", { class: "panel", id: "interactions", "data-sandbox": name }, h("h3", {}, "Interactions of ", name), h("p", { class: "muted" }, "loading…"));
      this.box.append(panel);
      let d;
      try { d = await api("sandboxes/" + encodeURIComponent(name) + "/interactions"); } catch (e) { panel.replaceChildren(h("h3", {}, "Interactions of ", name), errorBox(e)); return; }
      const view = (d.interactions && d.interactions.view) || {};
      // Messages are not events: the graph is refetched on a sandbox's
      // change or violation, or with the button.
      const again = h("button", { type: "button", onclick: () => { panel.remove(); this.loadGraph(name); } }, "Refresh");
      panel.replaceChildren(h("h3", {}, "Interactions of ", name, h("span", { class: "muted" }, " on ", d.interactions.node, view.flow_traced === false ? " (flow tracing off)" : ""), " ", again),
        graph(view.interactions || []));
    },
    onChange() { later("sandboxes", () => this.load()); },
    onEvent(e) { if (this.name && e.type === "sandbox_violation") later("sandboxes", () => this.load()); },
  };

  // graph draws an interaction graph as inline SVG: processes on a circle
  // (inside the sandbox blue, outside red), an arrow per sender -> receiver
  // with its message count, dashed red when it crosses the boundary.
  function graph(list) {
    if (!list.length) return h("p", { class: "muted" }, "No interactions recorded.");
    const label = (who, tree, child) => (child ? (tree ? tree + "/" : "") + child : who);
    const vs = new Map();
    for (const it of list) {
      const a = label(it.from, it.from_tree, it.from_child_id), b = label(it.to, it.to_tree, it.to_child_id);
      if (!vs.has(a)) vs.set(a, { inside: it.from_inside });
      if (!vs.has(b)) vs.set(b, { inside: it.to_inside });
    }
    const names = [...vs.keys()].sort();
    const W = 720, H = Math.max(320, 60 * names.length), cx = W / 2, cy = H / 2, R = Math.min(cx, cy) - 70;
    names.forEach((n, i) => {
      const a = (2 * Math.PI * i) / names.length - Math.PI / 2;
      Object.assign(vs.get(n), { x: cx + R * Math.cos(a), y: cy + R * Math.sin(a) });
    });
    const svg = s("svg", { class: "graph", width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: "img" },
      s("defs", {}, s("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 24, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" },
        s("path", { d: "M 0 0 L 10 5 L 0 10 z", fill: "#8596ad" }))));
    for (const it of list) {
      const a = vs.get(label(it.from, it.from_tree, it.from_child_id)), b = vs.get(label(it.to, it.to_tree, it.to_child_id));
      const mx = (a.x + b.x) / 2 + (b.y - a.y) * 0.12, my = (a.y + b.y) / 2 - (b.x - a.x) * 0.12;
      svg.append(s("path", { class: "edge" + (it.crosses ? " crosses" : ""), d: `M ${a.x} ${a.y} Q ${mx} ${my} ${b.x} ${b.y}`, "marker-end": "url(#arrow)" },
        s("title", {}, `${it.from} → ${it.to}: ${it.count} messages (${it.pattern || ""})`)));
      svg.append(s("text", { x: mx, y: my, "text-anchor": "middle", fill: "#4a5568" }, String(it.count)));
    }
    for (const n of names) {
      const v = vs.get(n);
      svg.append(s("g", { "data-vertex": n }, s("circle", { class: "vertex" + (v.inside ? "" : " outside"), cx: v.x, cy: v.y, r: 18 }),
        s("text", { x: v.x, y: v.y + 34, "text-anchor": "middle" }, n)));
    }
    return svg;
  }

  // ---- the live feed -------------------------------------------------

  let source = null;

  function connect() {
    if (source) source.close();
    const live = document.getElementById("live");
    const url = "/ui/api/stream" + (token() ? "?token=" + encodeURIComponent(token()) : "");
    source = new EventSource(url);
    live.dataset.live = "connecting";
    live.textContent = "connecting";
    source.addEventListener("hello", (m) => {
      const d = JSON.parse(m.data);
      live.dataset.live = "open";
      live.textContent = "live · " + d.node;
      document.getElementById("footer").textContent = `Served by ${d.node}. Live feed: the last ${d.history_events} events per node, then every new one.`;
      // Anything may have changed while the feed was down.
      if (current && current.view.onChange) current.view.onChange(["*"]);
    });
    source.addEventListener("event", (m) => {
      const e = JSON.parse(m.data);
      if (!addEvent(e)) return;
      if (current && current.view.onEvent) current.view.onEvent(e);
    });
    source.addEventListener("change", (m) => {
      const topics = JSON.parse(m.data).topics || [];
      const v = current && current.view;
      if (v && v.onChange && v.topics && topics.some((t) => v.topics.includes(t))) v.onChange(topics);
    });
    source.addEventListener("dropped", (m) => {
      addEvent({ node: "-", seq: "0", type: "events_dropped", detail: JSON.parse(m.data).dropped + " events dropped: the page read too slowly", time_unix_nano: String(Date.now() * 1e6) });
    });
    source.onerror = () => {
      live.dataset.live = "closed";
      // EventSource reconnects by itself (the server's retry: delay) unless
      // the server refused (a 403 without a token that may read events, a
      // 503 past the agent's feeds): then it stays closed until the token
      // changes or the page reloads.
      live.textContent = source.readyState === EventSource.CLOSED ? "live feed refused (a token?)" : "reconnecting";
    };
  }

  document.getElementById("token-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const v = document.getElementById("token").value.trim();
    if (v) localStorage.setItem(TOKEN_KEY, v); else localStorage.removeItem(TOKEN_KEY);
    connect();
    route();
  });
  document.getElementById("token").value = token();

  window.addEventListener("hashchange", route);
  connect();
  route();
})();
