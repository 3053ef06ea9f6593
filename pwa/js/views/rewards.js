/**
 * `#/rewards`: the active rewards and claiming one with points.
 *
 * A claim (`POST /api/v1/me/rewards/{id}/claim`) carries an Idempotency-Key made when the
 * member confirms. If the answer is lost (offline, a 5xx, a conflict), "Try again" sends the
 * same key, so the server answers the first claim again instead of spending points twice; any
 * definite answer ends that key's life and the next claim gets a new one.
 */

import { api, newIdempotencyKey } from "../api.js";
import { navigate } from "../router.js";
import { getSession } from "../session.js";
import {
  describeBenefit,
  formatPoints,
  h,
  humanise,
  loading,
  notAvailableBox,
  offlineBox,
  problemBox,
  replace,
} from "../ui.js";

function rewardDetails(reward) {
  const details = [];
  if (reward.kind === "discount") {
    details.push(
      describeBenefit(
        reward.amount_off_cents
          ? { kind: "amount_off", amount_cents: reward.amount_off_cents }
          : { kind: "percent_off", percent: reward.percent_off, cap_cents: reward.percent_cap_cents },
      ),
    );
  } else if (reward.kind === "free_item") {
    details.push("Free item");
  } else if (reward.kind) {
    details.push(humanise(reward.kind));
  }
  if (reward.stock !== null && reward.stock !== undefined) details.push(`${reward.stock} left`);
  if (reward.claims_left !== null && reward.claims_left !== undefined) details.push(`you can claim ${reward.claims_left} more`);
  return details.join(" · ");
}

/** Render the rewards view. */
export function renderRewards(outlet) {
  if (!getSession("member")) {
    navigate("/login");
    return undefined;
  }
  const status = h("div", { "aria-live": "polite" }, loading());
  const list = h("ul", { class: "rewards", "aria-label": "Rewards" });
  outlet.append(h("section", { class: "view view-rewards" }, status, list));
  const pendingKeys = new Map();
  const claimButtons = new Map(); // reward id → function that redraws its claim button
  let balance = null; // known after a claim; until then the API's `affordable` decides

  function claimResult(answer) {
    const lines = [h("p", {}, h("strong", {}, "Claimed!"), ` ${formatPoints(answer.points_spent)} points spent; balance ${formatPoints(answer.points_balance)}.`)];
    if (answer.coupon) {
      lines.push(h("p", {}, "Your coupon: ", h("code", { class: "coupon-code" }, answer.coupon.code), " — ", h("a", { href: "#/coupons" }, "see my coupons")));
    }
    if (answer.fulfilment_status) lines.push(h("p", { class: "hint" }, `Delivery: ${humanise(answer.fulfilment_status)}.`));
    return h("div", { class: "success", role: "status" }, lines);
  }

  async function claim(reward, message, actions) {
    if (!pendingKeys.has(reward.id)) pendingKeys.set(reward.id, newIdempotencyKey());
    const buttons = [...actions.querySelectorAll("button")];
    buttons.forEach((button) => (button.disabled = true));
    replace(message, loading("Claiming…"));
    try {
      const answer = await api(`/me/rewards/${reward.id}/claim`, {
        method: "POST",
        session: "member",
        idempotencyKey: pendingKeys.get(reward.id),
      });
      pendingKeys.delete(reward.id);
      replace(message, claimResult(answer));
      replace(actions);
      balance = answer.points_balance;
      claimButtons.delete(reward.id);
      for (const redraw of claimButtons.values()) redraw();
    } catch (error) {
      if (error.retryable) {
        replace(message, problemBox(`${error.detail} Your claim may not have gone through; trying again is safe and never spends points twice.`, { retry: () => claim(reward, message, actions) }));
      } else {
        pendingKeys.delete(reward.id);
        replace(message, problemBox(error));
      }
      buttons.forEach((button) => (button.disabled = false));
    }
  }

  function rewardItem(reward) {
    const message = h("div", { "aria-live": "polite" });
    const actions = h("div", { class: "actions" });
    const affordable = () => (balance === null ? reward.affordable !== false : reward.cost_points <= balance);
    const canClaim = () => affordable() && reward.claims_left !== 0 && reward.stock !== 0;
    const shortNote = h("p", { class: "hint" }, "Not enough points yet.");
    const showClaim = () => {
      shortNote.hidden = affordable();
      replace(
        actions,
        h("button", { type: "button", class: "primary", disabled: !canClaim(), onclick: showConfirm }, `Claim for ${formatPoints(reward.cost_points)} points`),
      );
    };
    claimButtons.set(reward.id, () => {
      if (actions.querySelector("button.primary") && !actions.querySelector("button.secondary")) showClaim();
    });
    const showConfirm = () =>
      replace(
        actions,
        h("button", { type: "button", class: "primary", onclick: () => claim(reward, message, actions) }, `Spend ${formatPoints(reward.cost_points)} points`),
        h("button", { type: "button", class: "secondary", onclick: showClaim }, "Cancel"),
      );
    const item = h(
      "li",
      { class: "card-surface reward", dataset: { rewardId: reward.id } },
      h("h3", {}, reward.name),
      reward.description ? h("p", {}, reward.description) : null,
      h("p", { class: "hint" }, rewardDetails(reward)),
      shortNote,
      actions,
      message,
    );
    showClaim();
    return item;
  }

  async function load() {
    replace(status, loading());
    list.replaceChildren();
    claimButtons.clear();
    balance = null;
    try {
      const rewards = await api("/rewards", { session: "member" });
      replace(status, rewards.length ? null : h("p", { class: "hint" }, "No rewards right now. Check back soon."));
      list.append(...rewards.map(rewardItem));
    } catch (error) {
      if (error.routeMissing) replace(status, notAvailableBox("The rewards catalogue"));
      else if (error.type === "offline") replace(status, offlineBox("Rewards", load));
      else replace(status, problemBox(error, { retry: load }));
    }
  }
  load();
  return undefined;
}
