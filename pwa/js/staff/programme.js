/**
 * Programme settings: the rewards catalogue and its stock, fulfilment of claimed gifts,
 * earning rules and promotions, the tier ladder, stamp programmes, fraud-rule thresholds and
 * the coupon policy. Each is one tab over the API that already exists:
 *
 * | tab        | API |
 * |------------|-----|
 * | rewards    | `GET /rewards/catalogue`, `POST /rewards`, `PATCH /rewards/{id}` |
 * | claims     | `GET /reward-claims?fulfilment_status=`, `POST /reward-claims/{id}/fulfilment` |
 * | earning    | `GET/PUT /earning-rules` |
 * | promotions | `GET/POST /promotions`, `DELETE /promotions/{id}` |
 * | tiers      | `GET/PUT /tiers` |
 * | stamps     | `GET/POST /stamp-programmes`, `PATCH /stamp-programmes/{id}` |
 * | fraud      | `GET /fraud/rules`, `PUT /fraud/rules` (admins) |
 * | coupons    | `GET/PUT /coupon-settings` |
 *
 * Membership plans appear here once their API is deployed.
 */

import { formatMoney, formatNumber, t } from "../i18n.js";
import { h, humanise, parseAmountToCents, replace } from "../ui.js";
import { call, checkbox, confirmButton, failure, input, intOf, pageHead, panel, problemAlert, subTabs, submitting, success, table, when } from "./common.js";

const TABS = ["rewards", "claims", "earning", "promotions", "tiers", "stamps", "fraud", "coupons"];

export async function render(container, context) {
  const body = h("div", { class: "programme-body" });
  const { tabs, select } = subTabs(t("staff.nav.programme"), TABS.map((key) => [key, t(`staff.programme.tab.${key}`)]), (key) => {
    body.replaceChildren();
    const builders = { rewards, claims, earning, promotions, tiers, stamps, fraud, coupons };
    builders[key](body, context);
  });
  container.append(pageHead(t("staff.nav.programme"), t("staff.programme.intro")), tabs, body);
  const wanted = context.params.get("tab");
  select(TABS.includes(wanted) ? wanted : "rewards");
}

function loader(container, what, load) {
  const area = h("div", { "aria-live": "polite" });
  container.append(area);
  const run = async () => {
    replace(area, h("p", { class: "loading", role: "status" }, t("staff.loading")));
    try {
      await load(area, run);
    } catch (error) {
      replace(area, failure(error, what, run));
    }
  };
  run();
}

// --- rewards ---------------------------------------------------------------------------------

function rewards(container) {
  loader(container, t("staff.programme.tab.rewards"), async (area, reload) => {
    const list = await call("/rewards/catalogue");
    const rows = list.map((reward) => {
      const stock = h("input", { type: "number", min: 0, value: reward.stock ?? "", placeholder: t("staff.programme.unlimited"), "aria-label": t("staff.programme.stockOf", { name: reward.name }), class: "narrow-input" });
      const message = h("span", { "aria-live": "polite" });
      const save = h("button", { type: "button", class: "secondary" }, t("staff.action.save"));
      save.addEventListener("click", async () => {
        const value = stock.value.trim() === "" ? null : intOf(stock.value);
        if (stock.value.trim() !== "" && (value === null || value < 0)) {
          replace(message, problemAlert(t("staff.programme.err.stock")));
          return;
        }
        try {
          await call(`/rewards/${reward.id}`, { method: "PATCH", body: { stock: value } });
          replace(message, t("staff.saved"));
        } catch (error) {
          replace(message, problemAlert(error));
        }
      });
      const toggle = h("button", { type: "button", class: "link" }, reward.active ? t("staff.programme.switchOff") : t("staff.programme.switchOn"));
      toggle.addEventListener("click", async () => {
        try {
          await call(`/rewards/${reward.id}`, { method: "PATCH", body: { active: !reward.active } });
          reload();
        } catch (error) {
          replace(message, problemAlert(error));
        }
      });
      return [reward.name, t(`staff.programme.rewardKind.${reward.kind}`), formatNumber(reward.cost_points), h("span", { class: "inline" }, stock, save, message), formatNumber(reward.claims_count || 0), h("span", {}, reward.active ? t("staff.programme.on") : t("staff.programme.off"), " ", toggle)];
    });
    const form = h(
      "form",
      { class: "stack", "aria-label": t("staff.programme.newReward") },
      h("div", { class: "row" }, h("div", { class: "grow" }, input(t("staff.programme.name"), { name: "name", required: true, maxlength: 120 })), h("div", { class: "grow" }, input(t("staff.programme.kind"), { name: "kind" }, { tag: "select", options: ["discount", "free_item", "physical_gift"].map((k) => [k, t(`staff.programme.rewardKind.${k}`)]) }))),
      h("div", { class: "row" }, h("div", { class: "grow" }, input(t("staff.programme.cost"), { name: "cost_points", type: "number", min: 1, required: true })), h("div", { class: "grow" }, input(t("staff.programme.stock"), { name: "stock", type: "number", min: 0 }, { hint: t("staff.programme.stockHint") })), h("div", { class: "grow" }, input(t("staff.programme.detail"), { name: "detail" }, { hint: t("staff.programme.detailHint") }))),
      h("button", { type: "submit", class: "primary" }, t("staff.programme.addReward")),
    );
    const build = (f) => {
      const body = { name: f.elements.name.value.trim(), kind: f.elements.kind.value, cost_points: intOf(f.elements.cost_points.value) };
      const stock = f.elements.stock.value.trim();
      if (stock) body.stock = intOf(stock);
      const detail = f.elements.detail.value.trim();
      if (body.kind === "discount") {
        if (detail.endsWith("%")) body.percent_off = intOf(detail.slice(0, -1));
        else body.amount_off_cents = parseAmountToCents(detail);
      } else if (body.kind === "free_item") body.sku = detail;
      else if (detail) body.description = detail;
      return body;
    };
    submitting(form, {
      check: (f) => {
        const body = build(f);
        if (!body.cost_points || body.cost_points < 1) return t("staff.programme.err.cost");
        if (body.kind === "discount" && !body.percent_off && !body.amount_off_cents) return t("staff.programme.err.discount");
        if (body.kind === "free_item" && !body.sku) return t("staff.programme.err.sku");
        return null;
      },
      send: (f) => call("/rewards", { method: "POST", body: build(f) }),
      done: () => reload(),
    });
    replace(
      area,
      table(t("staff.programme.tab.rewards"), [t("staff.programme.name"), t("staff.programme.kind"), t("staff.programme.cost"), t("staff.programme.stock"), t("staff.programme.claims"), t("staff.programme.status")], rows, { empty: t("staff.programme.noRewards") }),
      panel(t("staff.programme.newReward"), form),
    );
  });
}

// --- claims ----------------------------------------------------------------------------------

const NEXT_STEPS = { requested: ["shipped"], shipped: ["delivered", "returned"], delivered: ["returned"], returned: [] };

function claims(container) {
  const filter = input(t("staff.programme.fulfilment"), { name: "status", id: "claims-filter" }, { tag: "select", options: [["requested", t("staff.programme.step.requested")], ["shipped", t("staff.programme.step.shipped")], ["delivered", t("staff.programme.step.delivered")], ["returned", t("staff.programme.step.returned")], ["", t("staff.programme.allClaims")]] });
  container.append(h("div", { class: "row" }, filter));
  const area = h("div", { "aria-live": "polite" });
  container.append(area);
  const select = filter.querySelector("select");
  const load = async () => {
    try {
      const query = select.value ? `?fulfilment_status=${select.value}` : "";
      const list = await call(`/reward-claims${query}`);
      const rows = list.map((claim) => {
        const message = h("span", { "aria-live": "polite" });
        const steps = (NEXT_STEPS[claim.fulfilment_status] || []).map((step) => {
          const act = async () => {
            try {
              await call(`/reward-claims/${claim.claim_id}/fulfilment`, { method: "POST", body: { status: step } });
              load();
            } catch (error) {
              replace(message, problemAlert(error));
            }
          };
          return step === "returned"
            ? confirmButton(t("staff.programme.mark.returned"), t("staff.programme.returnConfirm"), act, { className: "link" })
            : h("button", { type: "button", class: "secondary", onclick: act }, t(`staff.programme.mark.${step}`));
        });
        return [when(claim.claimed_at), claim.member ? claim.member.name : `#${claim.member_id}`, claim.reward_name, formatNumber(claim.points_spent), claim.fulfilment_status ? t(`staff.programme.step.${claim.fulfilment_status}`) : t("staff.programme.coupon"), h("span", { class: "actions" }, steps, message)];
      });
      replace(area, table(t("staff.programme.tab.claims"), [t("staff.programme.when"), t("staff.programme.member"), t("staff.programme.reward"), t("staff.programme.points"), t("staff.programme.status"), ""], rows, { empty: t("staff.programme.noClaims") }));
    } catch (error) {
      replace(area, failure(error, t("staff.programme.tab.claims"), load));
    }
  };
  select.addEventListener("change", load);
  load();
}

// --- earning rules ---------------------------------------------------------------------------

function earning(container) {
  loader(container, t("staff.programme.tab.earning"), async (area) => {
    const rules = await call("/earning-rules");
    const bonusRows = h("div", { class: "stack bonus-rows" });
    const addBonus = (rule = { match: "sku", value: "", multiplier_percent: 200 }) => {
      const row = h(
        "div",
        { class: "row bonus-row" },
        h("div", { class: "narrow" }, input(t("staff.programme.match"), { name: "match" }, { tag: "select", options: [["sku", t("staff.programme.matchSku")], ["category", t("staff.programme.matchCategory")]] })),
        h("div", { class: "grow" }, input(t("staff.programme.matchValue"), { name: "value", required: true, maxlength: 64, value: rule.value })),
        h("div", { class: "narrow" }, input(t("staff.programme.multiplier"), { name: "multiplier_percent", type: "number", min: 0, max: 1000, required: true, value: rule.multiplier_percent })),
        h("button", { type: "button", class: "link", onclick: () => row.remove() }, t("staff.action.remove")),
      );
      row.querySelector("select").value = rule.match;
      bonusRows.append(row);
    };
    (rules.bonus_rules || []).forEach(addBonus);
    const form = h(
      "form",
      { class: "stack", "aria-label": t("staff.programme.tab.earning") },
      h(
        "div",
        { class: "row" },
        h("div", { class: "grow" }, input(t("staff.programme.basePoints"), { name: "base_points", type: "number", min: 0, max: 10000, required: true, value: rules.base_points })),
        h("div", { class: "grow" }, input(t("staff.programme.perAmount"), { name: "per_amount", required: true, value: (rules.per_amount_cents / 100).toFixed(2) }, { hint: t("staff.programme.perAmountHint", { currency: rules.currency }) })),
        h("div", { class: "grow" }, input(t("staff.programme.expiry"), { name: "expiry", type: "number", min: 1, max: 36500, value: rules.expire_after_inactive_days ?? "" }, { hint: t("staff.programme.expiryHint") })),
      ),
      h("h4", {}, t("staff.programme.bonusRules")),
      bonusRows,
      h("button", { type: "button", class: "secondary", onclick: () => addBonus() }, t("staff.programme.addBonus")),
      h("button", { type: "submit", class: "primary" }, t("staff.action.save")),
    );
    const build = (f) => ({
      currency: rules.currency,
      base_points: intOf(f.elements.base_points.value),
      per_amount_cents: parseAmountToCents(f.elements.per_amount.value),
      expire_after_inactive_days: f.elements.expiry.value.trim() ? intOf(f.elements.expiry.value) : null,
      bonus_rules: [...bonusRows.children].map((row) => ({ match: row.querySelector("select").value, value: row.querySelector('[name="value"]').value.trim(), multiplier_percent: intOf(row.querySelector('[name="multiplier_percent"]').value) })),
    });
    submitting(form, {
      check: (f) => (!build(f).per_amount_cents ? t("staff.programme.err.perAmount") : null),
      send: (f) => call("/earning-rules", { method: "PUT", body: build(f) }),
      done: (_answer, message) => replace(message, success(t("staff.saved"))),
    });
    replace(area, h("p", { class: "hint" }, t("staff.programme.earningNow", { points: rules.base_points, amount: formatMoney(rules.per_amount_cents, rules.currency) })), panel(t("staff.programme.tab.earning"), form));
  });
}

// --- promotions ------------------------------------------------------------------------------

function promotions(container) {
  loader(container, t("staff.programme.tab.promotions"), async (area, reload) => {
    const list = await call("/promotions?include_past=true");
    const rows = list.map((promo) => [
      promo.name,
      `${(promo.multiplier_percent / 100).toLocaleString()}×`,
      `${when(promo.starts_at)} – ${when(promo.ends_at)}`,
      promo.cancelled_at
        ? t("staff.programme.cancelled")
        : confirmButton(t("staff.action.cancelIt"), t("staff.programme.cancelConfirm", { name: promo.name }), async () => {
            try {
              await call(`/promotions/${promo.promotion_id}`, { method: "DELETE" });
              reload();
            } catch (error) {
              replace(area, problemAlert(error, reload));
            }
          }, { className: "link" }),
    ]);
    const form = h(
      "form",
      { class: "stack", "aria-label": t("staff.programme.newPromotion") },
      h(
        "div",
        { class: "row" },
        h("div", { class: "grow" }, input(t("staff.programme.name"), { name: "name", required: true, maxlength: 120 })),
        h("div", { class: "narrow" }, input(t("staff.programme.multiplier"), { name: "multiplier_percent", type: "number", min: 101, max: 1000, value: 200, required: true })),
      ),
      h("div", { class: "row" }, h("div", { class: "grow" }, input(t("staff.programme.starts"), { name: "starts", type: "datetime-local", required: true })), h("div", { class: "grow" }, input(t("staff.programme.ends"), { name: "ends", type: "datetime-local", required: true }))),
      h("button", { type: "submit", class: "primary" }, t("staff.programme.addPromotion")),
    );
    submitting(form, {
      check: (f) => (f.elements.ends.value <= f.elements.starts.value ? t("staff.programme.err.promoDates") : null),
      send: (f) => call("/promotions", { method: "POST", body: { name: f.elements.name.value.trim(), multiplier_percent: intOf(f.elements.multiplier_percent.value), starts_at: new Date(f.elements.starts.value).toISOString(), ends_at: new Date(f.elements.ends.value).toISOString() } }),
      done: () => reload(),
    });
    replace(area, table(t("staff.programme.tab.promotions"), [t("staff.programme.name"), t("staff.programme.multiplier"), t("staff.programme.period"), ""], rows, { empty: t("staff.programme.noPromotions") }), panel(t("staff.programme.newPromotion"), form));
  });
}

// --- tiers -----------------------------------------------------------------------------------

function tiers(container) {
  loader(container, t("staff.programme.tab.tiers"), async (area) => {
    const settings = await call("/tiers");
    const rows = h("div", { class: "stack tier-rows" });
    const addTier = (tier = { code: "", name: "", threshold_points: 0, multiplier_percent: 100, benefits: [] }) => {
      const row = h(
        "div",
        { class: "row tier-row" },
        h("div", { class: "narrow" }, input(t("staff.programme.tierCode"), { name: "code", required: true, pattern: "[a-z0-9_-]+", maxlength: 40, value: tier.code })),
        h("div", { class: "grow" }, input(t("staff.programme.name"), { name: "name", required: true, maxlength: 80, value: tier.name })),
        h("div", { class: "narrow" }, input(t("staff.programme.threshold"), { name: "threshold_points", type: "number", min: 0, required: true, value: tier.threshold_points })),
        h("div", { class: "narrow" }, input(t("staff.programme.multiplier"), { name: "multiplier_percent", type: "number", min: 100, max: 1000, value: tier.multiplier_percent })),
        h("div", { class: "grow" }, input(t("staff.programme.benefits"), { name: "benefits", value: (tier.benefits || []).join("; ") })),
        h("button", { type: "button", class: "link", onclick: () => row.remove() }, t("staff.action.remove")),
      );
      rows.append(row);
    };
    (settings.tiers || []).forEach(addTier);
    const form = h(
      "form",
      { class: "stack", "aria-label": t("staff.programme.tab.tiers") },
      h(
        "div",
        { class: "row" },
        h("div", { class: "grow" }, input(t("staff.programme.window"), { name: "window_days", type: "number", min: 1, max: 3650, required: true, value: settings.window_days })),
        h("div", { class: "grow" }, input(t("staff.programme.period"), { name: "qualification_period_months" }, { tag: "select", options: [1, 2, 3, 4, 6, 12].map((m) => [String(m), t("staff.programme.months", { count: m })]) })),
      ),
      rows,
      h("button", { type: "button", class: "secondary", onclick: () => addTier() }, t("staff.programme.addTier")),
      h("button", { type: "submit", class: "primary" }, t("staff.action.save")),
    );
    form.elements.qualification_period_months.value = String(settings.qualification_period_months);
    const build = (f) => ({
      window_days: intOf(f.elements.window_days.value),
      qualification_period_months: intOf(f.elements.qualification_period_months.value),
      tiers: [...rows.children].map((row) => ({
        code: row.querySelector('[name="code"]').value.trim(),
        name: row.querySelector('[name="name"]').value.trim(),
        threshold_points: intOf(row.querySelector('[name="threshold_points"]').value),
        multiplier_percent: intOf(row.querySelector('[name="multiplier_percent"]').value) || 100,
        benefits: row.querySelector('[name="benefits"]').value.split(";").map((s) => s.trim()).filter(Boolean),
      })),
    });
    submitting(form, {
      check: (f) => {
        const body = build(f);
        if (!body.tiers.length) return t("staff.programme.err.noTiers");
        const thresholds = body.tiers.map((tier) => tier.threshold_points);
        if (new Set(thresholds).size !== thresholds.length) return t("staff.programme.err.thresholds");
        return null;
      },
      send: (f) => call("/tiers", { method: "PUT", body: build(f) }),
      done: (_answer, message) => replace(message, success(t("staff.saved"))),
    });
    replace(area, panel(t("staff.programme.tab.tiers"), form));
  });
}

// --- stamp programmes ------------------------------------------------------------------------

function stamps(container) {
  loader(container, t("staff.programme.tab.stamps"), async (area, reload) => {
    const list = await call("/stamp-programmes");
    const rows = list.map((programme) => [
      programme.name,
      formatNumber(programme.stamps_needed),
      [programme.category, ...(programme.skus || [])].filter(Boolean).join(", ") || "–",
      programme.reward && programme.reward.sku ? t("staff.programme.freeItem", { sku: programme.reward.sku }) : humanise(programme.reward ? programme.reward.kind : ""),
      h("button", {
        type: "button",
        class: "link",
        onclick: async () => {
          try {
            await call(`/stamp-programmes/${programme.id}`, { method: "PATCH", body: { active: !programme.active } });
            reload();
          } catch (error) {
            replace(area, problemAlert(error, reload));
          }
        },
      }, programme.active ? t("staff.programme.switchOff") : t("staff.programme.switchOn")),
    ]);
    const form = h(
      "form",
      { class: "stack", "aria-label": t("staff.programme.newStamps") },
      h("div", { class: "row" }, h("div", { class: "grow" }, input(t("staff.programme.name"), { name: "name", required: true, maxlength: 120 })), h("div", { class: "narrow" }, input(t("staff.programme.stampsNeeded"), { name: "stamps_needed", type: "number", min: 1, max: 1000, required: true, value: 10 }))),
      h("div", { class: "row" }, h("div", { class: "grow" }, input(t("staff.programme.category"), { name: "category", maxlength: 64 })), h("div", { class: "grow" }, input(t("staff.programme.skus"), { name: "skus" }, { hint: t("staff.programme.skusHint") })), h("div", { class: "grow" }, input(t("staff.programme.rewardSku"), { name: "reward_sku", required: true, maxlength: 64 }))),
      h("button", { type: "submit", class: "primary" }, t("staff.programme.addStamps")),
    );
    const build = (f) => {
      const body = { name: f.elements.name.value.trim(), stamps_needed: intOf(f.elements.stamps_needed.value), skus: f.elements.skus.value.split(/[\s,;]+/).filter(Boolean), reward: { kind: "free_item", sku: f.elements.reward_sku.value.trim() } };
      if (f.elements.category.value.trim()) body.category = f.elements.category.value.trim();
      return body;
    };
    submitting(form, {
      check: (f) => (!f.elements.category.value.trim() && !f.elements.skus.value.trim() ? t("staff.programme.err.stampScope") : null),
      send: (f) => call("/stamp-programmes", { method: "POST", body: build(f) }),
      done: () => reload(),
    });
    replace(area, table(t("staff.programme.tab.stamps"), [t("staff.programme.name"), t("staff.programme.stampsNeeded"), t("staff.programme.counts"), t("staff.programme.reward"), ""], rows, { empty: t("staff.programme.noStamps") }), panel(t("staff.programme.newStamps"), form));
  });
}

// --- fraud rules -----------------------------------------------------------------------------

function settingControl(rule, key, value, defaults, disabled) {
  const label = humanise(key);
  const name = `${rule.rule}.${key}`;
  if (key === "action") return input(label, { name, disabled }, { tag: "select", options: rule.actions.map((a) => [a, humanise(a)]) });
  if (key === "severity") return input(label, { name, disabled }, { tag: "select", options: ["low", "medium", "high"].map((s) => [s, humanise(s)]) });
  if (typeof defaults[key] === "boolean") return checkbox(label, { name, checked: Boolean(value), disabled });
  if (typeof defaults[key] === "number") return input(label, { name, type: "number", min: 0, step: Number.isInteger(defaults[key]) ? 1 : "any", value, disabled, required: true });
  return h("fieldset", { class: "flags" }, h("legend", {}, label), Object.entries(value || {}).map(([flag, on]) => checkbox(humanise(flag), { name: `${name}.${flag}`, checked: on, disabled })));
}

function fraud(container, { admin }) {
  loader(container, t("staff.programme.tab.fraud"), async (area) => {
    const rules = await call("/fraud/rules");
    const form = h("form", { class: "stack", "aria-label": t("staff.programme.tab.fraud") });
    for (const rule of rules) {
      const controls = Object.entries(rule.settings).map(([key, value]) => settingControl(rule, key, value, rule.defaults, !admin));
      form.append(h("fieldset", { class: "card-surface rule" }, h("legend", {}, humanise(rule.rule)), h("p", { class: "hint" }, rule.description), h("div", { class: "rule-grid" }, controls)));
      for (const key of ["action", "severity"]) {
        const select = form.elements[`${rule.rule}.${key}`];
        if (select) select.value = rule.settings[key];
      }
    }
    if (admin) form.append(h("div", { class: "form-message", "aria-live": "polite" }), h("button", { type: "submit", class: "primary" }, t("staff.action.save")));
    const build = (f) => {
      const changes = {};
      for (const rule of rules) {
        const settings = {};
        for (const [key, value] of Object.entries(rule.settings)) {
          const name = `${rule.rule}.${key}`;
          if (typeof rule.defaults[key] === "boolean") settings[key] = f.elements[name].checked;
          else if (typeof rule.defaults[key] === "number") settings[key] = Number(f.elements[name].value);
          else if (typeof rule.defaults[key] === "string") settings[key] = f.elements[name].value;
          else settings[key] = Object.fromEntries(Object.keys(value || {}).map((flag) => [flag, f.elements[`${name}.${flag}`].checked]));
        }
        changes[rule.rule] = settings;
      }
      return changes;
    };
    if (admin) {
      submitting(form, {
        send: (f) => call("/fraud/rules", { method: "PUT", body: build(f) }),
        done: (_answer, message) => replace(message, success(t("staff.saved"))),
      });
    }
    replace(area, admin ? null : h("p", { class: "notice" }, t("staff.programme.rulesAdminOnly")), form);
  });
}

// --- coupon policy ---------------------------------------------------------------------------

function coupons(container) {
  loader(container, t("staff.programme.tab.coupons"), async (area) => {
    const settings = await call("/coupon-settings");
    const fields = ["offline_floor_limit_cents", "offline_floor_limit_points", "offline_max_age_hours", "reversal_window_minutes"];
    const form = h(
      "form",
      { class: "stack", "aria-label": t("staff.programme.tab.coupons") },
      h("div", { class: "row" }, fields.map((name) => h("div", { class: "grow" }, input(t(`staff.programme.coupon.${name}`), { name, type: "number", min: 0, required: true, value: settings[name] })))),
      h("button", { type: "submit", class: "primary" }, t("staff.action.save")),
    );
    submitting(form, {
      send: (f) => call("/coupon-settings", { method: "PUT", body: Object.fromEntries(fields.map((name) => [name, intOf(f.elements[name].value)])) }),
      done: (_answer, message) => replace(message, success(t("staff.saved"))),
    });
    replace(area, panel(t("staff.programme.tab.coupons"), form), h("p", { class: "hint" }, t("staff.programme.couponsUpdated", { when: when(settings.updated_at) })));
  });
}
