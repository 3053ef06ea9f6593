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

/**
 * Vertical columns per label (months, say), one colour per series:
 * `series` is [[name, [value per label]], …]; a legend names the series.
 */
export function columnChart({ title, definition, labels, series, format = formatNumber }) {
  if (!labels.length) {
    return h("figure", { class: "chart card-surface" }, h("h3", {}, title), h("p", { class: "hint" }, t("staff.chart.noData")), h("figcaption", { class: "hint" }, definition));
  }
  const width = 560;
  const height = 240;
  const bottom = 28;
  const top = 18;
  const max = Math.max(1, ...series.flatMap(([, values]) => values));
  const slot = width / labels.length;
  const barWidth = Math.min(40, (slot - 12) / series.length);
  const plot = height - bottom - top;
  const summary = labels.map((label, i) => `${label}: ${series.map(([name, values]) => `${name} ${format(values[i] || 0)}`).join(", ")}`).join("; ");
  const graphic = svg(
    "svg",
    { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": `${title}. ${summary}`, class: "chart-svg" },
    svg("line", { x1: 0, x2: width, y1: height - bottom, y2: height - bottom, class: "chart-axis" }),
    labels.map((label, i) => {
      const x0 = i * slot + (slot - barWidth * series.length) / 2;
      return svg(
        "g",
        {},
        series.map(([, values], s) => {
          const value = values[i] || 0;
          const barHeight = Math.max(1, (value / max) * plot);
          return svg(
            "g",
            {},
            svg("rect", { x: x0 + s * barWidth, y: height - bottom - barHeight, width: barWidth - 2, height: barHeight, rx: 3, class: `chart-series-${s}` }),
            svg("text", { x: x0 + s * barWidth + (barWidth - 2) / 2, y: height - bottom - barHeight - 4, "text-anchor": "middle", class: "chart-value small" }, format(value)),
          );
        }),
        svg("text", { x: i * slot + slot / 2, y: height - 8, "text-anchor": "middle", class: "chart-label" }, label),
      );
    }),
  );
  const legend = h("ul", { class: "chart-legend" }, series.map(([name], s) => h("li", {}, h("span", { class: `swatch chart-series-${s}`, "aria-hidden": "true" }), name)));
  return h(
    "figure",
    { class: "chart card-surface" },
    h("h3", {}, title),
    legend,
    graphic,
    h("figcaption", { class: "hint" }, definition),
    dataTable(title, [t("staff.chart.item"), ...series.map(([name]) => name)], labels.map((label, i) => [label, ...series.map(([, values]) => format(values[i] || 0))])),
  );
}
