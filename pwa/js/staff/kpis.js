/**
 * The lifecycle KPIs on the overview, from `GET /kpis?start=&end=&store_id=` (dates, both
 * included; every figure defined in docs/kpis.md): headline tiles, members and active members
 * month by month, the stage distribution and the flows between stages, points issued /
 * redeemed / expired with the liability, redemptions per campaign, and the retention cohorts
 * as a heat map (refusals by type are charted by the till figures below). Each chart carries its one-line definition.
 *
 * "Over time" asks the same API once per calendar month of the chosen range (at most the last
 * six), in parallel: the API answers one period, and a month is the grain a manager reads.
 */

import { formatMoney, formatNumber, t } from "../i18n.js";
import { h, humanise } from "../ui.js";
import { barChart, columnChart, tiles } from "./charts.js";
import { call } from "./common.js";

const MAX_MONTHS = 6;
const percent = (rate) => (rate === null || rate === undefined ? "–" : `${Math.round(rate * 1000) / 10} %`);

/** Fetch the period's report; throws the API's error (404 when the API is not deployed). */
export function fetchReport(startDate, endDate, storeId) {
  const query = new URLSearchParams({ start: startDate, end: endDate });
  if (storeId) query.set("store_id", storeId);
  return call(`/kpis?${query}`);
}

function monthsOf(startDate, endDate) {
  const months = [];
  let [year, month] = startDate.split("-").map(Number);
  const [lastYear, lastMonth] = endDate.split("-").map(Number);
  while (year < lastYear || (year === lastYear && month <= lastMonth)) {
    months.push([year, month]);
    month += 1;
    if (month > 12) [year, month] = [year + 1, 1];
  }
  return months.slice(-MAX_MONTHS);
}

const pad = (n) => String(n).padStart(2, "0");

async function series(startDate, endDate, storeId) {
  const months = monthsOf(startDate, endDate);
  const reports = await Promise.all(
    months.map(([year, month]) => {
      const first = `${year}-${pad(month)}-01`;
      const lastDay = new Date(Date.UTC(year, month, 0)).getUTCDate();
      const last = `${year}-${pad(month)}-${pad(lastDay)}`;
      return fetchReport(first < startDate ? startDate : first, last > endDate ? endDate : last, storeId);
    }),
  );
  return months.map(([year, month], index) => [`${year}-${pad(month)}`, reports[index]]);
}

function heatClass(rate) {
  if (rate === null || rate === undefined) return "heat-none";
  return `heat-${Math.min(5, Math.floor(rate * 6))}`;
}

function cohortTable(cohorts) {
  if (!cohorts.length) return h("p", { class: "hint" }, t("staff.chart.noData"));
  const width = Math.max(...cohorts.map((row) => row.retention.length));
  return h(
    "div",
    { class: "table-scroll" },
    h(
      "table",
      { class: "compact heatmap" },
      h("caption", { class: "visually-hidden" }, t("staff.kpi.cohorts")),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("staff.kpi.cohort")), h("th", { scope: "col" }, t("staff.kpi.size")), Array.from({ length: width }, (_, k) => h("th", { scope: "col" }, t("staff.kpi.monthN", { n: k })))),),
      h(
        "tbody",
        {},
        cohorts.map((row) =>
          h(
            "tr",
            {},
            h("th", { scope: "row" }, row.cohort),
            h("td", {}, formatNumber(row.size)),
            Array.from({ length: width }, (_, k) => h("td", { class: heatClass(row.retention[k]) }, k < row.retention.length ? percent(row.retention[k]) : "")),
          ),
        ),
      ),
    ),
  );
}

/** Render the KPI section for a period (dates as YYYY-MM-DD). */
export async function kpiSection(startDate, endDate, storeId) {
  const [report, monthly] = await Promise.all([fetchReport(startDate, endDate, storeId), series(startDate, endDate, storeId).catch(() => [])]);
  const { members = {}, purchases = {}, points = {}, churn = {}, stages = {}, coupons = [], cohorts = [] } = report;
  return h(
    "section",
    { class: "kpis", "aria-label": t("staff.overview.kpis") },
    tiles([
      [t("staff.kpi.members"), formatNumber(members.total ?? 0), t("staff.kpi.membersDef")],
      [t("staff.kpi.newMembers"), formatNumber(members.new ?? 0), t("staff.kpi.newMembersDef")],
      [t("staff.kpi.active30"), formatNumber(members.active_30d ?? 0), t("staff.kpi.active30Def")],
      [t("staff.kpi.revenue"), formatMoney(purchases.revenue_cents ?? 0), t("staff.kpi.revenueDef")],
      [t("staff.kpi.basket"), formatMoney(purchases.average_basket_cents ?? 0), t("staff.kpi.basketDef")],
      [t("staff.kpi.visits"), String(purchases.visits_per_active_member ?? "–"), t("staff.kpi.visitsDef")],
      [t("staff.kpi.churn"), percent(churn.churn_rate), t("staff.kpi.churnDef")],
      [t("staff.kpi.liability"), formatMoney(points.liability_cents ?? 0), t("staff.kpi.liabilityDef")],
    ]),
    h(
      "div",
      { class: "chart-grid" },
      columnChart({
        title: t("staff.kpi.overTime"),
        definition: t("staff.kpi.overTimeDef"),
        labels: monthly.map(([month]) => month),
        series: [
          [t("staff.kpi.members"), monthly.map(([, r]) => (r.members ? r.members.total : 0))],
          [t("staff.kpi.buyers"), monthly.map(([, r]) => (r.purchases ? r.purchases.buyers : 0))],
        ],
      }),
      columnChart({
        title: t("staff.kpi.salesVisits"),
        definition: t("staff.kpi.salesVisitsDef"),
        labels: monthly.map(([month]) => month),
        series: [[t("staff.kpi.receipts"), monthly.map(([, r]) => (r.purchases ? r.purchases.receipts : 0))]],
      }),
      barChart({ title: t("staff.kpi.stages"), definition: t("staff.kpi.stagesDef", { date: stages.as_of || "–" }), data: Object.entries(stages.counts || {}).map(([stage, count]) => [humanise(stage), count]), valueLabel: t("staff.overview.count") }),
      barChart({ title: t("staff.kpi.flows"), definition: t("staff.kpi.flowsDef"), data: (stages.flows || []).slice(0, 8).map((flow) => [`${humanise(flow.from)} → ${humanise(flow.to)}`, flow.members]), valueLabel: t("staff.kpi.membersCount") }),
      barChart({
        title: t("staff.kpi.points"),
        definition: t("staff.kpi.pointsDef", { liability: formatMoney(points.liability_cents ?? 0), outstanding: formatNumber(points.outstanding ?? 0) }),
        data: [
          [t("staff.kpi.issued"), points.issued ?? 0],
          [t("staff.kpi.redeemed"), points.redeemed ?? 0],
          [t("staff.kpi.expired"), points.expired ?? 0],
        ],
        valueLabel: t("staff.kpi.pointsLabel"),
      }),
      barChart({
        title: t("staff.overview.campaigns"),
        definition: t("staff.kpi.couponsDef"),
        data: coupons.slice(-10).map((row) => [row.name, row.redeemed_in_period]),
        secondary: coupons.slice(-10).map((row) => row.issued),
        valueLabel: t("staff.kpi.inPeriod"),
        secondaryLabel: t("staff.overview.issued"),
      }),
    ),
    h("figure", { class: "chart card-surface cohorts" }, h("h3", {}, t("staff.kpi.cohorts")), cohortTable(cohorts), h("figcaption", { class: "hint" }, t("staff.kpi.cohortsDef"))),
  );
}
