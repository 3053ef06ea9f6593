/**
 * Overview: the figures a manager looks at first, as charts with a one-line definition each.
 *
 * From the APIs this server has: till attempts, refusals by type, events by rule and per store
 * (`GET /fraud/summary?from=&to=`), and each campaign's redemptions against its codes
 * (`GET /campaigns`). The lifecycle KPIs (members over time, stages and flows, sales and visits,
 * points and the liability, redemptions per campaign, cohorts) come from
 * `GET /kpis?start=&end=&store_id=` (`js/staff/kpis.js`); until that API is deployed the page
 * says so instead of inventing numbers. Customer feedback (NPS over the last 90 days and open
 * complaints, `GET /feedback/kpis`) is shown as tiles above the rest; it does not follow the
 * date filter, because NPS is always read over a fixed recent window.
 */

import { formatNumber, t } from "../i18n.js";
import { h, humanise, replace } from "../ui.js";
import { barChart, tiles } from "./charts.js";
import { call, failure, input, pageHead, stores } from "./common.js";
import { kpiSection } from "./kpis.js";

const isoDate = (date) => date.toISOString().slice(0, 10);

export async function render(container) {
  const today = new Date();
  const from = input(t("staff.overview.from"), { name: "from", type: "date", value: isoDate(new Date(today.getTime() - 29 * 86_400_000)), required: true });
  const to = input(t("staff.overview.to"), { name: "to", type: "date", value: isoDate(today), required: true });
  const storeSelect = input(t("staff.overview.store"), { name: "store" }, { tag: "select", options: [["", t("staff.overview.allStores")]] });
  const output = h("div", { class: "overview", "aria-live": "polite" });
  const form = h("form", { class: "row filters", "aria-label": t("staff.overview.filters") }, from, to, storeSelect, h("button", { type: "submit", class: "secondary" }, t("staff.overview.show")));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    load();
  });
  container.append(pageHead(t("staff.nav.overview"), t("staff.overview.intro")), form, output);
  stores()
    .then((list) => storeSelect.querySelector("select").append(...list.map((store) => h("option", { value: String(store.id) }, store.name))))
    .catch(() => {});

  async function load() {
    const fromValue = form.querySelector('[name="from"]').value;
    const toValue = form.querySelector('[name="to"]').value;
    const storeId = form.querySelector('[name="store"]').value;
    if (!fromValue || !toValue || fromValue > toValue) {
      replace(output, failure(t("staff.overview.badRange")));
      return;
    }
    replace(output, h("p", { class: "loading", role: "status" }, t("staff.loading")));
    const start = new Date(`${fromValue}T00:00:00`).toISOString();
    const end = new Date(new Date(`${toValue}T00:00:00`).getTime() + 86_400_000).toISOString();
    const [feedback, figures, fraud] = await Promise.all([feedbackSection(), kpis(fromValue, toValue, storeId), fraudSection(start, end, storeId)]);
    // With the KPI API, redemptions per campaign come from it (for the period and store).
    replace(output, feedback, figures.node, fraud, figures.available ? null : await campaignSection());
  }
  await load();
}

async function kpis(fromValue, toValue, storeId) {
  try {
    return { available: true, node: await kpiSection(fromValue, toValue, storeId) };
  } catch (error) {
    if (error.routeMissing) {
      return { available: false, node: h("div", { class: "notice", role: "status", id: "kpi-pending" }, h("p", {}, t("staff.overview.kpisPending"))) };
    }
    return { available: false, node: failure(error, t("staff.overview.kpis")) };
  }
}

async function feedbackSection() {
  try {
    const feedback = await call("/feedback/kpis?days=90");
    const nps = feedback.nps === null || feedback.nps === undefined ? "–" : `${feedback.nps > 0 ? "+" : ""}${formatNumber(feedback.nps)}`;
    return h(
      "section",
      { class: "overview-feedback", "aria-label": t("staff.overview.feedback"), id: "feedback-tiles" },
      tiles([
        [t("staff.overview.nps"), nps, t("staff.overview.npsDef", { answers: formatNumber(feedback.answers || 0), days: formatNumber(feedback.days || 90) })],
        [t("staff.overview.promoters"), formatNumber(feedback.promoters || 0)],
        [t("staff.overview.detractors"), formatNumber(feedback.detractors || 0)],
        [t("staff.overview.openComplaints"), formatNumber(feedback.open_complaints || 0), t("staff.overview.openComplaintsDef", { count: formatNumber(feedback.complaints_in_period || 0) })],
      ]),
      h("p", { class: "hint" }, t("staff.overview.npsDef", { answers: formatNumber(feedback.answers || 0), days: formatNumber(feedback.days || 90) })),
    );
  } catch (error) {
    if (error.routeMissing) return null;
    return failure(error, t("staff.overview.feedback"));
  }
}

async function fraudSection(start, end, storeId) {
  try {
    const summary = await call(`/fraud/summary?${new URLSearchParams({ from: start, to: end })}`);
    const attempts = summary.attempts || {};
    const perStore = (summary.per_store || []).filter((row) => !storeId || String(row.store_id) === storeId);
    const entries = (counts) => Object.entries(counts || {}).sort((a, b) => b[1] - a[1]).map(([name, count]) => [humanise(name), count]);
    return h(
      "section",
      { class: "overview-fraud" },
      tiles([
        [t("staff.overview.attempts"), formatNumber(attempts.total || 0), t("staff.overview.attemptsDef")],
        [t("staff.overview.accepted"), formatNumber(attempts.accepted || 0)],
        [t("staff.overview.refused"), formatNumber(attempts.refused || 0)],
        [t("staff.overview.openEvents"), formatNumber(summary.open_events || 0)],
      ]),
      h(
        "div",
        { class: "chart-grid" },
        barChart({ title: t("staff.overview.refusals"), definition: t("staff.overview.refusalsDef"), data: entries(summary.refusals_by_type), valueLabel: t("staff.overview.count") }),
        barChart({ title: t("staff.overview.events"), definition: t("staff.overview.eventsDef"), data: entries(summary.events_by_rule), valueLabel: t("staff.overview.count") }),
        barChart({
          title: t("staff.overview.perStore"),
          definition: t("staff.overview.perStoreDef"),
          data: perStore.map((row) => [row.name || t("staff.overview.noStore"), row.refused || 0]),
          secondary: perStore.map((row) => row.attempts || 0),
          valueLabel: t("staff.overview.refused"),
          secondaryLabel: t("staff.overview.attempts"),
        }),
      ),
    );
  } catch (error) {
    return failure(error, t("staff.overview.fraud"));
  }
}

async function campaignSection() {
  try {
    const campaigns = (await call("/campaigns")).filter((campaign) => !campaign.voided_at).slice(0, 10);
    return h(
      "div",
      { class: "chart-grid" },
      barChart({
        title: t("staff.overview.campaigns"),
        definition: t("staff.overview.campaignsDef"),
        data: campaigns.map((campaign) => [campaign.name, campaign.redeemed_count]),
        secondary: campaigns.map((campaign) => campaign.code_count),
        valueLabel: t("staff.overview.redeemed"),
        secondaryLabel: t("staff.overview.issued"),
      }),
    );
  } catch (error) {
    return failure(error, t("staff.nav.campaigns"));
  }
}
