/**
 * Segments: groups of members defined by rules, with the size previewed live as the rules
 * change (lifecycle issue's API: `GET/POST /segments`, `POST /segments/preview`,
 * `DELETE /segments/{id}`; a member campaign can then target a segment).
 *
 * The editor builds one level of conditions joined by "all" or "any", each of which may be
 * negated ("not"), which covers what a manager writes by hand; deeper trees made through the
 * API are listed and previewed but not edited here. Each condition is a field, an operator
 * and a value (`window_days` for purchases and spend). The size is asked for 400 ms after the
 * last change, and only the latest answer is shown.
 */

import { formatNumber, t } from "../i18n.js";
import { h, humanise, replace } from "../ui.js";
import { call, confirmButton, failure, input, pageHead, panel, problemAlert, stores, submitting, success, table, when } from "./common.js";

const STAGES = ["new", "active", "at_risk", "lapsed", "won_back", "advocate"];
const NUMBER_OPS = ["gte", "lte", "gt", "lt", "eq", "ne", "between", "is_null", "not_null"];
const CHOICE_OPS = ["in", "not_in", "eq", "ne", "is_null", "not_null"];
const FIELDS = {
  stage: { kind: "choice", ops: CHOICE_OPS },
  health_score: { kind: "number", ops: NUMBER_OPS },
  p_active: { kind: "number", ops: NUMBER_OPS },
  expected_purchases_90d: { kind: "number", ops: NUMBER_OPS },
  tier: { kind: "text", ops: CHOICE_OPS },
  points_balance: { kind: "number", ops: NUMBER_OPS },
  days_since_last_purchase: { kind: "number", ops: NUMBER_OPS },
  purchases: { kind: "number", ops: NUMBER_OPS, windowed: true },
  spend_cents: { kind: "number", ops: NUMBER_OPS, windowed: true },
  home_store: { kind: "id", ops: CHOICE_OPS },
  signed_up: { kind: "date", ops: NUMBER_OPS },
  blocked: { kind: "bool", ops: ["eq"] },
};
const PREVIEW_DELAY_MS = 400;

export async function render(container) {
  const list = h("div", { "aria-live": "polite" });
  container.append(pageHead(t("staff.nav.segments"), t("staff.segments.intro")));
  let segments;
  try {
    segments = await call("/segments");
  } catch (error) {
    container.append(error.routeMissing ? h("div", { class: "notice", role: "status", id: "segments-pending" }, h("p", {}, t("staff.segments.pending"))) : failure(error, t("staff.nav.segments")));
    return;
  }
  let storeList = [];
  try {
    storeList = await stores();
  } catch {
    storeList = [];
  }
  const showList = (items) =>
    replace(
      list,
      table(
        t("staff.nav.segments"),
        [t("staff.segments.name"), t("staff.segments.size"), t("staff.segments.rules"), t("staff.segments.changed"), ""],
        items.map((segment) => [
          segment.name,
          formatNumber(segment.size ?? 0),
          describe(segment.rules),
          when(segment.updated_at || segment.created_at),
          confirmButton(t("staff.segments.delete"), t("staff.segments.deleteConfirm", { name: segment.name }), async () => {
            try {
              await call(`/segments/${segment.segment_id}`, { method: "DELETE" });
              showList(await call("/segments"));
            } catch (error) {
              replace(list, problemAlert(error));
            }
          }, { className: "link" }),
        ]),
        { empty: t("staff.segments.none") },
      ),
    );
  showList(segments);
  container.append(h("div", { class: "split" }, panel(t("staff.segments.new"), editor(storeList, async () => showList(await call("/segments")))), h("div", {}, list)));
}

function describe(rules) {
  if (!rules || typeof rules !== "object") return "–";
  if (rules.not) return `${t("staff.segments.not")} ${describe(rules.not)}`;
  for (const joiner of ["all", "any"]) {
    if (Array.isArray(rules[joiner])) return rules[joiner].map(describe).join(` ${t(`staff.segments.join.${joiner}`)} `) || t(`staff.segments.empty.${joiner}`);
  }
  const value = Array.isArray(rules.value) ? rules.value.join(", ") : rules.value ?? "";
  const window = rules.window_days ? ` (${t("staff.segments.lastDays", { days: rules.window_days })})` : "";
  return `${humanise(rules.field)} ${t(`staff.segments.op.${rules.op}`)} ${value}${window}`.trim();
}

function valueControl(field, op, storeList, id) {
  const spec = FIELDS[field];
  if (op === "is_null" || op === "not_null") return null;
  const label = t("staff.segments.value");
  if (spec.kind === "bool") return input(label, { name: "value", id }, { tag: "select", options: [["true", t("staff.segments.yes")], ["false", t("staff.segments.no")]] });
  if (spec.kind === "choice" && (op === "eq" || op === "ne")) return input(label, { name: "value", id }, { tag: "select", options: STAGES.map((stage) => [stage, humanise(stage)]) });
  if (spec.kind === "id" && (op === "eq" || op === "ne")) return input(label, { name: "value", id }, { tag: "select", options: storeList.map((store) => [String(store.id), store.name]) });
  const hint = op === "between" ? t("staff.segments.betweenHint") : op === "in" || op === "not_in" ? (spec.kind === "choice" ? t("staff.segments.listHint", { example: "at_risk, lapsed" }) : t("staff.segments.listHint", { example: "1, 2" })) : spec.kind === "date" ? "YYYY-MM-DD" : null;
  return input(label, { name: "value", id, required: true, type: spec.kind === "date" && op !== "between" ? "date" : "text" }, { hint });
}

function parseValue(field, op, text) {
  const spec = FIELDS[field];
  const one = (raw) => {
    const value = String(raw).trim();
    if (spec.kind === "number") return Number(value.replace(",", "."));
    if (spec.kind === "id") return Number(value);
    if (spec.kind === "bool") return value === "true";
    return value;
  };
  if (op === "is_null" || op === "not_null") return undefined;
  if (op === "between" || op === "in" || op === "not_in") return String(text).split(/[;,]\s*|\s+/).filter(Boolean).map(one);
  return one(text);
}

function editor(storeList, saved) {
  let counter = 0;
  const conditions = h("div", { class: "stack conditions" });
  const size = h("p", { class: "segment-size", id: "segment-size", role: "status", "aria-live": "polite" }, t("staff.segments.sizeUnknown"));
  const joiner = input(t("staff.segments.match"), { name: "joiner", id: "segment-joiner" }, { tag: "select", options: [["all", t("staff.segments.matchAll")], ["any", t("staff.segments.matchAny")]] });

  const addCondition = () => {
    counter += 1;
    const n = counter;
    const fieldSelect = input(t("staff.segments.field"), { name: "field", id: `cond-field-${n}` }, { tag: "select", options: Object.keys(FIELDS).map((key) => [key, t(`staff.segments.field.${key}`)]) });
    const opHolder = h("div", { class: "grow" });
    const valueHolder = h("div", { class: "grow" });
    const windowHolder = h("div", { class: "narrow" });
    const negate = h("div", { class: "check" }, h("input", { type: "checkbox", name: "not", id: `cond-not-${n}` }), h("label", { for: `cond-not-${n}` }, t("staff.segments.not")));
    const row = h("fieldset", { class: "condition" }, h("legend", {}, t("staff.segments.condition", { n })), h("div", { class: "row" }, h("div", { class: "grow" }, fieldSelect), opHolder, valueHolder, windowHolder), h("div", { class: "actions" }, negate, h("button", { type: "button", class: "link", onclick: () => { row.remove(); schedule(); } }, t("staff.action.remove"))));
    const refreshOp = () => {
      const field = row.querySelector('[name="field"]').value;
      replace(opHolder, input(t("staff.segments.operator"), { name: "op", id: `cond-op-${n}` }, { tag: "select", options: FIELDS[field].ops.map((op) => [op, t(`staff.segments.op.${op}`)]) }));
      replace(windowHolder, FIELDS[field].windowed ? input(t("staff.segments.window"), { name: "window_days", id: `cond-window-${n}`, type: "number", min: 1, max: 3650, value: 365 }) : null);
      refreshValue();
    };
    const refreshValue = () => {
      const field = row.querySelector('[name="field"]').value;
      const op = row.querySelector('[name="op"]').value;
      replace(valueHolder, valueControl(field, op, storeList, `cond-value-${n}`));
    };
    row.addEventListener("change", (event) => {
      if (event.target.name === "field") refreshOp();
      else if (event.target.name === "op") refreshValue();
    });
    conditions.append(row);
    refreshOp();
  };

  const build = () => {
    const nodes = [...conditions.children].map((row) => {
      const field = row.querySelector('[name="field"]').value;
      const op = row.querySelector('[name="op"]').value;
      const valueInput = row.querySelector('[name="value"]');
      const node = { field, op };
      const value = parseValue(field, op, valueInput ? valueInput.value : "");
      if (value !== undefined) node.value = value;
      const windowInput = row.querySelector('[name="window_days"]');
      if (windowInput && windowInput.value) node.window_days = Number(windowInput.value);
      return row.querySelector('[name="not"]').checked ? { not: node } : node;
    });
    return { [form.elements.joiner.value]: nodes };
  };

  const incomplete = () =>
    [...conditions.querySelectorAll('[name="value"]')].some((control) => control.required && !control.value.trim());

  let timer = null;
  let asked = 0;
  const schedule = () => {
    clearTimeout(timer);
    timer = setTimeout(preview, PREVIEW_DELAY_MS);
  };
  const preview = async () => {
    if (incomplete()) {
      size.textContent = t("staff.segments.sizeUnknown");
      return;
    }
    const mine = ++asked;
    try {
      const answer = await call("/segments/preview", { method: "POST", body: { rules: build() } });
      if (mine === asked) size.textContent = t("staff.segments.sizeNow", { count: formatNumber(answer.size) });
    } catch (error) {
      if (mine === asked) size.textContent = error.detail;
    }
  };

  const form = h(
    "form",
    { class: "stack", "aria-label": t("staff.segments.new") },
    input(t("staff.segments.name"), { name: "name", id: "segment-name", required: true, maxlength: 120 }),
    joiner,
    conditions,
    h("button", { type: "button", class: "secondary", onclick: () => { addCondition(); schedule(); } }, t("staff.segments.addCondition")),
    size,
    h("button", { type: "submit", class: "primary" }, t("staff.segments.save")),
  );
  form.addEventListener("input", schedule);
  form.addEventListener("change", schedule);
  addCondition();
  submitting(form, {
    check: () => (conditions.children.length ? null : t("staff.segments.err.noConditions")),
    send: (f) => call("/segments", { method: "POST", body: { name: f.elements.name.value.trim(), rules: build() } }),
    done: async (segment, message) => {
      replace(message, success(t("staff.segments.saved", { name: segment.name, count: formatNumber(segment.size ?? 0) })));
      await saved();
    },
  });
  schedule();
  return form;
}
