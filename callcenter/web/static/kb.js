// The knowledge-base page (/kb): search published articles, read one. The article's HTML comes from
// the server already sanitised (markdown-it-py + nh3, callcenter/kb/render.py); the page's
// Content-Security-Policy refuses inline scripts besides. Admins also see drafts, and write: a new
// article or a new version of the one shown (POST/PUT /api/kb/articles), saved as a draft or
// published at once.
"use strict";
(() => {
  const { $, el, api } = window.cc;

  function item(a, score) {
    const link = el("a", { href: `?article=${a.id}`, "data-article": String(a.id) }, a.title);
    link.addEventListener("click", (e) => { e.preventDefault(); open(a.id); });
    const status = { draft: t("draft"), archived: t("archived") }[a.status] || "";
    const meta = [a.language, a.line || t("every line"), status].filter(Boolean).join(" · ");
    return el("li", {}, link, " ", el("small", { class: "muted" }, meta), score === undefined ? "" : el("p", { class: "kb-answer" }, a.answer || ""));
  }

  async function list() {
    const editor = $("#kb-editor");
    const data = await api("GET", `/api/kb/articles?${editor ? "" : "status=published&"}limit=100`);
    $("#kb-list").replaceChildren(...data.articles.map((a) => item(a)));
    if (!data.articles.length) $("#kb-list").append(el("li", { class: "muted" }, t("No articles yet.")));
  }

  async function search(q) {
    const data = await api("GET", `/api/kb/search?q=${encodeURIComponent(q)}`);
    $("#kb-list").replaceChildren(...data.results.map((h) => item(h, h.score)));
    if (!data.results.length) $("#kb-list").append(el("li", { class: "muted" }, t("No article matches.")));
  }

  async function open(id) {
    const a = await api("GET", `/api/kb/articles/${encodeURIComponent(id)}`);
    const shown = a.published || a.latest;
    $("#kb-article-title").textContent = shown ? shown.title : a.title;
    $("#kb-article-meta").textContent = t("Version {version} · {language} · updated {when}", {
      version: shown ? shown.version : a.version, language: a.language, when: window.ccLocale.date(a.updated_at),
    });
    $("#kb-article-body").innerHTML = shown ? shown.html : ""; // sanitised by the server
    $("#kb-article").hidden = false;
    history.replaceState(null, "", `?article=${a.id}`);
    current = a;
  }

  // --- writing (admins) --------------------------------------------------------------------------
  let current = null; // the article shown
  let editing = null; // the article whose new version the form writes (null: a new article)
  function edit(a) {
    const form = $("#kb-form");
    editing = a;
    const latest = a ? a.latest || a.published : null;
    form.reset();
    form.key.value = a ? a.key : "";
    form.language.value = a ? a.language : "en";
    form.key.readOnly = form.language.readOnly = Boolean(a); // a translation is another article
    form.line.value = a ? a.line || "" : "";
    form.visibility.value = a ? a.visibility : "internal";
    form.title.value = latest ? latest.title : "";
    form.answer.value = latest ? latest.answer : "";
    form.body.value = latest ? latest.body : "";
    $("#kb-form-error").textContent = "";
    $("#kb-editor-title").textContent = a ? t("Edit {title}", { title: a.title }) : t("New article");
    $("#kb-editor").hidden = false;
    (a ? form.title : form.key).focus();
  }
  async function save(e) {
    e.preventDefault();
    const form = $("#kb-form");
    const body = {
      key: form.key.value.trim(), language: form.language.value.trim(), title: form.title.value,
      body: form.body.value, answer: form.answer.value, line: form.line.value.trim() || null,
      visibility: form.visibility.value, note: form.note.value,
      queues: editing ? editing.queues : [], ticket_types: editing ? editing.ticket_types : [],
      publish: !(e.submitter && e.submitter.name === "draft"),
    };
    const r = editing
      ? await window.cc.request("PUT", `/api/kb/articles/${editing.id}`, body)
      : await window.cc.request("POST", "/api/kb/articles", body);
    if (!r.ok) {
      const problems = (r.data.problems || []).map((p) => (typeof p === "string" ? p : `${p.field}: ${p.message}`));
      $("#kb-form-error").textContent = problems.join("; ") || r.data.error || `HTTP ${r.status}`;
      return;
    }
    $("#kb-editor").hidden = true;
    await list();
    await open(r.data.id);
    $("#kb-article-title").focus();
  }
  if ($("#kb-editor")) {
    $("#kb-new").addEventListener("click", () => edit(null));
    $("#kb-edit").addEventListener("click", () => current && edit(current));
    $("#kb-cancel").addEventListener("click", () => { $("#kb-editor").hidden = true; });
    $("#kb-form").addEventListener("submit", (e) => save(e).catch((err) => { $("#kb-form-error").textContent = err.message; }));
    $("#kb-form").addEventListener("keydown", (e) => { if (e.key === "Escape") $("#kb-editor").hidden = true; });
  }

  $("#kb-search").addEventListener("submit", (e) => {
    e.preventDefault();
    const q = $("#kb-q").value.trim();
    (q ? search(q) : list()).catch((err) => $("#kb-list").replaceChildren(el("li", { class: "error" }, err.message)));
  });
  list().catch((err) => $("#kb-list").replaceChildren(el("li", { class: "error" }, err.message)));
  const wanted = new URLSearchParams(location.search).get("article");
  if (wanted) open(wanted).catch((err) => $("#kb-list").replaceChildren(el("li", { class: "error" }, err.message)));
})();
