/**
 * Small DOM helpers shared by the views.
 *
 * Every word comes from the catalogues (`t()` in `js/i18n.js`), every number, amount and
 * date from `Intl` in the app's language. API refusals are worded by their `type` from the
 * catalogue (`problem.<type>`, filled with the problem's fields: when, where, how much), so
 * cashiers and members read plain words, never a developer's message; a type the catalogue
 * does not know shows the server's (translated) title or detail.
 *
 * Views build their markup with `h()` (elements and text nodes, never `innerHTML`), so data
 * from the API can never inject markup. Amounts typed at the till are parsed into integer
 * cents with string arithmetic: no floating point touches money.
 */

import {
  currentLanguage,
  formatClock,
  formatDate,
  formatDateTime,
  formatMoney as formatMoneyIntl,
  formatNumber,
  hasString,
  t,
} from "./i18n.js";

/** Create an element: h("button", {class: "primary", onclick}, "Text", childNode). */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2), value);
    } else if (name === "class") {
      element.className = value;
    } else if (name === "dataset") {
      Object.assign(element.dataset, value);
    } else if (name in element && typeof value !== "string") {
      element[name] = value;
    } else {
      element.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replace everything inside an element. */
export function replace(element, ...children) {
  element.replaceChildren();
  append(element, children);
  return element;
}

/** Say "today", "yesterday" or "on 3 Mar 2026" for a moment, in the app's language. */
export function dayWord(iso) {
  const when = new Date(iso);
  const today = new Date();
  const yesterday = new Date(today.getFullYear(), today.getMonth(), today.getDate() - 1);
  if (when.toDateString() === today.toDateString()) return t("day.today");
  if (when.toDateString() === yesterday.toDateString()) return t("day.yesterday");
  return t("day.on", { date: formatDate(when) });
}

/** Word an API refusal (or a failed connection) for people, from the catalogue. */
export function describeProblem(error, { currency = "EUR" } = {}) {
  if (typeof error === "string") return error;
  if (!error) return t("ui.somethingWrong");
  const problem = error.problem || {};
  const type = error.type;
  if (type === "http-error") return t("problem.http", { status: error.status });
  if (type === "coupon-already-redeemed" && problem.redeemed_at) {
    return t("problem.coupon-already-redeemed.when", {
      day: dayWord(problem.redeemed_at),
      time: formatClock(problem.redeemed_at),
      store: problem.store_name || "—",
    });
  }
  const params = {
    remaining: formatMoney(problem.remaining_cents || 0, currency),
    currency: problem.accepted_currency || currency,
    amount: formatMoney(problem.min_basket_cents || 0, currency),
    date: formatTime(problem.valid_until || problem.valid_from, { dateOnly: true }),
  };
  if (hasString(`problem.${type}`)) return t(`problem.${type}`, params);
  if (currentLanguage() !== "en" && problem.title) return problem.title;
  return error.detail || t("ui.somethingWrong");
}

/** Return an alert box that words an API error (or shows any message). */
export function problemBox(error, { retry, currency } = {}) {
  return h(
    "div",
    { class: "alert", role: "alert" },
    h("p", {}, describeProblem(error, { currency })),
    retry ? h("button", { type: "button", class: "secondary", onclick: retry }, t("ui.tryAgain")) : null,
  );
}

/** Return a notice that a feature's API is not available on this server yet. */
export function notAvailableBox(what) {
  return h("div", { class: "notice", role: "status" }, h("p", {}, t("ui.notAvailable", { what })));
}

/** Return an "offline" notice for data that is only ever shown live. */
export function offlineBox(what, retry) {
  return h(
    "div",
    { class: "notice offline-notice", role: "status" },
    h("p", {}, t("ui.offline", { what })),
    retry ? h("button", { type: "button", class: "secondary", onclick: retry }, t("ui.tryAgain")) : null,
  );
}

/** Return a loading placeholder. */
export function loading(label) {
  return h("p", { class: "loading", role: "status" }, label || t("ui.loading"));
}

/** Format a number of points for people. */
export function formatPoints(points) {
  return formatNumber(points);
}

/** Format integer minor units of a currency (1234, "EUR" → "12,34 €" in German). */
export function formatMoney(cents, currency = "EUR") {
  return formatMoneyIntl(cents, currency);
}

/** Format an ISO 8601 time for people, in their time zone and the app's language. */
export function formatTime(iso, { dateOnly = false } = {}) {
  if (!iso) return "";
  const when = new Date(iso);
  if (Number.isNaN(when.getTime())) return String(iso);
  return dateOnly ? formatDate(when) : formatDateTime(when);
}

/** Parse a typed amount ("12", "12.3", "12,30") into integer cents, or null if it is not one. */
export function parseAmountToCents(text) {
  const match = /^\s*(\d{1,7})(?:[.,](\d{1,2}))?\s*$/.exec(String(text));
  if (!match) return null;
  const units = Number.parseInt(match[1], 10);
  const fraction = Number.parseInt((match[2] || "0").padEnd(2, "0"), 10);
  return units * 100 + fraction;
}

/** Describe a coupon benefit ({kind, amount_cents, percent, cap_cents, sku, points}). */
export function describeBenefit(benefit, currency = "EUR") {
  if (!benefit) return "";
  switch (benefit.kind) {
    case "amount_off":
      return t("benefit.amountOff", { amount: formatMoney(benefit.amount_cents, currency) });
    case "percent_off":
      return benefit.cap_cents
        ? t("benefit.percentOffCapped", { percent: benefit.percent, cap: formatMoney(benefit.cap_cents, currency) })
        : t("benefit.percentOff", { percent: benefit.percent });
    case "free_item":
      return benefit.sku ? t("benefit.freeItemSku", { sku: benefit.sku }) : t("benefit.freeItem");
    case "bonus_points":
      return t("benefit.bonusPoints", { points: formatPoints(benefit.points) });
    default:
      return String(benefit.kind || "");
  }
}

/** Turn "code-replayed" into "Code replayed". */
export function humanise(kebab) {
  const text = String(kebab || "").replace(/[-_]/g, " ");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

let toastTimer = null;

/** Show a short message at the bottom of the screen. */
export function toast(message) {
  const region = document.getElementById("toast");
  if (!region) return;
  region.textContent = message;
  region.classList.add("visible");
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => region.classList.remove("visible"), 3500);
}

/** Read a form's named fields into an object of trimmed strings. */
export function formValues(form) {
  const values = {};
  for (const [name, value] of new FormData(form).entries()) values[name] = String(value).trim();
  return values;
}

/** Disable a form's controls while a request runs; return a function that re-enables them. */
export function busy(form) {
  const controls = [...form.querySelectorAll("button, input, select")].filter((c) => !c.disabled);
  controls.forEach((control) => (control.disabled = true));
  form.setAttribute("aria-busy", "true");
  return () => {
    controls.forEach((control) => (control.disabled = false));
    form.removeAttribute("aria-busy");
  };
}

/** Return a labelled form field. */
export function field(label, attributes) {
  const id = attributes.id || `field-${attributes.name}`;
  return h(
    "div",
    { class: "field" },
    h("label", { for: id }, label),
    h("input", { id, ...attributes }),
  );
}
