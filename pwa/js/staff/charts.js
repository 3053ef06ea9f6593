/**
 * Charts drawn as SVG by the app itself: no library, no build step, nothing to download.
 *
 * A chart is a <figure> holding the SVG (role "img", with a label that says what it shows),
 * a one-line definition of the figure as its caption, and the same numbers as a small table
 * for screen readers and for anyone who wants the exact values. Colours come from the
 * stylesheet (`currentColor` and CSS classes), so branding and contrast rules apply.
 */

import { formatNumber, t } from "../i18n.js";
import { h } from "../ui.js";

const SVG_NS = "http://www.w3.org/2000/svg";

function svg(tag, attributes = {}, ...children) {
  const element = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value !== null && value !== undefined) element.setAttribute(name, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

function dataTable(title, headings, rows) {
  return h(
    "details",
    { class: "chart-data" },
    h("summary", {}, t("staff.chart.showNumbers")),
    h(
      "table",
      { class: "compact" },
      h("caption", { class: "visually-hidden" }, title),
      h("thead", {}, h("tr", {}, headings.map((heading) => h("th", { scope: "col" }, heading)))),
      h("tbody", {}, rows.map((cells) => h("tr", {}, h("th", { scope: "row" }, cells[0]), cells.slice(1).map((cell) => h("td", {}, cell))))),
    ),
  );
}

/**
 * Horizontal bars: `data` is [[label, value], …] (largest first is easiest to read).
 * `secondary` (optional) draws a second, lighter bar behind each (e.g. codes issued behind
 * codes redeemed).
 */
export function barChart({ title, definition, data, secondary, valueLabel, secondaryLabel, format = formatNumber }) {
  const rows = data.slice(0, 12);
  if (!rows.length) {
    return h("figure", { class: "chart card-surface" }, h("h3", {}, title), h("p", { class: "hint" }, t("staff.chart.noData")), h("figcaption", { class: "hint" }, definition));
  }
  const max = Math.max(1, ...rows.map(([, value], index) => Math.max(value, secondary ? secondary[index] || 0 : 0)));
  const barHeight = 26;
  const gap = 10;
  const labelWidth = 200;
  const width = 560;
  const plot = width - labelWidth - 60;
  const height = rows.length * (barHeight + gap);
  const summary = rows.map(([label, value]) => `${label}: ${format(value)}`).join(", ");
  const graphic = svg(
    "svg",
    { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": `${title}. ${summary}`, class: "chart-svg", preserveAspectRatio: "xMinYMin meet" },
    rows.map(([label, value], index) => {
      const y = index * (barHeight + gap);
      const behind = secondary ? secondary[index] || 0 : null;
      return svg(
        "g",
        {},
        svg("text", { x: labelWidth - 8, y: y + barHeight / 2, "text-anchor": "end", "dominant-baseline": "middle", class: "chart-label" }, String(label).length > 28 ? `${String(label).slice(0, 27)}…` : label),
        behind !== null ? svg("rect", { x: labelWidth, y, width: Math.max(2, (behind / max) * plot), height: barHeight, rx: 4, class: "chart-bar-secondary" }) : null,
        svg("rect", { x: labelWidth, y, width: Math.max(2, (value / max) * plot), height: barHeight, rx: 4, class: "chart-bar" }),
        svg("text", { x: labelWidth + Math.max(2, ((behind !== null ? Math.max(value, behind) : value) / max) * plot) + 6, y: y + barHeight / 2, "dominant-baseline": "middle", class: "chart-value" }, behind !== null ? `${format(value)} / ${format(behind)}` : format(value)),
      );
    }),
  );
  const headings = [t("staff.chart.item"), valueLabel || t("staff.chart.value")];
  if (secondary) headings.push(secondaryLabel || "");
  return h(
    "figure",
    { class: "chart card-surface" },
    h("h3", {}, title),
    graphic,
    h("figcaption", { class: "hint" }, definition),
    dataTable(title, headings, rows.map(([label, value], index) => (secondary ? [label, format(value), format(secondary[index] || 0)] : [label, format(value)]))),
  );
}

/** Big numbers in a row of tiles: [[label, value, definition], …]. */
export function tiles(entries) {
  return h(
    "div",
    { class: "tiles kpi-tiles" },
    entries.map(([label, value, definition]) =>
      h("div", { class: "tile", title: definition || null }, h("span", { class: "tile-value" }, value), h("span", { class: "tile-label" }, label)),
    ),
  );
}
