/**
 * Coupon check at the service desk: what a coupon is and what happened to it, without
 * redeeming it (`POST /coupons/lookup`: terms, state, campaign, member, and every redemption
 * with when, store, till, cashier and receipt). A manager can void an active coupon from here,
 * after confirming.
 */

import { formatMoney, formatNumber, t } from "../i18n.js";
import { describeBenefit, h, humanise, replace } from "../ui.js";
import { call, confirmButton, tOr, input, named, pageHead, problemAlert, submitting, success, table, when } from "./common.js";

const CODE_LENGTH = 13; // 12 symbols and a check symbol, dashes and spaces optional

export async function render(container) {
  const result = h("div", { class: "desk-result", "aria-live": "polite" });
  const code = input(t("staff.desk.code"), { name: "code", id: "desk-code", required: true, autocomplete: "off", autocapitalize: "characters", spellcheck: "false", maxlength: 64 }, { hint: t("staff.desk.codeHint") });
  const form = h("form", { class: "card-surface row desk-form", "aria-label": t("staff.desk.title") }, h("div", { class: "grow" }, code), h("button", { type: "submit", class: "primary" }, t("staff.desk.check")));
  submitting(form, {
    check: (f) => (f.elements.code.value.replace(/[\s-]/g, "").length === CODE_LENGTH ? null : t("staff.desk.badCode")),
    send: (f) => call("/coupons/lookup", { method: "POST", body: { code: f.elements.code.value.trim() } }),
    done: (coupon) => {
      replace(form.querySelector(".form-message"));
      replace(result, couponCard(coupon, () => form.requestSubmit()));
    },
  });
  container.append(pageHead(t("staff.desk.title"), t("staff.desk.intro")), form, result);
  form.elements.code.focus();
}

function stateChip(state) {
  const good = state === "active";
  return h("span", { class: `chip state-${state} ${good ? "ok" : "bad"}`, id: "coupon-state" }, tOr(`staff.desk.state.${state}`, humanise(state)));
}

function couponCard(coupon, refresh) {
  const message = h("div", { "aria-live": "polite" });
  const facts = [
    [t("staff.desk.campaign"), coupon.campaign ? coupon.campaign.name : tOr(`staff.desk.source.${coupon.source}`, humanise(coupon.source))],
    [t("staff.desk.benefit"), describeBenefit(coupon.benefit)],
    [t("staff.desk.validity"), `${coupon.valid_from ? when(coupon.valid_from) : t("staff.desk.always")} – ${coupon.valid_until ? when(coupon.valid_until) : t("staff.desk.open")}`],
    [t("staff.desk.minBasket"), coupon.min_basket_cents ? formatMoney(coupon.min_basket_cents) : "–"],
    [t("staff.desk.boundTo"), coupon.member ? coupon.member.name : coupon.member_bound ? t("staff.desk.aMember") : t("staff.desk.anyone")],
    [t("staff.desk.uses"), formatNumber(coupon.use_count || 0)],
  ];
  if (coupon.voided_at) facts.push([t("staff.desk.voidedAt"), when(coupon.voided_at)]);
  const redemptions = (coupon.redemptions || []).map((r) => [
    when(r.redeemed_at),
    named(r.store, "store", null),
    named(r.till, "till", null),
    named(r.staff, "staff", null) || "–",
    r.receipt_id,
    r.discount_cents ? formatMoney(r.discount_cents, r.currency) : r.bonus_points ? t("staff.desk.points", { points: formatNumber(r.bonus_points) }) : "–",
    r.reversed_at ? t("staff.desk.reversed", { when: when(r.reversed_at), who: named(r.reversed_by, "staff", null) || "–" }) : "",
  ]);
  const voidButton =
    coupon.state === "active" || coupon.state === "not-yet-valid"
      ? confirmButton(t("staff.desk.void"), t("staff.desk.voidConfirm"), async () => {
          try {
            await call(`/coupons/${coupon.coupon_id}/void`, { method: "POST", body: { reason: "voided at the service desk" } });
            replace(message, success(t("staff.desk.voided")));
            refresh();
          } catch (error) {
            replace(message, problemAlert(error));
          }
        })
      : null;
  return h(
    "article",
    { class: "card-surface coupon-check" },
    h("div", { class: "coupon-head" }, h("h3", {}, coupon.campaign ? coupon.campaign.name : t("staff.desk.coupon")), stateChip(coupon.state)),
    h("p", { class: "verdict" }, tOr(`staff.desk.verdict.${coupon.state}`, "")),
    h("dl", { class: "facts" }, facts.flatMap(([term, value]) => [h("dt", {}, term), h("dd", {}, value)])),
    table(t("staff.desk.history"), [t("staff.desk.when"), t("staff.desk.store"), t("staff.desk.till"), t("staff.desk.cashier"), t("staff.desk.receipt"), t("staff.desk.gave"), ""], redemptions, { empty: t("staff.desk.neverUsed") }),
    voidButton ? h("div", { class: "actions" }, voidButton) : null,
    message,
  );
}
