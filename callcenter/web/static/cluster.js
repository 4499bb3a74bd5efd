// The nodes of the cluster (/admin/cluster, docs/cluster.md "Watching the nodes"): GET /api/cluster
// every 5 seconds, shown as two tables. Nothing to operate: the page only reads.
"use strict";
(() => {
  const { $, el } = window.cc;
  const EVERY_MS = 5000;
  const STATES = { running: t("running"), stopped: t("stopped"), silent: t("silent") };
  const PARTS = { owner: t("routing owner"), follower: t("follower") };
  const SPACES = ["agent", "customer", "supervisor"];

  function say(text) { $("#status").textContent = text; }
  const when = (seconds) => window.ccLocale.date(seconds, { dateStyle: "short", timeStyle: "short" });
  const count = (n) => window.ccLocale.number(n);

  function row(node, here) {
    const part = node.owner_in_database ? "owner" : node.role;
    return el("tr", { "data-node": node.node, class: node.node === here ? "here" : "" },
      el("th", { scope: "row" }, node.node),
      el("td", { class: `part-${part}` }, PARTS[part] || part),
      el("td", { class: `state-${node.state}` }, STATES[node.state] || node.state),
      el("td", {}, t("{seconds} s ago", { seconds: count(Math.round(node.seen_seconds_ago)) })),
      el("td", { class: "when" }, when(node.started_at)),
      ...SPACES.map((space) => el("td", { class: "num" }, count(node.sockets[space] || 0))),
      el("td", {}, `${node.host} · ${node.pid}`),
      el("td", {}, node.version));
  }

  function show(data) {
    $("#nodes tbody").replaceChildren(...data.nodes.map((n) => row(n, data.this_node)));
    $("#streams tbody").replaceChildren(...data.streams.map((s) => el("tr", {},
      el("th", { scope: "row" }, s.name),
      el("td", { class: "num" }, count(s.entries)),
      el("td", { class: "num" }, count(s.unfinished)))));
    $("#no-redis").hidden = data.shared;
    $("#streams").hidden = !data.shared;
    const term = data.term;
    const alone = term && term.token === 0; // one node, no election: it routes, unfenced
    $("#term").textContent = !term ? t("No node has won the routing election yet.")
      : alone ? t("This node routes alone, since {since}.", { since: when(term.since) })
        : data.owner ? t("Routing owner: {node} since {since} (term {token}).", { node: term.node, since: when(term.since), token: count(term.token) })
          : t("Nobody owns the routing: {node} ended its term {token}.", { node: term.node, token: count(term.token) });
    const silent = data.nodes.filter((n) => n.state === "silent").map((n) => n.node);
    const problems = [];
    if (data.problems.includes("database")) problems.push(t("The database did not answer."));
    if (data.problems.includes("redis")) problems.push(t("Redis did not answer: only this node is shown."));
    if (silent.length) problems.push(t("Silent: {nodes}.", { nodes: silent.join(", ") }));
    $("#status").classList.toggle("trouble", problems.length > 0);
    say(problems.length ? problems.join(" ")
      : t("{count} nodes, shown at {time}.", { count: count(data.nodes.length), time: window.ccLocale.time(new Date()) }));
  }

  async function load() {
    try {
      show(await window.cc.api("GET", "/api/cluster"));
    } catch (err) {
      say(err.message);
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    load();
    setInterval(load, EVERY_MS);
  });
})();
