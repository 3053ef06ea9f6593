/**
 * Small DOM helpers shared by the views.
 *
 * Views build their markup with `h()` (elements and text nodes, never `innerHTML`), so data
 * from the API can never inject markup. Amounts typed at the till are parsed into integer
 * cents with string arithmetic: no floating point touches money.
 */

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

/** Return an alert box that shows an API error's detail (or any message). */
export function problemBox(error, { retry } = {}) {
  const detail = typeof error === "string" ? error : error.detail || "Something went wrong.";
  return h(
    "div",
    { class: "alert", role: "alert" },
    h("p", {}, detail),
    retry ? h("button", { type: "button", class: "secondary", onclick: retry }, "Try again") : null,
  );
}

/** Return a notice that a feature's API is not available on this server yet. */
export function notAvailableBox(what) {
  return h(
    "div",
    { class: "notice", role: "status" },
    h("p", {}, `${what} isn't available on this server yet. Please check back later.`),
  );
}

/** Return an "offline" notice for data that is only ever shown live. */
export function offlineBox(what, retry) {
  return h(
    "div",
    { class: "notice offline-notice", role: "status" },
    h("p", {}, `You're offline. ${what} are shown only while connected, so they are never out of date.`),
    retry ? h("button", { type: "button", class: "secondary", onclick: retry }, "Try again") : null,
  );
}

/** Return a loading placeholder. */
export function loading(label = "Loading…") {
  return h("p", { class: "loading", role: "status" }, label);
}

const pointsFormat = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });

/** Format a number of points for people. */
export function formatPoints(points) {
  return pointsFormat.format(points);
}

/** Format integer minor units of a currency (1234, "EUR" → "€12.34"). */
export function formatMoney(cents, currency = "EUR") {
  try {
    return new Intl.NumberFormat(undefined, { style: "currency", currency }).format(cents / 100);
  } catch {
    return `${(cents / 100).toFixed(2)} ${currency}`;
  }
}

/** Format an ISO 8601 time for people, in their time zone. */
export function formatTime(iso, { dateOnly = false } = {}) {
  if (!iso) return "";
  const when = new Date(iso);
  if (Number.isNaN(when.getTime())) return String(iso);
  return dateOnly
    ? when.toLocaleDateString(undefined, { dateStyle: "medium" })
    : when.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
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
      return `${formatMoney(benefit.amount_cents, currency)} off`;
    case "percent_off":
      return benefit.cap_cents
        ? `${benefit.percent} % off (up to ${formatMoney(benefit.cap_cents, currency)})`
        : `${benefit.percent} % off`;
    case "free_item":
      return benefit.sku ? `Free item (${benefit.sku})` : "Free item";
    case "bonus_points":
      return `${formatPoints(benefit.points)} bonus points`;
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
