// The reports page: asks /api/reports/{queues|agents|adherence|conversations|fcr|surveys} for the
// period, draws the chart (bars: volume; line: service level for queues, occupancy for agents,
// adherence to the schedule, the share answered for conversations, first-contact resolution, CSAT
// for surveys; 0..100 %) as the supervisor console draws its own, and
// the table beneath; the CSV and XLSX links ask the same URL with format=csv / xlsx.
"use strict";
(() => {
  const { $, el } = window.cc;
  const form = $("#filters");
  const headings = {
    start: t("Interval"), queue: t("Queue"), channel: t("Channel"), line: t("Line"), all: t("All"), agent: t("Agent"), offered: t("Offered"), answered: t("Answered"),
    answered_in_sl: t("Answered in SL"), service_level: t("Service level"), abandoned: t("Abandoned"),
    short_abandoned: t("Short abandons"), abandon_rate: t("Abandon rate"), asa: t("ASA (s)"),
    longest_wait: t("Longest wait (s)"), average_talk: t("Avg talk (s)"), average_hold: t("Avg hold (s)"),
    average_wrap_up: t("Avg wrap-up (s)"), aht: t("AHT (s)"), transfers: t("Transfers"),
    callbacks_requested: t("Callbacks requested"), callbacks_completed: t("Callbacks completed"),
    overflowed: t("Overflowed"), exited: t("Exited"), logged_in: t("Logged in (s)"), available: t("Available (s)"),
    offered_s: t("Ringing (s)"), busy: t("Busy (s)"), wrap_up: t("Wrap-up (s)"), paused: t("Paused (s)"),
    occupancy: t("Occupancy"), utilization: t("Utilization"), contacts: t("Contacts"), talk: t("Talk (s)"),
    handled: t("Handled"), resolved: t("Resolved"), repeated: t("Repeated"),
    repeated_elsewhere: t("Repeated on another channel"), pending: t("Pending"), fcr: t("FCR"),
    conversations: t("Conversations"), replied: t("Replied"), average_first_response: t("Avg first response (s)"),
    longest_first_response: t("Longest first response (s)"), average_resolution: t("Avg resolution (s)"),
    scheduled_minutes: t("Scheduled (min)"), working_minutes: t("Working (min)"),
    in_adherence_minutes: t("In adherence (min)"), out_of_adherence_minutes: t("Out of adherence (min)"),
    adherence: t("Adherence"),
    messages_in: t("Messages in"), messages_out: t("Messages out"), messages_per_conversation: t("Messages per conversation"),
    asked: t("Surveys asked"), response_rate: t("Response rate"), csat_answers: t("CSAT answers"),
    satisfied: t("Satisfied (4-5)"), csat: t("CSAT"), csat_average: t("Average CSAT (1-5)"), nps_answers: t("NPS answers"), promoters: t("Promoters (9-10)"),
    passives: t("Passives (7-8)"), detractors: t("Detractors (0-6)"), nps: t("NPS"), low: t("Low scores"),
  };
  const heading = (kind, name) => {
    if (kind === "agents" && name === "offered") return headings.offered_s;
    if (kind === "surveys" && name === "answered") return t("Surveys answered");
    if (name.startsWith("pause:")) return t("Paused: {reason} (s)", { reason: name.slice(6) });
    if (name.startsWith("handled:")) return t("Handled: {channel}", { channel: name.slice(8) });
    return headings[name] || name;
  };
  const ratios = new Set(["service_level", "abandon_rate", "occupancy", "utilization", "fcr", "response_rate", "csat", "adherence"]);
  const pct = (x) => (x === null || x === undefined ? "–" : window.ccLocale.percent(x));

  function params() {
    const data = new FormData(form), query = new URLSearchParams();
    const kind = $("#report").value;
    const extra = kind === "fcr" ? ["by", "days"] : kind === "agents" || kind === "adherence" ? [] : ["by"];
    for (const name of ["from", "to", "interval", "queue", "agent", "channel", "line"].concat(extra)) {
      const value = String(data.get(name) || "").trim();
      if (value) query.set(name, value);
    }
    return query;
  }

  // Per interval: the volume (bars) and a ratio from summed counts (line), whatever the rows' split.
  function series(kind, columns, rows) {
    const col = (name) => columns.indexOf(name);
    const by = new Map();
    for (const row of rows) {
      const p = by.get(row[0]) || { start: row[0], volume: 0, num: 0, den: 0 };
      if (kind === "conversations") {
        p.volume += row[col("conversations")];
        p.num += row[col("answered")];
        p.den += row[col("conversations")];
      } else if (kind === "surveys") {
        p.volume += row[col("answered")];
        p.num += row[col("satisfied")];
        p.den += row[col("csat_answers")];
      } else if (kind === "fcr") {
        p.volume += row[col("handled")];
        p.num += row[col("resolved")];
        p.den += row[col("resolved")] + row[col("repeated")];
      } else if (kind === "adherence") {
        p.volume += row[col("scheduled_minutes")];
        p.num += row[col("in_adherence_minutes")];
        p.den += row[col("scheduled_minutes")];
      } else if (kind === "queues") {
        p.volume += row[col("offered")];
        p.num += row[col("answered_in_sl")];
        p.den += row[col("answered")] + row[col("abandoned")] - row[col("short_abandoned")];
      } else {
        const work = row[col("offered")] + row[col("busy")] + row[col("wrap_up")];
        p.volume += row[col("contacts")];
        p.num += work;
        p.den += work + row[col("available")];
      }
      by.set(row[0], p);
    }
    return [...by.values()].sort((a, b) => (a.start < b.start ? -1 : 1));
  }

  const SVG = "http://www.w3.org/2000/svg";
  function chart(kind, pts) {
    const w = 720, h = 200, left = 40, right = 40, top = 8, bottom = 22;
    const svg = document.createElementNS(SVG, "svg");
    const peak = Math.max(1, ...pts.map((p) => p.volume));
    const what = kind === "queues" ? t("calls offered and service level")
      : kind === "fcr" ? t("contacts handled and first-contact resolution")
      : kind === "conversations" ? t("conversations and the share answered")
      : kind === "surveys" ? t("surveys answered and CSAT")
      : kind === "adherence" ? t("minutes scheduled and adherence") : t("contacts handled and occupancy");
    svg.setAttribute("class", "chart");
    svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", t("{what}, {n} intervals, peak {peak}", { what, n: pts.length, peak }));
    const add = (tag, attrs, text) => {
      const node = document.createElementNS(SVG, tag);
      for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
      if (text !== undefined) node.textContent = text;
      svg.append(node);
      return node;
    };
    const plotW = w - left - right, plotH = h - top - bottom, n = Math.max(1, pts.length);
    const slot = plotW / n, y = (v) => top + plotH - v * plotH;
    add("rect", { class: "plot", x: left, y: top, width: plotW, height: plotH });
    let d = "";
    pts.forEach((p, i) => {
      if (p.volume) {
        const yy = y(p.volume / peak);
        add("rect", { class: "bar", x: (left + i * slot).toFixed(1), y: yy.toFixed(1), width: Math.max(1, slot - 1).toFixed(1), height: (top + plotH - yy).toFixed(1) });
      }
      if (!p.den) return;
      const cx = left + (i + 0.5) * slot, cy = y(p.num / p.den);
      d += `${d ? "L" : "M"}${cx.toFixed(1)},${cy.toFixed(1)} `;
      add("circle", { class: "dot", cx: cx.toFixed(1), cy: cy.toFixed(1), r: 2.5 });
    });
    if (d) add("path", { class: "ratio", d: d.trim() });
    add("text", { class: "axis", x: left - 4, y: top + 10, "text-anchor": "end" }, window.ccLocale.number(peak));
    add("text", { class: "axis", x: left - 4, y: top + plotH, "text-anchor": "end" }, "0");
    add("text", { class: "axis ratio-axis", x: left + plotW + 4, y: top + 10 }, pct(1));
    add("text", { class: "axis ratio-axis", x: left + plotW + 4, y: top + plotH }, pct(0));
    if (pts.length) {
      add("text", { class: "axis", x: left, y: h - 4 }, pts[0].start);
      add("text", { class: "axis", x: left + plotW, y: h - 4, "text-anchor": "end" }, pts[pts.length - 1].start);
    }
    return svg;
  }

  function table(kind, columns, rows) {
    const head = $("#table thead"), body = $("#table tbody");
    $("#table").classList.toggle("wrap-head", kind === "adherence"); // few columns: long headings wrap
    head.replaceChildren(el("tr", {}, ...columns.map((c) => el("th", { scope: "col" }, heading(kind, c)))));
    if (!rows.length) {
      body.replaceChildren(el("tr", {}, el("td", { colspan: String(columns.length), class: "empty" }, t("No figures for this period."))));
      return;
    }
    body.replaceChildren(...rows.map((row) => el("tr", {}, ...row.map((v, i) => {
      const name = columns[i];
      if (typeof v === "number" || v === null) {
        return el("td", { class: "num" }, ratios.has(name) ? pct(v) : v === null ? "–" : window.ccLocale.number(v));
      }
      return el("td", {}, v);
    }))));
  }

  async function show(event) {
    if (event) event.preventDefault();
    const kind = $("#report").value, query = params();
    const url = `/api/reports/${kind}?${query}`;
    $("#csv").href = `${url}&format=csv`;
    $("#xlsx").href = `${url}&format=xlsx`;
    $("#status").textContent = t("Loading…");
    try {
      const data = await window.cc.api("GET", url);
      const pts = series(kind, data.columns, data.rows);
      $("#chart").replaceChildren(chart(kind, pts));
      $("#legend").textContent = kind === "queues"
        ? t("Bars: calls offered. Line: service level (answered within the queue's threshold / answered and abandoned after the short-abandon threshold).")
        : kind === "conversations"
          ? t("Bars: conversations begun. Line: the share an agent answered. The table has first response and resolution times.")
        : kind === "surveys"
          ? t("Bars: surveys answered. Line: CSAT (answers of 4 or 5 / CSAT answers). The table has NPS: promoters minus detractors, in points from -100 to 100.")
        : kind === "adherence"
          ? t("Bars: minutes on shift. Line: adherence (open for contacts while working, away on breaks / minutes on shift).")
        : kind === "fcr"
          ? t("Bars: contacts handled. Line: first-contact resolution (resolved / resolved and repeated: the customer came back on any channel within the days given; pending contacts are left out).")
          : t("Bars: contacts handled. Line: occupancy (ringing, talking and wrap-up / that and available time).");
      table(kind, data.columns, data.rows);
      $("#status").textContent = t("{n} rows", { n: data.rows.length });
    } catch (err) {
      $("#status").textContent = t("Could not load the report: {error}", { error: err.message });
    }
  }

  // Rows per agent belong to the FCR, conversation and survey reports, the repeat window to FCR; "by" to all
  // but the agents' report.
  function fields() {
    const kind = $("#report").value;
    const perAgent = kind === "fcr" || kind === "conversations" || kind === "surveys";
    $("#by-agent").disabled = !perAgent;
    if (!perAgent && $("#by").value === "agent") $("#by").value = "queue";
    $("#by").disabled = kind === "agents" || kind === "adherence";
    $("#days-field").hidden = kind !== "fcr";
  }

  const today = new Date().toISOString().slice(0, 10);
  $("#from").value = today;
  $("#to").value = today;
  form.addEventListener("submit", show);
  $("#report").addEventListener("change", fields);
  fields();
  show();
})();
