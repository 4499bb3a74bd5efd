// The knowledge-base page (/kb): search published articles, read one. The article's HTML comes from
// the server already sanitised (markdown-it-py + nh3, callcenter/kb/render.py); the page's
// Content-Security-Policy refuses inline scripts besides.
"use strict";
(() => {
  const { $, el, api } = window.cc;

  function item(a, score) {
    const link = el("a", { href: `?article=${a.id}`, "data-article": String(a.id) }, a.title);
    link.addEventListener("click", (e) => { e.preventDefault(); open(a.id); });
    const meta = [a.language, a.line || t("every line")].join(" · ");
    return el("li", {}, link, " ", el("small", { class: "muted" }, meta), score === undefined ? "" : el("p", { class: "kb-answer" }, a.answer || ""));
  }

  async function list() {
    const data = await api("GET", "/api/kb/articles?status=published&limit=100");
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
