/**
 * Automations: rules that react to what members do (or stop doing) with a coupon, a push
 * message or a task for staff, each holding a control group back (`docs/automations.md`:
 * `GET/POST /automations`, `GET/PATCH /automations/{id}`, `/automations/{id}/report`).
 *
 * The list shows each automation's trigger in words, its segment by name, whether it runs,
 * and how many members were treated and held back. The form builds the trigger with its one
 * parameter, an optional segment (picked by name from `GET /segments`), the actions in order
 * (coupon, push message with placeholders, staff task; each may be moved, removed and
 * delayed) and the control-group share (10 % unless changed). Pausing asks again; resuming
 * does not (it harms nothing). The report (`&automation=<id>`) compares treated with held-back
 * members as SVG bars and says the difference and its 95 % interval in words, including the
 * warning when the interval contains 0.
 */

import { formatMoney, formatNumber, t } from "../i18n.js";
import { h, humanise, replace } from "../ui.js";
import { barChart } from "./charts.js";
import { call, confirmButton, failure, input, intOf, pageHead, panel, problemAlert, submitting, success, table, tOr } from "./common.js";

const STAGES = ["new", "active", "at_risk", "lapsed", "won_back", "advocate"];
/** Each trigger's parameter: name, minimum, maximum, whether it is required. */
const TRIGGERS = {
  stage_entered: { param: "stage" },
  no_purchase_for: { param: "days", min: 1, max: 3650, value: 60 },
  health_below: { param: "score", min: 1, max: 100, value: 40 },
  points_expiring: { param: "days", min: 1, max: 365, value: 30 },
  near_next_tier: { param: "points", min: 1, max: 1_000_000, value: 100 },
  purchase_booked: { param: "min_amount_cents", optional: true },
  first_purchase: {},
  member_signed_up: {},
  birthday: {},
};
const ACTION_TYPES = ["coupon", "push", "task"];
const PLACEHOLDERS = "{name}, {points}, {expiry_date}";

const percent = (value) => `${formatNumber(Math.round(value * 1000) / 10)} %`;
const signedMoney = (value) => `${value > 0 ? "+" : ""}${formatMoney(Math.round(value))}`;
const points = (value) => `${value >= 0 ? "+" : "−"}${formatNumber(Math.abs(Math.round(value * 1000) / 10))}`;

export async function render(container, { params }) {
  const automationId = intOf(params.get("automation"));
  if (automationId !== null) {
    await reportView(container, automationId);
    return;
  }
  container.append(pageHead(t("staff.nav.automations"), t("staff.automations.intro")));
  let automations;
  try {
    automations = await call("/automations");
  } catch (error) {
    container.append(failure(error, t("staff.nav.automations")));
    return;
  }
  let segments = [];
  try {
    segments = await call("/segments");
  } catch {
    segments = []; // without the segment API every automation is for everyone
  }
  const segmentName = (id) => {
    if (id === null || id === undefined) return t("staff.automations.everyone");
    const segment = segments.find((s) => s.segment_id === id);
    return segment ? segment.name : t("staff.automations.segmentGone", { id });
  };
  const list = h("div", { "aria-live": "polite", id: "automation-list" });
  const listMessage = h("div", { "aria-live": "polite" });
  const reload = async () => showList(await call("/automations"));
  const showList = (items) =>
    replace(
      list,
      table(
        t("staff.nav.automations"),
        [t("staff.automations.name"), t("staff.automations.trigger"), t("staff.automations.segment"), t("staff.automations.state"), t("staff.automations.treated"), t("staff.automations.heldBack"), ""],
        items.map((automation) => [
          automation.name,
          describeTrigger(automation),
          segmentName(automation.segment_id),
          h("span", { class: `state state-${automation.enabled ? "on" : "off"}` }, automation.enabled ? t("staff.automations.running") : t("staff.automations.paused")),
          formatNumber(automation.treated ?? 0),
          formatNumber(automation.control ?? 0),
          h(
            "span",
            { class: "row-actions" },
            h("a", { href: `#/staff?page=automations&automation=${automation.id}`, "aria-label": t("staff.automations.reportOf", { name: automation.name }) }, t("staff.automations.report")),
            automation.enabled
              ? confirmButton(t("staff.automations.pause"), t("staff.automations.pauseConfirm", { name: automation.name }), () => change(automation, false), { className: "link" })
              : h("button", { type: "button", class: "link", onclick: () => change(automation, true) }, t("staff.automations.resume")),
          ),
        ]),
        { empty: t("staff.automations.none") },
      ),
    );
  const change = async (automation, enabled) => {
    replace(listMessage);
    try {
      await call(`/automations/${automation.id}`, { method: "PATCH", body: { enabled } });
      await reload();
      replace(listMessage, success(t(enabled ? "staff.automations.resumed" : "staff.automations.pausedNow", { name: automation.name })));
    } catch (error) {
      replace(listMessage, problemAlert(error));
    }
  };
  showList(automations);
  container.append(h("div", { class: "split" }, panel(t("staff.automations.new"), editor(segments, reload)), h("div", {}, listMessage, list)));
}

function describeTrigger(automation) {
  const params = automation.trigger_params || {};
  const name = tOr(`staff.automations.trigger.${automation.trigger}`, humanise(automation.trigger));
  const spec = TRIGGERS[automation.trigger] || {};
  if (!spec.param || params[spec.param] === undefined || params[spec.param] === null) return name;
  let value = params[spec.param];
  if (spec.param === "stage") return `${name}: ${tOr(`staff.automations.stage.${value}`, humanise(value))}`;
  if (spec.param === "min_amount_cents") value = formatMoney(value);
  return `${name}: ${tOr(`staff.automations.param.${spec.param}`, spec.param)} ${value}`;
}

function paramControl(trigger) {
  const spec = TRIGGERS[trigger];
  if (!spec.param) return h("p", { class: "hint" }, t("staff.automations.noParam"));
  if (spec.param === "stage") {
    return input(t("staff.automations.param.stage"), { name: "param", id: "automation-param" }, { tag: "select", options: STAGES.map((stage) => [stage, t(`staff.automations.stage.${stage}`)]) });
  }
  if (spec.param === "min_amount_cents") {
    return input(t("staff.automations.param.min_amount"), { name: "param", id: "automation-param", type: "number", min: 0, step: "0.01" }, { hint: t("staff.automations.optional") });
  }
  return input(t(`staff.automations.param.${spec.param}`), { name: "param", id: "automation-param", type: "number", min: spec.min, max: spec.max, step: 1, value: spec.value, required: true }, { hint: t("staff.automations.range", { min: formatNumber(spec.min), max: formatNumber(spec.max) }) });
}

function actionFieldset(type, n, refresh) {
  const id = (name) => `action-${name}-${n}`;
  const fields = [];
  if (type === "coupon") {
    fields.push(
      h(
        "div",
        { class: "row" },
        h("div", { class: "grow" }, input(t("staff.automations.benefitKind"), { name: "kind", id: id("kind") }, { tag: "select", options: [["amount_off", t("staff.automations.kind.amount_off")], ["percent_off", t("staff.automations.kind.percent_off")]] })),
        h("div", { class: "grow" }, input(t("staff.automations.benefitValue"), { name: "value", id: id("value"), type: "number", min: 0.01, step: "0.01", required: true }, { hint: t("staff.automations.benefitHint") })),
      ),
      h(
        "div",
        { class: "row" },
        h("div", { class: "grow" }, input(t("staff.automations.validDays"), { name: "valid_days", id: id("valid"), type: "number", min: 1, max: 365, value: 14, required: true })),
        h("div", { class: "grow" }, input(t("staff.automations.minBasket"), { name: "min_basket", id: id("basket"), type: "number", min: 0, step: "0.01" }, { hint: t("staff.automations.optional") })),
      ),
    );
  } else if (type === "push") {
    fields.push(
      input(t("staff.automations.pushTitle"), { name: "title", id: id("title"), required: true, maxlength: 120 }, { hint: t("staff.automations.placeholders", { list: PLACEHOLDERS }) }),
      input(t("staff.automations.pushBody"), { name: "body", id: id("body"), required: true, maxlength: 500, rows: 2 }, { tag: "textarea", hint: t("staff.automations.placeholders", { list: PLACEHOLDERS }) }),
    );
  } else {
    fields.push(input(t("staff.automations.taskTitle"), { name: "title", id: id("title"), required: true, maxlength: 200 }, { hint: t("staff.automations.placeholders", { list: "{name}, {points}" }) }));
  }
  const fieldset = h(
    "fieldset",
    { class: "condition action-step", dataset: { type } },
    h("legend", {}, ""),
    ...fields,
    input(t("staff.automations.delay"), { name: "delay", id: id("delay"), type: "number", min: 0, max: 60 * 24 * 90, value: 0, required: true }, { hint: t("staff.automations.delayHint") }),
    h(
      "div",
      { class: "actions" },
      h("button", { type: "button", class: "link", dataset: { move: "up" } }, t("staff.automations.up")),
      h("button", { type: "button", class: "link", dataset: { move: "down" } }, t("staff.automations.down")),
      h("button", { type: "button", class: "link", onclick: () => { fieldset.closest("li").remove(); refresh(); } }, t("staff.action.remove")),
    ),
  );
  fieldset.addEventListener("click", (event) => {
    const move = event.target.dataset && event.target.dataset.move;
    if (!move) return;
    const item = fieldset.closest("li");
    if (move === "up" && item.previousElementSibling) item.previousElementSibling.before(item);
    if (move === "down" && item.nextElementSibling) item.nextElementSibling.after(item);
    refresh();
    event.target.focus();
  });
  return fieldset;
}

const cents = (text) => Math.round(Number(String(text).replace(",", ".")) * 100);

function buildAction(fieldset) {
  const value = (name) => fieldset.querySelector(`[name="${name}"]`).value.trim();
  const action = { type: fieldset.dataset.type, delay_minutes: Number(value("delay")) };
  if (action.type === "coupon") {
    const kind = value("kind");
    action.benefit = kind === "amount_off" ? { kind, amount_cents: cents(value("value")) } : { kind, percent: Number(value("value").replace(",", ".")) };
    action.valid_days = Number(value("valid_days"));
    if (value("min_basket")) action.min_basket_cents = cents(value("min_basket"));
  } else if (action.type === "push") {
    action.title = value("title");
    action.body = value("body");
  } else {
    action.title = value("title");
  }
  return action;
}

function editor(segments, saved) {
  let counter = 0;
  const steps = h("ol", { class: "stack action-steps", "aria-label": t("staff.automations.actions") });
  const trigger = input(t("staff.automations.trigger"), { name: "trigger", id: "automation-trigger" }, { tag: "select", options: Object.keys(TRIGGERS).map((key) => [key, t(`staff.automations.trigger.${key}`)]) });
  const paramHolder = h("div", { class: "grow" });
  const refresh = () =>
    [...steps.querySelectorAll("fieldset")].forEach((fieldset, index) => {
      fieldset.querySelector("legend").textContent = t("staff.automations.step", { n: index + 1, type: t(`staff.automations.action.${fieldset.dataset.type}`) });
    });
  const addAction = (type) => {
    counter += 1;
    steps.append(h("li", {}, actionFieldset(type, counter, refresh)));
    refresh();
    steps.lastElementChild.querySelector("input, select, textarea").focus();
  };
  const segmentOptions = [["", t("staff.automations.everyone")], ...segments.map((segment) => [String(segment.segment_id), `${segment.name} (${formatNumber(segment.size ?? 0)})`])];
  const form = h(
    "form",
    { class: "stack", "aria-label": t("staff.automations.new") },
    input(t("staff.automations.name"), { name: "name", id: "automation-name", required: true, maxlength: 120 }),
    h("div", { class: "row" }, h("div", { class: "grow" }, trigger), paramHolder),
    input(t("staff.automations.segment"), { name: "segment", id: "automation-segment" }, { tag: "select", options: segmentOptions, hint: t("staff.automations.segmentHint") }),
    h("h4", {}, t("staff.automations.actions")),
    steps,
    h("div", { class: "actions" }, ACTION_TYPES.map((type) => h("button", { type: "button", class: "secondary", onclick: () => addAction(type) }, t(`staff.automations.add.${type}`)))),
    h(
      "div",
      { class: "row" },
      h("div", { class: "grow" }, input(t("staff.automations.holdout"), { name: "holdout", id: "automation-holdout", type: "number", min: 0, max: 90, step: 1, value: 10, required: true }, { hint: t("staff.automations.holdoutHint") })),
      h("div", { class: "grow" }, input(t("staff.automations.window"), { name: "window", id: "automation-window", type: "number", min: 1, max: 365, step: 1, value: 30, required: true })),
    ),
    h("button", { type: "submit", class: "primary" }, t("staff.automations.create")),
  );
  const showParam = () => replace(paramHolder, paramControl(form.elements.trigger.value));
  form.elements.trigger.addEventListener("change", showParam);
  showParam();
  submitting(form, {
    check: () => {
      const fieldsets = [...steps.querySelectorAll("fieldset")];
      if (!fieldsets.length) return t("staff.automations.err.noActions");
      for (const fieldset of fieldsets) {
        if (fieldset.dataset.type !== "coupon") continue;
        const kind = fieldset.querySelector('[name="kind"]').value;
        const value = Number(fieldset.querySelector('[name="value"]').value.replace(",", "."));
        if (kind === "percent_off" && !(value > 0 && value <= 100)) return t("staff.automations.err.percent");
        if (kind === "amount_off" && !(value > 0)) return t("staff.automations.err.amount");
      }
      return null;
    },
    send: (f) => {
      const chosen = f.elements.trigger.value;
      const spec = TRIGGERS[chosen];
      const triggerParams = {};
      const raw = f.elements.param ? f.elements.param.value.trim() : "";
      if (spec.param === "stage") triggerParams.stage = raw;
      else if (spec.param === "min_amount_cents") {
        if (raw) triggerParams.min_amount_cents = cents(raw);
      } else if (spec.param) triggerParams[spec.param] = Number(raw);
      return call("/automations", {
        method: "POST",
        body: {
          name: f.elements.name.value.trim(),
          trigger: chosen,
          trigger_params: triggerParams,
          segment_id: f.elements.segment.value ? Number(f.elements.segment.value) : null,
          actions: [...steps.querySelectorAll("fieldset")].map(buildAction),
          holdout_percent: Number(f.elements.holdout.value),
          report_window_days: Number(f.elements.window.value),
        },
      });
    },
    done: async (automation, message) => {
      replace(message, success(t("staff.automations.created", { name: automation.name })));
      form.reset();
      // reset() empties fields whose start value was set as a property: put the defaults back.
      form.elements.holdout.value = "10";
      form.elements.window.value = "30";
      replace(steps);
      showParam();
      await saved();
    },
  });
  return form;
}

async function reportView(container, automationId) {
  const back = h("p", {}, h("a", { href: "#/staff?page=automations" }, t("staff.automations.back")));
  let automation;
  let report;
  try {
    [automation, report] = await Promise.all([call(`/automations/${automationId}`), call(`/automations/${automationId}/report`)]);
  } catch (error) {
    container.append(pageHead(t("staff.automations.reportTitle")), back, failure(error, t("staff.automations.reportTitle")));
    return;
  }
  container.append(pageHead(t("staff.automations.reportFor", { name: automation.name }), t("staff.automations.reportIntro", { days: formatNumber(report.window_days) })), back);
  const { treated, control, difference } = report;
  const groups = [
    [t("staff.automations.treated"), treated],
    [t("staff.automations.heldBack"), control],
  ];
  const figures = h(
    "div",
    { class: "chart-grid", id: "automation-report" },
    barChart({
      title: t("staff.automations.chart.rate", { days: formatNumber(report.window_days) }),
      definition: t("staff.automations.chart.rateDef"),
      data: groups.map(([label, group]) => [label, (group.rate ?? 0) * 100]),
      valueLabel: t("staff.automations.chart.rateValue"),
      format: (value) => `${formatNumber(Math.round(value * 10) / 10)} %`,
    }),
    barChart({
      title: t("staff.automations.chart.spend"),
      definition: t("staff.automations.chart.spendDef"),
      data: groups.map(([label, group]) => [label, group.spend_per_member_cents ?? 0]),
      valueLabel: t("staff.automations.chart.spendValue"),
      format: (value) => formatMoney(Math.round(value)),
    }),
  );
  const counts = table(
    t("staff.automations.groups"),
    [t("staff.automations.group"), t("staff.automations.members"), t("staff.automations.boughtAgain"), t("staff.automations.spend")],
    groups.map(([label, group]) => [label, formatNumber(group.members), `${formatNumber(group.bought_again)}${group.rate !== null && group.rate !== undefined ? ` (${percent(group.rate)})` : ""}`, formatMoney(group.spend_cents)]),
  );
  container.append(h("section", { class: "card-surface panel", "aria-label": t("staff.automations.verdict") }, h("h3", {}, t("staff.automations.verdict")), ...verdict(report, difference)), figures, counts);
}

function verdict(report, difference) {
  if (difference.rate === null || difference.rate === undefined) {
    return [h("p", { id: "automation-verdict" }, t("staff.automations.noComparison", { holdout: formatNumber(report.holdout_percent) }))];
  }
  const [low, high] = difference.rate_ci95;
  const [spendLow, spendHigh] = difference.spend_per_member_ci95;
  const lines = [
    h("p", { id: "automation-verdict" }, t("staff.automations.rateWords", { difference: points(difference.rate), low: points(low), high: points(high), days: formatNumber(report.window_days) })),
    h("p", {}, t("staff.automations.spendWords", { difference: signedMoney(difference.spend_per_member_cents), low: signedMoney(spendLow), high: signedMoney(spendHigh) })),
  ];
  if (low <= 0 && high >= 0) lines.push(h("p", { class: "notice" }, t("staff.automations.containsZero")));
  else lines.push(h("p", {}, t(difference.rate > 0 ? "staff.automations.works" : "staff.automations.harms")));
  if (difference.small_sample) lines.push(h("p", { class: "hint" }, t("staff.automations.smallSample")));
  return lines;
}
