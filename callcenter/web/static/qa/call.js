// One call: the recording with the transcript following it, flags with evidence, review, calibration.
"use strict";

(() => {
  const id = decodeURIComponent(location.pathname.split("/").pop());
  const player = document.getElementById("player");
  const list = document.getElementById("transcript");
  const status = document.getElementById("status");
  let segments = [];
  let items = [];
  let current = -1;
  let scorecards = [];

  document.getElementById("call-id").textContent = id;

  function jump(seconds) {
    player.currentTime = seconds;
    const playing = player.play();
    if (playing) playing.catch(() => {}); // autoplay refusals leave the position moved
  }

  function follow() {
    const at = player.currentTime;
    let found = -1;
    segments.forEach((s, i) => { if (s.start <= at + 0.05 && at < s.end + 0.3) found = i; });
    if (found === current) return;
    if (current >= 0) { items[current].classList.remove("current"); items[current].firstChild.removeAttribute("aria-current"); }
    current = found;
    if (current >= 0) {
      items[current].classList.add("current");
      items[current].firstChild.setAttribute("aria-current", "true");
      items[current].scrollIntoView({ block: "nearest" });
    }
  }

  function flaggedTimes(checks) {
    const spans = [];
    checks.filter((c) => !c.passed).forEach((c) => c.evidence.forEach((e) => spans.push([e.start, e.end, c.rule])));
    return spans;
  }

  function renderTranscript(data) {
    segments = data.segments.slice().sort((a, b) => a.start - b.start);
    const spans = flaggedTimes(data.checks);
    items = segments.map((s, i) => {
      const rules = spans.filter(([a, b]) => a < s.end && b > s.start).map(([, , r]) => r);
      const button = qa.el("button", { type: "button", "data-start": String(s.start), "aria-label": t("{speaker} at {time}: {text}", { speaker: qa.speaker(s.speaker), time: qa.time(s.start), text: s.text }) + (rules.length ? " " + t("(flagged: {rules})", { rules: rules.join(", ") }) : "") },
        qa.el("span", { class: "time", text: qa.time(s.start) }),
        qa.el("span", { class: "speaker", text: qa.speaker(s.speaker) }),
        qa.el("span", { class: "text", text: s.text }));
      button.addEventListener("click", () => jump(s.start));
      const item = qa.el("li", { class: `${s.speaker}${rules.length ? " flagged" : ""}`, "data-index": String(i) }, button);
      if (rules.length) item.title = t("Flagged: {rules}", { rules: rules.join(", ") });
      return item;
    });
    list.replaceChildren(...items);
  }

  function renderScore(data) {
    const score = document.getElementById("score");
    score.textContent = qa.scoreText(data.score);
    score.className = data.score !== null && data.score < 70 ? "score low" : "score";
    const flags = document.getElementById("flags");
    flags.replaceChildren(...data.flags.map(qa.flag));
    const survey = document.getElementById("survey");
    survey.hidden = !data.survey;
    if (data.survey) {
      const s = data.survey, scale = s.question === "nps" ? 10 : 5;
      survey.textContent = t("The customer's survey ({question}): {score} of {scale}", { question: s.question.toUpperCase(), score: s.score, scale })
        + (s.comment ? " " + t("and wrote: “{comment}”", { comment: s.comment }) : "");
    }
    const checks = data.checks.map((c) => {
      const li = qa.el("li", { class: c.passed ? "passed" : "failed" },
        qa.el("strong", { text: `${c.passed ? "✓" : "✗"} ${c.rule}` }), " " + t("({weight} points): {detail}", { weight: c.weight, detail: c.detail }));
      if (c.evidence.length) {
        const ev = qa.el("ul");
        c.evidence.forEach((e) => {
          const b = qa.el("button", { type: "button", class: "evidence", text: `${qa.time(e.start)}–${qa.time(e.end)} ${qa.speaker(e.speaker)}${e.text ? `: “${e.text}”` : ""}` });
          b.addEventListener("click", () => jump(e.start));
          ev.append(qa.el("li", {}, b));
        });
        li.append(ev);
      }
      return li;
    });
    data.alerts.forEach((a) => {
      const b = qa.el("button", { type: "button", text: `${qa.time(a.evidence.start)} ` + t("emergency word “{word}”", { word: a.word }) });
      b.addEventListener("click", () => jump(a.evidence.start));
      checks.push(qa.el("li", { class: "failed" }, b));
    });
    document.getElementById("checks").replaceChildren(...checks);
  }

  function renderReviews(reviews) {
    document.getElementById("reviews").replaceChildren(...reviews.map((r) =>
      qa.el("li", { text: `${r.reviewer} — ${r.scorecard}: ${r.total} (${window.ccLocale.date(r.at)})${r.comment ? ` — ${r.comment}` : ""}` })));
  }

  function renderForm() {
    const select = document.getElementById("scorecard");
    const card = scorecards.find((c) => c.id === select.value) || scorecards[0];
    const box = document.getElementById("criteria");
    if (!card) { box.textContent = t("No scorecards are configured (qa.scorecards)."); return; }
    box.replaceChildren(...card.criteria.map((c) => {
      const set = qa.el("fieldset", {}, qa.el("legend", { text: t("{criterion} (weight {weight})", { criterion: c.label, weight: c.weight }) }));
      const choices = [];
      for (let v = c.low; v <= c.high; v += 1) choices.push([String(v), String(v)]);
      if (c.not_applicable) choices.push(["na", t("not applicable")]);
      choices.forEach(([value, text]) => {
        const input = qa.el("input", { type: "radio", name: `c-${c.id}`, value, required: true });
        set.append(qa.el("label", {}, input, ` ${text}`));
      });
      return set;
    }));
  }

  async function submitReview(event) {
    event.preventDefault();
    const out = document.getElementById("review-status");
    const card = scorecards.find((c) => c.id === document.getElementById("scorecard").value);
    const answers = {};
    for (const c of card.criteria) {
      const chosen = document.querySelector(`input[name="c-${c.id}"]:checked`);
      if (chosen) answers[c.id] = chosen.value === "na" ? null : Number(chosen.value);
    }
    try {
      const review = await qa.api(`/api/qa/calls/${encodeURIComponent(id)}/reviews`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ scorecard: card.id, answers, comment: document.getElementById("comment").value }),
      });
      out.className = "status";
      out.textContent = t("Saved: total {total}", { total: review.total });
      await refresh();
    } catch (err) {
      out.className = "status error";
      out.textContent = t("Not saved: {error}", { error: err.message });
    }
  }

  async function renderCalibration() {
    const data = await qa.api(`/api/qa/calls/${encodeURIComponent(id)}/calibration`);
    document.getElementById("calibration-mark").checked = data.calibration;
    const summary = document.getElementById("calibration-summary");
    const table = document.getElementById("calibration-table");
    if (!data.scorecard || !data.reviewers.length) { summary.textContent = t("No reviews yet."); table.replaceChildren(); return; }
    summary.textContent = data.complete
      ? (data.worst
        ? t("{count} reviewers on {scorecard}; totals spread {spread} points; largest disagreement: {criterion}.", { count: data.reviewers.length, scorecard: data.scorecard, spread: data.total.spread, criterion: data.worst })
        : t("{count} reviewers on {scorecard}; totals spread {spread} points.", { count: data.reviewers.length, scorecard: data.scorecard, spread: data.total.spread }))
      : t("One reviewer so far on {scorecard}: calibration needs a second.", { scorecard: data.scorecard });
    const head = qa.el("tr", {}, qa.el("th", { scope: "col", text: t("Criterion") }),
      ...data.reviewers.map((r) => qa.el("th", { scope: "col", text: r })),
      qa.el("th", { scope: "col", text: t("Spread") }), qa.el("th", { scope: "col", text: t("Mean") }));
    const rows = data.criteria.map((c) => qa.el("tr", {}, qa.el("th", { scope: "row", text: c.label }),
      ...data.reviewers.map((r) => qa.el("td", { text: c.values[r] === null ? t("n/a") : String(c.values[r]) })),
      qa.el("td", { text: String(c.spread) }), qa.el("td", { text: c.mean === null ? "—" : String(c.mean) })));
    rows.push(qa.el("tr", {}, qa.el("th", { scope: "row", text: t("Total") }),
      ...data.reviewers.map((r) => qa.el("td", { text: String(data.total.values[r]) })),
      qa.el("td", { text: String(data.total.spread) }), qa.el("td", { text: String(data.total.mean) })));
    table.replaceChildren(qa.el("thead", {}, head), qa.el("tbody", {}, ...rows));
  }

  async function refresh() {
    const data = await qa.api(`/api/qa/calls/${encodeURIComponent(id)}`);
    renderReviews(data.reviews);
    await renderCalibration();
    return data;
  }

  async function start() {
    try {
      const data = await qa.api(`/api/qa/calls/${encodeURIComponent(id)}`);
      const names = JSON.parse(document.getElementById("meta").dataset.agents || "{}");
      const agent = data.agent_id ? (names[data.agent_id] ? `${names[data.agent_id]} (${data.agent_id})` : data.agent_id) : "?";
      document.getElementById("meta").textContent =
        [window.ccLocale.date(data.call_at), data.caller ? t("caller {caller}", { caller: data.caller }) : null,
          t("agent {agent}", { agent }), t("queue {queue}", { queue: data.queue || "?" }),
          t("line {line}", { line: data.business_line || "?" }), `${data.engine} (${data.language})`].filter(Boolean).join(" · ");
      player.src = data.audio;
      renderTranscript(data);
      renderScore(data);
      renderReviews(data.reviews);
      scorecards = (await qa.api("/api/qa/scorecards")).scorecards;
      const select = document.getElementById("scorecard");
      select.replaceChildren(...scorecards.map((c) => qa.el("option", { value: c.id, text: c.title })));
      select.addEventListener("change", renderForm);
      renderForm();
      await renderCalibration();
      status.textContent = "";
    } catch (err) {
      status.textContent = t("Error: {error}", { error: err.message });
    }
  }

  player.addEventListener("timeupdate", follow);
  player.addEventListener("seeked", follow);
  document.getElementById("review").addEventListener("submit", submitReview);
  document.getElementById("calibration-mark").addEventListener("change", async (event) => {
    try {
      await qa.api(`/api/qa/calls/${encodeURIComponent(id)}/calibration`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ calibration: event.target.checked }),
      });
    } catch (err) {
      status.textContent = t("Error: {error}", { error: err.message });
    }
  });
  start();
})();
