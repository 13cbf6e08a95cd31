// Charts drawn as SVG from data (no library): each is a <figure> whose picture has a title and a
// one-line description for screen readers, and whose numbers are also a table under "Show the data".

import { h, table } from "./dom.js";

const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 640;
const HEIGHT = 220;
const PAD = { top: 12, right: 12, bottom: 34, left: 56 };

function s(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value !== undefined && value !== null) node.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export const number = (value) => (Number.isFinite(value) ? Math.round(value).toLocaleString("en") : "—");

/** A round upper bound for an axis: 1, 2 or 5 times a power of ten. */
function niceMax(value) {
  if (!(value > 2)) return 2; // counts: the middle tick stays a whole number
  const power = 10 ** Math.floor(Math.log10(value));
  return [1, 2, 5, 10].map((step) => step * power).find((candidate) => candidate >= value);
}

let charts = 0;

function figure({ title, description, svg, columns, rows }) {
  const id = `chart-${++charts}`;
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-labelledby", `${id}-title ${id}-desc`);
  svg.prepend(s("title", { id: `${id}-title` }, title), s("desc", { id: `${id}-desc` }, description));
  return h("figure", { class: "chart" },
    h("figcaption", {}, title),
    svg,
    h("details", { class: "chart-data" }, h("summary", {}, `Show the data: ${title}`),
      table({ caption: title, columns, rows })));
}

function axes(max, format) {
  const innerHeight = HEIGHT - PAD.top - PAD.bottom;
  return [0, 0.5, 1].map((share) => {
    const y = PAD.top + innerHeight * (1 - share);
    return s("g", { class: "tick" },
      s("line", { x1: PAD.left, x2: WIDTH - PAD.right, y1: y, y2: y }),
      s("text", { x: PAD.left - 6, y: y + 4, "text-anchor": "end" }, format(max * share)));
  });
}

/** The first label starts at its point and the last ends there, so that neither is cut off. */
const anchor = (index, count) => (index === 0 ? "start" : index === count - 1 ? "end" : "middle");

/** A line over days (or weeks): `points` is [{label, value}], oldest first. */
export function lineChart({ title, unit, points, format = number }) {
  const max = niceMax(Math.max(0, ...points.map((p) => p.value)));
  const innerWidth = WIDTH - PAD.left - PAD.right;
  const innerHeight = HEIGHT - PAD.top - PAD.bottom;
  const step = points.length > 1 ? innerWidth / (points.length - 1) : 0;
  const at = (index, value) => [PAD.left + step * index, PAD.top + innerHeight * (1 - value / max)];
  const path = points.map((p, i) => `${i ? "L" : "M"}${at(i, p.value).map((n) => n.toFixed(1)).join(" ")}`).join(" ");
  const labelEvery = Math.max(1, Math.ceil(points.length / 6));
  const svg = s("svg", { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, class: "chart-svg", preserveAspectRatio: "xMidYMid meet" },
    axes(max, format),
    s("path", { d: path, class: "series" }),
    points.map((p, i) => s("circle", { cx: at(i, p.value)[0], cy: at(i, p.value)[1], r: 2.5, class: "dot" })),
    points.map((p, i) => ((i % labelEvery === 0 && points.length - 1 - i >= labelEvery / 2) || i === points.length - 1
      ? s("text", { x: at(i, 0)[0], y: HEIGHT - 12, "text-anchor": anchor(i, points.length), class: "x-label" }, p.label) : null)));
  const total = points.reduce((sum, p) => sum + p.value, 0);
  const peak = points.reduce((best, p) => (p.value > best.value ? p : best), points[0] || { value: 0, label: "—" });
  return figure({
    title,
    description: `${points.length} points from ${points[0]?.label ?? "—"} to ${points.at(-1)?.label ?? "—"}; total ${format(total)} ${unit}; highest ${format(peak.value)} on ${peak.label}.`,
    svg,
    columns: [{ title: "When", cell: (p) => p.label }, { title: unit, cell: (p) => format(p.value) }],
    rows: points,
  });
}

/** Horizontal bars: `bars` is [{label, value, kind}] (kind picks the colour: "a" or "b"). */
export function barChart({ title, unit, bars, format = number }) {
  const max = niceMax(Math.max(0, ...bars.map((b) => b.value)));
  const row = 28;
  const labelWidth = 190;
  const height = bars.length * row + 8;
  const innerWidth = WIDTH - labelWidth - 90;
  const svg = s("svg", { viewBox: `0 0 ${WIDTH} ${height}`, class: "chart-svg bars", preserveAspectRatio: "xMidYMid meet" },
    bars.map((b, i) => {
      const y = 4 + i * row;
      const width = Math.max(1, (innerWidth * b.value) / max);
      return s("g", {},
        s("text", { x: labelWidth - 8, y: y + 17, "text-anchor": "end" }, b.label.length > 28 ? `${b.label.slice(0, 27)}…` : b.label),
        s("rect", { x: labelWidth, y: y + 4, width: width.toFixed(1), height: row - 10, class: `bar ${b.kind || "a"}` }),
        s("text", { x: labelWidth + width + 6, y: y + 17 }, format(b.value)));
    }));
  return figure({
    title,
    description: bars.map((b) => `${b.label}: ${format(b.value)} ${unit}`).join("; ") || "No data.",
    svg,
    columns: [{ title: "What", cell: (b) => b.label }, { title: unit, cell: (b) => format(b.value) }],
    rows: bars,
  });
}
