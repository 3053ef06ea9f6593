/**
 * Building blocks every back-office page shares: calling the API with the staff session,
 * showing refusals in plain words, forms that check themselves before sending, buttons that
 * ask again before anything destructive, tables, and names instead of ids.
 *
 * Every API refusal is shown by its problem `detail`; a `validation-error` also lists the
 * fields the server named, so "Some fields are missing or invalid." never stands alone.
 */

import { api } from "../api.js";
import { formatDateTime, t } from "../i18n.js";
import { h, replace } from "../ui.js";

/** Call the API as the signed-in staff member. */
export function call(path, options = {}) {
  return api(path, { session: "staff", ...options });
}

function fieldMessages(errors, prefix = "") {
  const lines = [];
  for (const [name, value] of Object.entries(errors || {})) {
    const label = name === "json" || name === "query" || name === "_schema" ? prefix : `${prefix}${prefix ? "." : ""}${name}`;
    if (Array.isArray(value)) lines.push(...value.map((message) => (label ? `${label}: ${message}` : String(message))));
    else if (value && typeof value === "object") lines.push(...fieldMessages(value, label));
  }
  return lines;
}

/** An alert with the problem's detail (and the fields a validation error names). */
export function problemAlert(error, retry) {
  const detail = typeof error === "string" ? error : error.detail || t("staff.error.generic");
  const fields = typeof error === "string" ? [] : fieldMessages(error.problem && error.problem.errors);
  return h(
    "div",
    { class: "alert", role: "alert" },
    h("p", {}, detail),
    fields.length ? h("ul", { class: "field-errors" }, fields.map((line) => h("li", {}, line))) : null,
    retry ? h("button", { type: "button", class: "secondary", onclick: retry }, t("staff.action.retry")) : null,
  );
}

/** What to show when loading failed: not deployed, offline, or the problem. */
export function failure(error, what, retry) {
  if (error && error.routeMissing) {
    return h("div", { class: "notice", role: "status" }, h("p", {}, t("staff.error.notDeployed", { what })));
  }
  if (error && error.type === "offline") {
    return h("div", { class: "notice", role: "status" }, h("p", {}, t("staff.error.offline")), retry ? h("button", { type: "button", class: "secondary", onclick: retry }, t("staff.action.retry")) : null);
  }
  return problemAlert(error, retry);
}

/** A success line for a live region. */
export function success(text) {
  return h("div", { class: "success", role: "status" }, h("p", {}, text));
}

/** A labelled input (or select/textarea with `tag`) with an optional hint under it. */
export function input(label, attributes = {}, { hint, tag = "input", options } = {}) {
  const id = attributes.id || `f-${attributes.name}-${Math.random().toString(36).slice(2, 7)}`;
  const hintId = hint ? `${id}-hint` : null;
  let control;
  if (tag === "select") {
    control = h("select", { id, "aria-describedby": hintId, ...attributes }, (options || []).map(([value, text]) => h("option", { value }, text)));
  } else {
    control = h(tag, { id, "aria-describedby": hintId, ...attributes });
  }
  return h("div", { class: "field" }, h("label", { for: id }, label), control, hint ? h("small", { id: hintId, class: "hint" }, hint) : null);
}

/** A checkbox with its label beside it. */
export function checkbox(label, attributes = {}) {
  const id = attributes.id || `f-${attributes.name}-${Math.random().toString(36).slice(2, 7)}`;
  return h("div", { class: "check" }, h("input", { type: "checkbox", id, ...attributes }), h("label", { for: id }, label));
}

/**
 * Wire a form: `check(form)` returns a message (or list) when the input is not sendable,
 * `send(form)` calls the API; its answer goes to `done`. Refusals land in the form's message
 * area in plain words; the controls are disabled while a request runs.
 */
export function submitting(form, { check, send, done }) {
  const message = form.querySelector(".form-message") || form.appendChild(h("div", { class: "form-message", "aria-live": "polite" }));
  form.noValidate = true;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    replace(message);
    const invalid = [...form.querySelectorAll("input, select, textarea")].find((control) => !control.checkValidity());
    if (invalid) {
      const label = invalid.labels && invalid.labels[0] ? invalid.labels[0].textContent : invalid.name;
      replace(message, problemAlert(t("staff.error.field", { field: label, message: invalid.validationMessage })));
      invalid.focus();
      return;
    }
    const problem = check ? check(form) : null;
    if (problem) {
      replace(message, problemAlert(problem));
      return;
    }
    const controls = [...form.querySelectorAll("button, input, select, textarea")].filter((c) => !c.disabled);
    controls.forEach((control) => (control.disabled = true));
    form.setAttribute("aria-busy", "true");
    try {
      const answer = await send(form);
      if (done) await done(answer, message);
    } catch (error) {
      replace(message, problemAlert(error));
    } finally {
      controls.forEach((control) => (control.disabled = false));
      form.removeAttribute("aria-busy");
    }
  });
  return form;
}

/**
 * A button for a destructive action: the first press turns it into "Confirm: …" (with a
 * Cancel beside it); only the second press acts.
 */
export function confirmButton(label, confirmLabel, action, { className = "danger" } = {}) {
  const wrapper = h("span", { class: "confirm" });
  const button = h("button", { type: "button", class: className }, label);
  const cancel = h("button", { type: "button", class: "link", hidden: true }, t("staff.action.cancel"));
  let armed = false;
  const disarm = () => {
    armed = false;
    button.textContent = label;
    cancel.hidden = true;
  };
  cancel.addEventListener("click", disarm);
  button.addEventListener("click", async () => {
    if (!armed) {
      armed = true;
      button.textContent = confirmLabel;
      cancel.hidden = false;
      button.focus();
      return;
    }
    button.disabled = true;
    cancel.hidden = true;
    try {
      await action();
    } finally {
      button.disabled = false;
      disarm();
    }
  });
  wrapper.append(button, cancel);
  return wrapper;
}

/** The string for `key`, or `fallback` when the catalogue has none (API values we may not know). */
export function tOr(key, fallback) {
  const text = t(key);
  return text === key ? fallback : text;
}

/** A person's or place's name from a `{id, name}` reference, else a fallback with the id. */
export function named(ref, kind, id) {
  if (ref && ref.name) return ref.name;
  if (id === null || id === undefined) return "";
  return t(`staff.unnamed.${kind}`, { id });
}

/** A data table with a caption; `rows` are arrays of cells (text or nodes). */
export function table(caption, headings, rows, { empty } = {}) {
  if (!rows.length) return h("p", { class: "hint" }, empty || t("staff.table.empty"));
  return h(
    "div",
    { class: "table-scroll" },
    h(
      "table",
      { class: "compact" },
      h("caption", {}, caption),
      h("thead", {}, h("tr", {}, headings.map((heading) => h("th", { scope: "col" }, heading)))),
      h("tbody", {}, rows.map((cells) => h("tr", {}, cells.map((cell, index) => (index === 0 ? h("th", { scope: "row" }, cell) : h("td", {}, cell)))))),
    ),
  );
}

/** A page's heading and a one-line explanation. */
export function pageHead(title, intro) {
  return h("header", { class: "page-head" }, h("h2", {}, title), intro ? h("p", { class: "hint" }, intro) : null);
}

/** A section card with a heading. */
export function panel(title, ...children) {
  return h("section", { class: "card-surface panel", "aria-label": title }, h("h3", {}, title), ...children);
}

/** A time for people, or a dash. */
export function when(iso) {
  return iso ? formatDateTime(iso) : "–";
}

/** Sub-navigation within a page, as tabs. */
export function subTabs(label, entries, show) {
  const tabs = h("div", { class: "tabs sub-tabs", role: "tablist", "aria-label": label });
  const select = (key) => {
    for (const tab of tabs.children) {
      const selected = tab.dataset.tab === key;
      tab.setAttribute("aria-selected", String(selected));
      tab.tabIndex = selected ? 0 : -1;
    }
    show(key);
  };
  for (const [key, text] of entries) {
    tabs.append(h("button", { type: "button", role: "tab", dataset: { tab: key }, onclick: () => select(key) }, text));
  }
  tabs.addEventListener("keydown", (event) => {
    if (event.key !== "ArrowRight" && event.key !== "ArrowLeft") return;
    const list = [...tabs.children];
    const index = list.indexOf(document.activeElement);
    if (index < 0) return;
    const next = list[(index + (event.key === "ArrowRight" ? 1 : list.length - 1)) % list.length];
    next.focus();
    next.click();
  });
  return { tabs, select };
}

/** Integer from a form field, or null. */
export function intOf(value) {
  const text = String(value ?? "").trim();
  return /^-?\d+$/.test(text) ? Number.parseInt(text, 10) : null;
}

/** The store list, cached for the page's life (names for ids, store pickers). */
let storesPromise = null;
export function stores({ fresh = false } = {}) {
  if (fresh || !storesPromise) {
    storesPromise = call("/stores").catch((error) => {
      storesPromise = null;
      throw error;
    });
  }
  return storesPromise;
}

/** Forget cached lists (after sign-out). */
export function forgetCaches() {
  storesPromise = null;
}
