/**
 * Campaigns: create one (anonymous codes to hand out, or one coupon for each listed member),
 * follow its progress (codes issued, redeemed, voided), export an anonymous campaign's codes
 * once, void a campaign.
 *
 * `GET/POST /campaigns`, `GET /campaigns/{id}/codes.csv` (once: the server keeps no copy
 * afterwards, so the page says so before the download and the button is gone after it),
 * `POST /campaigns/{id}/void` (confirmed first). Money is typed as 5 or 5,00 and sent as cents.
 */

import { callApi } from "../api.js";
import { formatMoney, formatNumber, t } from "../i18n.js";
import { describeBenefit, h, parseAmountToCents, replace } from "../ui.js";
import { call, checkbox, confirmButton, failure, input, intOf, named, pageHead, panel, problemAlert, stores, submitting, success, when } from "./common.js";

export async function render(container) {
  const list = h("div", { class: "campaign-list", "aria-live": "polite" });
  const status = h("div", { class: "campaign-status", "aria-live": "polite" });
  const notify = (...nodes) => replace(status, ...nodes);
  const form = await createForm(() => load());
  container.append(pageHead(t("staff.nav.campaigns"), t("staff.campaigns.intro")), h("div", { class: "split" }, panel(t("staff.campaigns.new"), form), h("div", {}, status, list)));

  async function load() {
    replace(list, h("p", { class: "loading", role: "status" }, t("staff.loading")));
    try {
      const campaigns = await call("/campaigns");
      replace(list, campaigns.length ? h("ul", { class: "campaigns", "aria-label": t("staff.nav.campaigns") }, campaigns.map((c) => campaignItem(c, load, notify))) : h("p", { class: "hint" }, t("staff.campaigns.none")));
    } catch (error) {
      replace(list, failure(error, t("staff.nav.campaigns"), load));
    }
  }
  await load();
}

function progress(campaign) {
  const total = Math.max(campaign.code_count, 1);
  const percent = Math.round((campaign.redeemed_count / total) * 100);
  return h(
    "div",
    { class: "progress-line" },
    h("progress", { max: total, value: campaign.redeemed_count, "aria-label": t("staff.campaigns.progressLabel", { name: campaign.name }) }),
    h("span", {}, t("staff.campaigns.progress", { redeemed: formatNumber(campaign.redeemed_count), total: formatNumber(campaign.code_count), percent })),
  );
}

function campaignItem(campaign, reload, notify) {
  const message = h("div", { "aria-live": "polite" });
  const actions = h("div", { class: "actions" });
  const voided = Boolean(campaign.voided_at);
  if (campaign.audience === "anonymous" && !campaign.exported_at && !voided) {
    actions.append(
      confirmButton(t("staff.campaigns.export"), t("staff.campaigns.exportConfirm"), async () => {
        try {
          await download(campaign);
          notify(success(t("staff.campaigns.exported")));
          reload();
        } catch (error) {
          replace(message, problemAlert(error));
        }
      }, { className: "secondary" }),
    );
  }
  if (!voided) {
    actions.append(
      confirmButton(t("staff.campaigns.void"), t("staff.campaigns.voidConfirm", { name: campaign.name }), async () => {
        try {
          await call(`/campaigns/${campaign.campaign_id}/void`, { method: "POST" });
          reload();
        } catch (error) {
          replace(message, problemAlert(error));
        }
      }),
    );
  }
  const facts = [
    describeBenefit(campaign.benefit),
    t(`staff.campaigns.audience.${campaign.audience}`),
    campaign.valid_until ? t("staff.campaigns.until", { when: when(campaign.valid_until) }) : t("staff.campaigns.noEnd"),
    campaign.min_basket_cents ? t("staff.campaigns.minBasket", { amount: formatMoney(campaign.min_basket_cents) }) : null,
  ].filter(Boolean);
  return h(
    "li",
    { class: `card-surface campaign${voided ? " voided" : ""}`, dataset: { campaignId: String(campaign.campaign_id) } },
    h("div", { class: "coupon-head" }, h("h3", {}, campaign.name), voided ? h("span", { class: "chip bad" }, t("staff.campaigns.voided")) : null),
    h("p", { class: "hint" }, facts.join(" · ")),
    progress(campaign),
    h(
      "p",
      { class: "hint" },
      t("staff.campaigns.created", { when: when(campaign.created_at), who: named(campaign.created_by_staff, "staff", campaign.created_by_staff_id) || "–" }),
      campaign.exported_at ? ` · ${t("staff.campaigns.exportedBy", { when: when(campaign.exported_at), who: named(campaign.exported_by_staff, "staff", campaign.exported_by_staff_id) || "–" })}` : "",
    ),
    actions,
    message,
  );
}

async function download(campaign) {
  const { data } = await callApi(`/campaigns/${campaign.campaign_id}/codes.csv`, { session: "staff", as: "blob", accept: "text/csv, application/problem+json" });
  const url = URL.createObjectURL(data);
  const link = h("a", { href: url, download: `campaign-${campaign.campaign_id}-codes.csv`, hidden: true }, "download");
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

async function createForm(created) {
  let storeList = [];
  try {
    storeList = await stores();
  } catch {
    storeList = [];
  }
  const kind = input(t("staff.campaigns.benefitKind"), { name: "kind" }, {
    tag: "select",
    options: [
      ["amount_off", t("staff.campaigns.kind.amount_off")],
      ["percent_off", t("staff.campaigns.kind.percent_off")],
      ["free_item", t("staff.campaigns.kind.free_item")],
      ["bonus_points", t("staff.campaigns.kind.bonus_points")],
    ],
  });
  const value = input(t("staff.campaigns.value"), { name: "value", required: true, inputmode: "decimal" }, { hint: t("staff.campaigns.valueHint") });
  const audience = input(t("staff.campaigns.audienceLabel"), { name: "audience" }, {
    tag: "select",
    options: [
      ["anonymous", t("staff.campaigns.audience.anonymous")],
      ["members", t("staff.campaigns.audience.members")],
    ],
  });
  let segmentList = null; // the lifecycle issue's segments, where deployed
  try {
    segmentList = await call("/segments");
    audience.querySelector("select").append(h("option", { value: "segment" }, t("staff.campaigns.audience.segment")));
  } catch {
    segmentList = null;
  }
  const segmentField = segmentList ? input(t("staff.campaigns.segment"), { name: "segment_id" }, { tag: "select", options: segmentList.map((segment) => [String(segment.segment_id), `${segment.name} (${formatNumber(segment.size ?? 0)})`]) }) : null;
  if (segmentField) segmentField.hidden = true;
  const count = input(t("staff.campaigns.count"), { name: "code_count", type: "number", min: 1, max: 100000, value: 100 });
  const members = input(t("staff.campaigns.memberIds"), { name: "member_ids" }, { hint: t("staff.campaigns.memberIdsHint") });
  members.hidden = true;
  const storeBoxes = h(
    "fieldset",
    { class: "stores-pick" },
    h("legend", {}, t("staff.campaigns.stores")),
    storeList.map((store) => checkbox(store.name, { name: "store", value: String(store.id) })),
    h("small", { class: "hint" }, t("staff.campaigns.storesHint")),
  );
  const form = h(
    "form",
    { class: "stack", "aria-label": t("staff.campaigns.new") },
    input(t("staff.campaigns.name"), { name: "name", required: true, maxlength: 120 }),
    h("div", { class: "row" }, h("div", { class: "grow" }, kind), h("div", { class: "grow" }, value)),
    h("div", { class: "row" }, h("div", { class: "grow" }, audience), h("div", { class: "grow" }, count)),
    members,
    segmentField,
    h("div", { class: "row" }, h("div", { class: "grow" }, input(t("staff.campaigns.validFrom"), { name: "valid_from", type: "date" })), h("div", { class: "grow" }, input(t("staff.campaigns.validUntil"), { name: "valid_until", type: "date" }))),
    h("div", { class: "row" }, h("div", { class: "grow" }, input(t("staff.campaigns.minBasketLabel"), { name: "min_basket", inputmode: "decimal" })), h("div", { class: "grow" }, input(t("staff.campaigns.maxUses"), { name: "max_uses", type: "number", min: 1 }))),
    storeList.length ? storeBoxes : null,
    h("div", { class: "form-message", "aria-live": "polite" }),
    h("button", { type: "submit", class: "primary" }, t("staff.campaigns.create")),
  );
  const audienceSelect = form.elements.audience;
  audienceSelect.addEventListener("change", () => {
    const chosen = audienceSelect.value;
    count.hidden = chosen !== "anonymous";
    form.elements.code_count.required = chosen === "anonymous";
    members.hidden = chosen !== "members";
    form.elements.member_ids.required = chosen === "members";
    if (segmentField) segmentField.hidden = chosen !== "segment";
  });

  function build(f) {
    const errors = [];
    const chosen = f.elements.audience.value;
    const body = { name: f.elements.name.value.trim(), audience: chosen === "segment" ? "members" : chosen };
    const raw = f.elements.value.value.trim();
    const benefitKind = f.elements.kind.value;
    const benefit = { kind: benefitKind };
    if (benefitKind === "amount_off") {
      const cents = parseAmountToCents(raw);
      if (!cents) errors.push(t("staff.campaigns.err.amount"));
      benefit.amount_cents = cents;
    } else if (benefitKind === "percent_off") {
      const percent = intOf(raw);
      if (!percent || percent < 1 || percent > 100) errors.push(t("staff.campaigns.err.percent"));
      benefit.percent = percent;
    } else if (benefitKind === "free_item") {
      if (!raw) errors.push(t("staff.campaigns.err.sku"));
      benefit.sku = raw;
    } else {
      const points = intOf(raw);
      if (!points || points < 1) errors.push(t("staff.campaigns.err.points"));
      benefit.points = points;
    }
    body.benefit = benefit;
    if (body.audience === "anonymous") {
      body.code_count = intOf(f.elements.code_count.value);
      if (!body.code_count || body.code_count < 1 || body.code_count > 100000) errors.push(t("staff.campaigns.err.count"));
      const maxUses = intOf(f.elements.max_uses.value);
      if (maxUses) body.max_uses_per_member = maxUses;
    } else if (chosen === "segment") {
      body.segment_id = intOf(f.elements.segment_id.value);
      if (!body.segment_id) errors.push(t("staff.campaigns.err.segment"));
    } else {
      const ids = f.elements.member_ids.value.split(/[\s,;]+/).filter(Boolean);
      if (!ids.length || ids.some((id) => intOf(id) === null)) errors.push(t("staff.campaigns.err.members"));
      body.member_ids = ids.map((id) => intOf(id));
    }
    const from = f.elements.valid_from.value;
    const until = f.elements.valid_until.value;
    if (from) body.valid_from = new Date(`${from}T00:00:00`).toISOString();
    if (until) body.valid_until = new Date(new Date(`${until}T00:00:00`).getTime() + 86_400_000).toISOString();
    if (from && until && from > until) errors.push(t("staff.campaigns.err.dates"));
    const basket = f.elements.min_basket.value.trim();
    if (basket) {
      const cents = parseAmountToCents(basket);
      if (cents === null) errors.push(t("staff.campaigns.err.basket"));
      body.min_basket_cents = cents;
    }
    const picked = [...f.querySelectorAll('input[name="store"]:checked')].map((box) => Number(box.value));
    if (picked.length) body.store_ids = picked;
    return { body, errors };
  }

  submitting(form, {
    check: (f) => {
      const { errors } = build(f);
      return errors.length ? errors.join(" ") : null;
    },
    send: (f) => call("/campaigns", { method: "POST", body: build(f).body }),
    done: async (campaign, message) => {
      form.reset();
      audienceSelect.dispatchEvent(new Event("change"));
      replace(message, success(t("staff.campaigns.createdOk", { name: campaign.name })));
      await created();
    },
  });
  return form;
}
