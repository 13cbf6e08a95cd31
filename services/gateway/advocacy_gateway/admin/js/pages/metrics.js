// The metrics dashboard: reach and engagement over time, employees versus the company page,
// earned media value, participation and momentum, top posts, and the leadership track apart for
// the roles allowed to see it (docs/metrics.md). Charts are SVG drawn from the API's numbers.
// Below them, the BI export: each dataset of the star schema as CSV or Parquet, downloaded with
// the session (docs/metrics.md, "BI export").

import { all, ApiError, get } from "../api.js";
import { barChart, lineChart, number } from "../charts.js";
import { badge, clear, empty, facts, field, fmtDate, h, meter, pageHeader, pct, problemBox, section, table } from "../dom.js";

const PERIODS = [["28", "Last 28 days"], ["14", "Last 14 days"], ["90", "Last 90 days"]];
const TOP_POSTS = 10;
const MEASURED_POSTS = 60;

const day = (date) => date.toISOString().slice(0, 10);
const money = (currency) => (amount) => `${Math.round(amount).toLocaleString("en")} ${currency}`;

function period(days) {
  const until = new Date();
  const since = new Date(until.getTime() - (Number(days) - 1) * 86_400_000);
  return { since: day(since), until: day(until) };
}

function query(params) {
  const parts = Object.entries(params).filter(([, v]) => v).map(([k, v]) => `${k}=${encodeURIComponent(v)}`);
  return parts.length ? `?${parts.join("&")}` : "";
}

/** Every day of the period with the rollups' sums (days without posts count 0). */
function daily(rollups, since, until) {
  const sums = new Map();
  for (const row of rollups.items) {
    const sum = sums.get(row.day) || { reach: 0, engagement: 0, impressions: 0, posts: 0 };
    sum.reach += row.reach;
    sum.engagement += row.reactions + row.comments + row.reshares;
    sum.impressions += row.impressions;
    sum.posts += row.posts;
    sums.set(row.day, sum);
  }
  const days = [];
  for (let at = new Date(`${since}T00:00:00Z`); day(at) <= until; at = new Date(at.getTime() + 86_400_000)) {
    days.push([day(at), sums.get(day(at)) || { reach: 0, engagement: 0, impressions: 0, posts: 0 }]);
  }
  return days;
}

export async function page(ctx, target) {
  const programs = (await get(`${ctx.base()}/programs?limit=200`)).items || [];
  const board = h("div", { id: "metrics-board", "aria-live": "polite" });
  const filters = h("form", { class: "filters", "aria-label": "Which figures" },
    field("program", "Program", { options: [["", "Every program"], ...programs.map((p) => [p.id, p.name])] }),
    field("period", "Period", { options: PERIODS }));
  const show = async () => {
    clear(board, h("p", { role: "status", class: "muted" }, "Loading…"));
    const programId = filters.elements.namedItem("program").value;
    const days = filters.elements.namedItem("period").value;
    try {
      clear(board, await dashboard(ctx, programId, period(days)));
    } catch (error) {
      clear(board, problemBox(error));
    }
  };
  filters.addEventListener("change", show);
  filters.addEventListener("submit", (event) => event.preventDefault());
  clear(target, pageHeader("Metrics"), filters, board, biExport(ctx));
  await show();
}

async function dashboard(ctx, programId, { since, until }) {
  const base = `${ctx.base()}/metrics`;
  const scope = { program_id: programId, since, until };
  const [summary, rollups, comparison, participation, momentum, byAmbassador, ambassadors] = await Promise.all([
    get(`${base}/summary${query(scope)}`),
    get(`${base}/rollups/track${query(scope)}`),
    get(`${base}/company-comparison${query(scope)}`),
    get(`${base}/participation${query({ program_id: programId })}`),
    get(`${base}/momentum${query({ program_id: programId, weeks: 8 })}`),
    get(`${base}/rollups/ambassador${query(scope)}`),
    all(`${ctx.base()}/ambassadors`),
  ]);
  const names = new Map(ambassadors.map((a) => [a.id, a.display_name || `Ambassador ${a.id.slice(0, 8)}`]));
  const totals = summary.totals;
  const nothing = totals.posts === 0;
  return h("div", {},
    h("p", { class: "muted" }, `From ${fmtDate(summary.since)} to ${fmtDate(summary.until)}; the leadership track is reported apart.`),
    nothing ? empty("No post was measured in this period yet: figures appear once posts are published and LinkedIn's analytics (or an import) arrive.") : null,
    h("ul", { class: "kpis", "aria-label": "Key figures" },
      kpi("Posts", number(totals.posts)),
      kpi("Reach", number(totals.reach)),
      kpi("Engagements", number(totals.engagement)),
      kpi("Engagement rate", pct(totals.engagement_rate)),
      kpi("Earned media value", money(summary.emv.currency)(summary.emv.amount))),
    section("Reach and engagement over time", overTime(daily(rollups, since, until))),
    section("Employees versus the company page", versus(comparison.comparison)),
    section("Earned media value", emv(summary.emv, totals)),
    section("Participation and momentum", participationPart(participation, momentum, names)),
    section("Top ambassadors and posts", topAmbassadors(byAmbassador, names), await topPosts(ctx, names)),
    ctx.can("metrics.leadership.read") ? await leadership(ctx, scope) : null);
}

function kpi(title, figure) {
  return h("li", { class: "kpi" }, h("span", { class: "kpi-title" }, title), h("span", { class: "kpi-value" }, figure));
}

function overTime(days) {
  const short = ([date]) => date.slice(5);
  return h("div", { class: "chart-grid" },
    lineChart({ title: "Members reached per day", unit: "reached", points: days.map((d) => ({ label: short(d), value: d[1].reach })) }),
    lineChart({ title: "Engagements per day", unit: "engagements", points: days.map((d) => ({ label: short(d), value: d[1].engagement })) }));
}

function ratio(value) {
  return value === null || value === undefined ? "no company-page baseline yet" : `${value.toFixed(1)} ×`;
}

function versus(c) {
  if (!c.employee_posts && !c.company_posts) return empty("No employee or company-page post measured in this period.");
  return [
    facts([
      ["Employee posts", number(c.employee_posts)],
      ["Company-page posts", number(c.company_posts)],
      ["Reach per post, employees / company", ratio(c.reach_ratio)],
      ["Engagement per post, employees / company", ratio(c.engagement_ratio)],
    ]),
    h("div", { class: "chart-grid" },
      barChart({ title: "Reach per post", unit: "reached per post", bars: [
        { label: "Employee posts", value: c.employee_reach_per_post, kind: "a" },
        { label: "Company page", value: c.company_reach_per_post, kind: "b" },
      ] }),
      barChart({ title: "Engagements per post", unit: "engagements per post", bars: [
        { label: "Employee posts", value: c.employee_engagement_per_post, kind: "a" },
        { label: "Company page", value: c.company_engagement_per_post, kind: "b" },
      ] })),
  ];
}

function emv(value, totals) {
  const r = value.rates;
  const parts = [
    ["Impressions", (totals.impressions / 1000) * r.cpm, `${number(totals.impressions)} at ${r.cpm} per 1000`],
    ["Reactions", totals.reactions * r.per_reaction, `${number(totals.reactions)} at ${r.per_reaction}`],
    ["Comments", totals.comments * r.per_comment, `${number(totals.comments)} at ${r.per_comment}`],
    ["Reshares", totals.reshares * r.per_reshare, `${number(totals.reshares)} at ${r.per_reshare}`],
    ["Clicks", totals.clicks * r.per_click, `${number(totals.clicks)} at ${r.per_click}`],
  ];
  const format = money(value.currency);
  return [
    h("p", {}, h("strong", {}, format(value.amount)), ` earned media value: what the same reach and engagement would have cost as paid media (rates in ${value.currency}${r.default ? ", the organisation's default" : ""}).`),
    barChart({ title: "Earned media value by source", unit: value.currency, format, bars: parts.map(([what, amount]) => ({ label: what, value: amount })) }),
    table({
      caption: "How it adds up",
      columns: [{ title: "Source", cell: (p) => p[0] }, { title: "Count and rate", cell: (p) => p[2] }, { title: "Value", cell: (p) => format(p[1]) }],
      rows: parts,
    }),
  ];
}

function participationPart(participation, momentum, names) {
  const trend = momentum.trend;
  const quiet = momentum.ambassadors.filter((a) => a.state !== "active");
  return [
    h("p", {}, meter(participation.posted, participation.enrolled,
      `${participation.posted} of ${participation.enrolled} enrolled posted in the last ${participation.window_days} days (${pct(participation.rate)})`)),
    h("p", {}, "Momentum: ", trend === null ? "not enough weeks measured yet"
      : badge(`${trend >= 0 ? "+" : ""}${Math.round(trend * 100)} % against the 4 weeks before`, trend >= 0 ? "ok" : trend < -0.2 ? "bad" : "warn")),
    lineChart({ title: "Active ambassadors per week", unit: "active ambassadors", points: momentum.weeks.map((w) => ({ label: w.week_start.slice(5), value: w.active_ambassadors })) }),
    table({
      caption: "Quiet, or never posted",
      columns: [
        { title: "Ambassador", cell: (a) => h("a", { href: `#/ambassadors/${a.ambassador_id}` }, names.get(a.ambassador_id) || a.ambassador_id.slice(0, 8)) },
        { title: "State", cell: (a) => badge(a.state, a.state === "quiet" ? "warn" : "") },
        { title: "Last post", cell: (a) => fmtDate(a.last_posted_at) },
        { title: "Days since", cell: (a) => a.days_since_last_post ?? "—" },
      ],
      rows: quiet,
      empty: "Everyone posted recently.",
    }),
  ];
}

function topAmbassadors(rollups, names) {
  const sums = new Map();
  for (const row of rollups.items) {
    const sum = sums.get(row.key) || { key: row.key, reach: 0, posts: 0 };
    sum.reach += row.reach;
    sum.posts += row.posts;
    sums.set(row.key, sum);
  }
  const top = [...sums.values()].sort((a, b) => b.reach - a.reach).slice(0, 8);
  if (!top.length) return empty("No ambassador's post was measured in this period.");
  return barChart({ title: "Reach by ambassador", unit: "reached", bars: top.map((t) => ({ label: names.get(t.key) || t.key.slice(0, 8), value: t.reach })) });
}

/** The most-reaching of the latest published posts, each measured against the company page. */
async function topPosts(ctx, names) {
  if (!ctx.can("posts.read")) return null;
  const posts = (await all(`${ctx.base()}/posts?post_state=published`, MEASURED_POSTS))
    .sort((a, b) => String(b.published_at).localeCompare(String(a.published_at)))
    .slice(0, MEASURED_POSTS);
  const measured = (await Promise.all(posts.map((p) => get(`${ctx.base()}/metrics/posts/${p.id}`)
    .then((m) => ({ post: p, metrics: m }))
    .catch(() => null)))).filter(Boolean);
  const top = measured.sort((a, b) => b.metrics.totals.reach - a.metrics.totals.reach).slice(0, TOP_POSTS);
  return table({
    caption: "Top posts by reach",
    columns: [
      { title: "Post", cell: (x) => h("span", { class: "clip" }, x.post.text) },
      { title: "By", cell: (x) => names.get(x.post.ambassador_id) || "—" },
      { title: "Published", cell: (x) => fmtDate(x.post.published_at) },
      { title: "Reach", cell: (x) => number(x.metrics.totals.reach) },
      { title: "Engagements", cell: (x) => number(x.metrics.totals.engagement) },
      { title: "Rate", cell: (x) => pct(x.metrics.totals.engagement_rate) },
      { title: "vs company", cell: (x) => ratio(x.metrics.versus_company.reach_ratio) },
    ],
    rows: top,
    empty: "No published post has been measured yet.",
  });
}

async function leadership(ctx, scope) {
  const base = `${ctx.base()}/metrics/leadership`;
  const [summary, participation] = await Promise.all([
    get(`${base}${query(scope)}`),
    get(`${base}/participation${query({ program_id: scope.program_id })}`),
  ]);
  const t = summary.totals;
  return section("Leadership visibility",
    h("p", { class: "muted" }, "The leadership track, reported apart and only to the roles allowed to see it."),
    t.posts ? null : empty("No leadership post was measured in this period."),
    facts([
      ["Leaders who posted", `${participation.posted} of ${participation.enrolled} (${pct(participation.rate)})`],
      ["Posts", number(t.posts)],
      ["Reach", number(t.reach)],
      ["Engagements", number(t.engagement)],
      ["Engagement rate", pct(t.engagement_rate)],
      ["Earned media value", money(summary.emv.currency)(summary.emv.amount)],
    ]));
}

// --- BI export ---------------------------------------------------------------------------------

// The datasets of `BI_COLUMNS` (advocacy_shared.contracts.metrics), in its order; `incremental`
// are those of `BI_INCREMENTAL`, which follow `since`.
const DATASETS = [
  { name: "post_days", title: "Post days", incremental: true, text: "Each post's figures per day: the fact table." },
  { name: "posts", title: "Posts", incremental: true, text: "Each post with its latest figures, source and withdrawal." },
  { name: "rollups", title: "Rollups", incremental: true, text: "Daily sums by ambassador, program, discipline, segment and track." },
  { name: "ambassadors", title: "Ambassadors", incremental: false, text: "Each ambassador as a pseudonym, with enrolment and momentum state." },
  { name: "participation", title: "Participation", incremental: false, text: "Enrolled and posted in the window, per program and track." },
  { name: "momentum", title: "Momentum", incremental: false, text: "Active ambassadors and posts per week, the last 8 weeks." },
];
const FORMATS = [["csv", "CSV"], ["parquet", "Parquet"]];

function exportHref(ctx, dataset, format, since) {
  const params = { format, since: dataset.incremental && since ? `${since}T00:00:00Z` : "" };
  return `${ctx.base()}/metrics/export/${dataset.name}${query(params)}`;
}

/**
 * A download link that asks first: the export answers its status before its first byte, so a
 * refusal (a role without `metrics.read`, an expired session) shows here as the API's problem
 * instead of a failed download; once allowed, the browser downloads the file itself, streamed to
 * disk.
 */
function downloadLink(href, text, hidden, errors) {
  const link = h("a", { href, download: "", class: "button secondary" }, text, h("span", { class: "visually-hidden" }, hidden));
  link.addEventListener("click", async (event) => {
    if (link.dataset.allowed) {
      delete link.dataset.allowed;
      return;
    }
    event.preventDefault();
    clear(errors);
    const asking = new AbortController();
    try {
      const response = await fetch(link.href, { credentials: "same-origin", cache: "no-store", signal: asking.signal });
      if (!response.ok) {
        const problem = await response.json().catch(() => ({}));
        throw new ApiError(response.status, { ...problem, title: `Download refused: ${problem.title || response.statusText}` });
      }
      asking.abort();
      link.dataset.allowed = "1";
      link.click();
    } catch (error) {
      const box = problemBox(error);
      box.tabIndex = -1;
      clear(errors, box);
      box.focus();
    }
  });
  return link;
}

function biExport(ctx) {
  const errors = h("div", { class: "form-errors", "aria-live": "polite" });
  const sinceField = field("since", "Changed since (optional)", {
    type: "date",
    hint: "Post days, posts and rollups then hold only the rows written on or after this day (UTC); the other datasets are whole every time. Empty: every row.",
  });
  const sinceInput = sinceField.querySelector("input");
  const links = [];
  const rows = DATASETS.map((dataset) => ({
    dataset,
    links: FORMATS.map(([format, text]) => {
      const link = downloadLink(exportHref(ctx, dataset, format, ""), text, ` of ${dataset.title.toLowerCase()}`, errors);
      links.push([link, dataset, format]);
      return link;
    }),
  }));
  const follow = () => {
    for (const [link, dataset, format] of links) link.setAttribute("href", exportHref(ctx, dataset, format, sinceInput.value));
  };
  sinceInput.addEventListener("input", follow);
  sinceInput.addEventListener("change", follow);
  const leadershipNote = ctx.can("metrics.leadership.read")
    ? "Your role may see leadership metrics, so your files include them."
    : "Your role may not see leadership metrics, so your files leave them out.";
  return section("BI export",
    h("p", {}, "Every program's figures for a BI tool, as CSV or Parquet: a star schema of posts and their days, "
      + "rollups and ambassadors, where an ambassador appears only as a pseudonym. Leadership rows (leaders' posts "
      + "and the leadership track) are included only for the roles allowed to see them. ", h("strong", {}, leadershipNote)),
    h("form", { class: "filters export-options", "aria-label": "Export options", onsubmit: (event) => event.preventDefault() }, sinceField),
    table({
      caption: "Datasets",
      columns: [
        { title: "Dataset", cell: (r) => [h("strong", {}, r.dataset.title), " ", h("code", {}, r.dataset.name)] },
        { title: "What it holds", cell: (r) => r.dataset.text },
        { title: "Rows", cell: (r) => (r.dataset.incremental ? "Changed since the day, if given" : "Whole") },
        { title: "Download", cell: (r) => h("div", { class: "actions downloads" }, r.links) },
      ],
      rows,
    }),
    errors,
    h("p", { class: "muted small" }, "A scheduled load uses a bi API key on the same addresses and passes the previous export's ",
      h("code", {}, "Advocacy-Export-Until"), " header as ", h("code", {}, "since"), " (docs/metrics.md)."));
}
