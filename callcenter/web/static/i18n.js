// Translations for the pages' scripts (docs/i18n.md). The page embeds its language's catalogue as
// JSON data (<script type="application/json" id="cc-i18n">: data, not code, so the page's
// Content-Security-Policy allows it); this file is loaded before the others, without defer.
//
//   t("Calls {from}–{to} of {total}", { from: 1, to: 25, total: 90 })
//
// The message id is the English text (a message the catalogue lacks shows in English). Only string
// literals written directly in t("...") are found by the extraction (pybabel, keyword t).
"use strict";
(() => {
  let catalogue = null;
  function load() {
    if (catalogue) return catalogue;
    const node = document.getElementById("cc-i18n");
    try { catalogue = node ? JSON.parse(node.textContent) : null; } catch (err) { catalogue = null; }
    catalogue = catalogue || { language: document.documentElement.lang || "en", messages: {} };
    return catalogue;
  }
  function t(message, values) {
    const text = Object.prototype.hasOwnProperty.call(load().messages, message) ? load().messages[message] : message;
    if (!values) return text;
    return text.replace(/\{(\w+)\}/g, (all, name) => (name in values ? String(values[name]) : all));
  }
  // Dates and numbers as the page's language writes them (Intl).
  const language = () => load().language || "en";
  const cache = new Map();
  function format(kind, options) {
    const key = `${kind}:${language()}:${JSON.stringify(options)}`;
    if (!cache.has(key)) cache.set(key, kind === "number" ? new Intl.NumberFormat(language(), options) : new Intl.DateTimeFormat(language(), options));
    return cache.get(key);
  }
  window.t = t;
  window.ccLocale = {
    language,
    // when: a Date, an ISO string or POSIX seconds.
    date(when, options) {
      const date = when instanceof Date ? when : typeof when === "number" ? new Date(when * 1000) : new Date(when);
      return format("date", options || { dateStyle: "medium", timeStyle: "short" }).format(date);
    },
    time(when) { return window.ccLocale.date(when, { timeStyle: "medium" }); },
    number(value, options) { return format("number", options || {}).format(value); },
    percent(ratio) { return format("number", { style: "percent", maximumFractionDigits: 0 }).format(ratio); },
  };
})();
