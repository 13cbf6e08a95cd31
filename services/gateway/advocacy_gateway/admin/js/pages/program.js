// The program: its phase, the readiness of the four elements, the fit check's plan and findings,
// targets against actuals, graduation and overrides (docs/planner.md explains each rule).

import { get, post, put } from "../api.js";
import {
  badge, checkboxes, checked, clear, empty, facts, field, fmtDate, form, h, label, number,
  pageHeader, pct, problemBox, section, table, value,
} from "../dom.js";

const PHASES = ["pilot", "targeted_recruitment", "organisation_wide"];
const ELEMENTS = [
  ["purpose", "Purpose"],
  ["buy_in", "Buy-in"],
  ["culture", "Culture"],
  ["practicalities", "Practicalities"],
];
const STAKEHOLDER_ROLES = ["leadership", "hr", "communications", "sales", "legal", "union", "other"];
const APPROVALS = ["approved", "pending", "not_asked", "opposed"];
const TARGETS = [
  ["active_rate", "Active rate (0–1)", "0.01"],
  ["posts_per_ambassador_per_week", "Posts per ambassador per week", "0.1"],
  ["reach", "Reach", "1"],
  ["engagement_rate", "Engagement rate (0–1)", "0.001"],
  ["leadership_participation", "Leadership participation (0–1)", "0.01"],
];

const split = (text) => text.split(",").map((part) => part.trim()).filter(Boolean);

export async function list(ctx, target) {
  const page = await get(`${ctx.base()}/programs?limit=200`);
  const programs = page.items || [];
  const parts = [pageHeader("Programs")];
  parts.push(table({
    caption: "Programs of this organisation",
    columns: [
      { title: "Name", cell: (p) => h("a", { href: `#/program/${p.id}` }, p.name) },
      { title: "Phase", cell: (p) => badge(p.phase, "phase") },
      { title: "Owner", cell: (p) => p.owner },
      { title: "Starts", cell: (p) => fmtDate(p.start_date) },
      { title: "Capacity", cell: (p) => `${Math.round(p.capacity.fte_share * 100)} % of a position` },
    ],
    rows: programs,
    empty: ctx.can("planner.manage") ? "No program yet: create the first one below." : "No program yet.",
  }));
  if (ctx.can("planner.manage")) parts.push(await createForm(ctx));
  clear(target, parts);
}

async function createForm(ctx) {
  let playbook;
  try {
    playbook = await get(`${ctx.base()}/playbook`);
  } catch (error) {
    return section("Create a program", problemBox(error));
  }
  const challenges = [...new Set(playbook.rows.map((row) => row.challenge))];
  return section(
    "Create a program",
    h("p", { class: "muted" }, `From playbook version ${playbook.version}. A program starts as a pilot.`),
    form({
      label: "Create a program",
      submit: "Create program",
      children: [
        field("name", "Name", { required: true, maxlength: 200 }),
        field("owner", "Owner", { required: true, maxlength: 200, hint: "Who runs the program (a role is fine)" }),
        checkboxes("objectives", "Objectives (challenges, highest priority first)", challenges.map((c) => [c, c])),
        checkboxes("disciplines", "Disciplines", playbook.rows.map((row) => [row.key, `${row.discipline} — ${row.enablement_format}`])),
        field("fte_share", "Capacity (share of one position)", { type: "number", required: true, step: "0.05", min: "0.05", max: "10", value: "0.5" }),
        field("start_date", "Start date", { type: "date", required: true }),
        field("awareness_topics", "Awareness topics", { hint: "Comma-separated; targeted recruitment seeks specialists in them" }),
      ],
      action: (node) => post(`${ctx.base()}/programs`, {
        name: value(node, "name"),
        owner: value(node, "owner"),
        objectives: checked(node, "objectives"),
        disciplines: checked(node, "disciplines"),
        capacity: { fte_share: number(node, "fte_share") },
        start_date: value(node, "start_date"),
        awareness_topics: split(value(node, "awareness_topics")),
      }),
      done: (created) => ctx.go(`program/${created.id}`),
    }),
  );
}

export async function detail(ctx, target, programId) {
  const base = `${ctx.base()}/programs/${programId}`;
  const [programData, readiness, plan, phases, graduation, transitions] = await Promise.all([
    get(base),
    get(`${base}/readiness?limit=1`),
    get(`${base}/plan`),
    get(`${base}/phases`),
    get(`${base}/graduation`).catch((error) => ({ error })),
    get(`${base}/phases/transitions?limit=200`),
  ]);
  const latest = (readiness.items || [])[0] || null;
  const manage = ctx.can("planner.manage");
  clear(
    target,
    h("p", { class: "crumbs" }, h("a", { href: "#/program" }, "Programs"), " / ", programData.name),
    pageHeader(programData.name, badge(programData.phase, "phase")),
    facts([
      ["Phase", label(programData.phase)],
      ["Owner", programData.owner],
      ["Objectives", programData.objectives.join("; ")],
      ["Disciplines", programData.disciplines.join(", ")],
      ["Capacity", `${Math.round(programData.capacity.fte_share * 100)} % of a position`],
      ["Starts", fmtDate(programData.start_date)],
      ["Playbook version", String(programData.playbook_version)],
    ]),
    readinessSection(latest, plan),
    manage ? assessForm(ctx, base, latest) : null,
    planSection(plan),
    phasesSection(ctx, base, phases.items || [], graduation, manage),
    transitionsSection(transitions.items || []),
  );
}

function readinessSection(latest, plan) {
  const findingsBy = (element) => plan.findings.filter((finding) => finding.element === element);
  const cards = ELEMENTS.map(([key, title]) => {
    const found = findingsBy(key);
    const status = !latest ? "not assessed" : found.some((f) => f.severity === "blocking") ? "blocking"
      : found.length ? "warning" : "ready";
    return h("li", { class: `element ${status.replace(" ", "-")}` },
      h("h3", {}, title),
      badge(status, status === "ready" ? "ok" : status === "blocking" ? "bad" : "warn"),
      latest ? elementSummary(key, latest) : null,
      found.map((finding) => h("p", { class: "small" }, finding.reason)));
  });
  return section(
    "Readiness: the four elements",
    latest ? h("p", { class: "muted" }, `Assessment ${latest.number} by ${latest.assessed_by}, ${fmtDate(latest.assessed_at)}`)
      : empty("Not assessed yet: the plan stays blocked until readiness is assessed."),
    h("ul", { class: "elements" }, cards),
  );
}

function elementSummary(key, a) {
  if (key === "purpose") return h("p", {}, a.purpose.statement, a.purpose.targets.map((t) => h("span", { class: "small block" }, `${t.metric}: ${t.target} ${t.unit}`)));
  if (key === "buy_in") return h("ul", { class: "small" }, a.buy_in.stakeholders.map((s) => h("li", {}, `${s.title} (${label(s.role)}): ${label(s.approval)}`)));
  if (key === "culture") return h("p", { class: "small" }, `Leadership openness ${a.culture.leadership_openness}/5, visibility appetite ${a.culture.visibility_appetite}/5`);
  return h("p", { class: "small" }, `Prepare ${a.practicalities.prepare_hours} h, launch ${a.practicalities.launch_hours} h, maintain ${a.practicalities.maintain_hours_per_week} h/week`);
}

function assessForm(ctx, base, latest) {
  const stakeholderRow = (index, given) => h("fieldset", { class: "row" },
    h("legend", {}, `Stakeholder ${index + 1}`),
    field(`sh_role_${index}`, "Role", { options: STAKEHOLDER_ROLES.map((r) => [r, label(r)]), value: given?.role || "leadership" }),
    field(`sh_title_${index}`, "Title", { value: given?.title || "", hint: "A role title, not a name" }),
    field(`sh_approval_${index}`, "Approval", { options: APPROVALS.map((a) => [a, label(a)]), value: given?.approval || "pending" }));
  const given = latest || {};
  const target0 = given.purpose?.targets?.[0];
  const details = h("details", { class: "card" }, h("summary", {}, latest ? "Assess readiness again" : "Assess readiness"),
    form({
      label: "Assess readiness",
      submit: "Save assessment",
      children: [
        h("fieldset", {}, h("legend", {}, "Purpose"),
          field("statement", "Statement", { type: "textarea", required: true, value: given.purpose?.statement || "" }),
          field("metric", "Target metric", { value: target0?.metric || "" }),
          field("target", "Target", { type: "number", min: "0", value: target0?.target ?? "" }),
          field("unit", "Unit", { value: target0?.unit || "" })),
        h("fieldset", {}, h("legend", {}, "Buy-in"), [0, 1, 2].map((i) => stakeholderRow(i, given.buy_in?.stakeholders?.[i]))),
        h("fieldset", {}, h("legend", {}, "Culture"),
          field("leadership_openness", "Leadership openness (1–5)", { type: "number", min: "1", max: "5", required: true, value: given.culture?.leadership_openness ?? 3 }),
          field("visibility_appetite", "Visibility appetite (1–5)", { type: "number", min: "1", max: "5", required: true, value: given.culture?.visibility_appetite ?? 3 })),
        h("fieldset", {}, h("legend", {}, "Practicalities"),
          field("prepare_hours", "Hours to prepare", { type: "number", min: "0", step: "0.5", required: true, value: given.practicalities?.prepare_hours ?? 20 }),
          field("launch_hours", "Hours to launch", { type: "number", min: "0", step: "0.5", required: true, value: given.practicalities?.launch_hours ?? 10 }),
          field("maintain_hours_per_week", "Hours per week to maintain", { type: "number", min: "0", step: "0.5", required: true, value: given.practicalities?.maintain_hours_per_week ?? 4 })),
      ],
      action: (node) => {
        const stakeholders = [0, 1, 2]
          .filter((i) => value(node, `sh_title_${i}`))
          .map((i) => ({ role: value(node, `sh_role_${i}`), title: value(node, `sh_title_${i}`), approval: value(node, `sh_approval_${i}`) }));
        const metric = value(node, "metric");
        return post(`${base}/readiness`, {
          purpose: {
            statement: value(node, "statement"),
            targets: metric ? [{ metric, target: number(node, "target") ?? 0, unit: value(node, "unit") }] : [],
          },
          buy_in: { stakeholders },
          culture: { leadership_openness: number(node, "leadership_openness"), visibility_appetite: number(node, "visibility_appetite") },
          practicalities: {
            prepare_hours: number(node, "prepare_hours"),
            launch_hours: number(node, "launch_hours"),
            maintain_hours_per_week: number(node, "maintain_hours_per_week"),
          },
        });
      },
      done: () => ctx.refresh(),
    }));
  return details;
}

function planSection(plan) {
  const verdictKind = { ready: "ok", ready_with_warnings: "warn", blocked: "bad" }[plan.verdict];
  return section(
    "The fit check: plan and findings",
    h("p", {}, "Verdict: ", badge(plan.verdict, verdictKind),
      ` · capacity ${plan.capacity.available_hours_per_week} of ${plan.capacity.hours_per_week} hours a week available`),
    plan.explanation.length ? h("ul", { class: "explanation" }, plan.explanation.map((line) => h("li", {}, line))) : null,
    table({
      caption: "Start with",
      columns: [
        { title: "Discipline", cell: (d) => d.discipline },
        { title: "Format", cell: (d) => label(d.enablement_format) },
        { title: "Ambassadors", cell: (d) => String(d.ambassadors) },
        { title: "Hours a week", cell: (d) => String(d.weekly_hours) },
        { title: "Why", cell: (d) => d.reason },
      ],
      rows: plan.start_with,
      empty: "Nothing to start with yet.",
    }),
    plan.deferred.length ? table({
      caption: "Deferred",
      columns: [{ title: "Discipline", cell: (d) => d.discipline }, { title: "Why", cell: (d) => d.reason }],
      rows: plan.deferred,
    }) : null,
    table({
      caption: "Findings",
      columns: [
        { title: "Severity", cell: (f) => badge(f.severity, f.severity === "blocking" ? "bad" : "warn") },
        { title: "Element", cell: (f) => label(f.element) },
        { title: "Rule", cell: (f) => h("code", {}, f.rule) },
        { title: "Why", cell: (f) => f.reason },
      ],
      rows: plan.findings,
      empty: "No findings: the plan fits.",
    }),
  );
}

function phasesSection(ctx, base, phases, graduation, manage) {
  if (graduation.error) return section("Phases, targets and graduation", problemBox(graduation.error));
  const results = graduation.results || [];
  const next = graduation.next_phase;
  const parts = [
    table({
      caption: "Phases",
      columns: [
        { title: "Phase", cell: (p) => label(p.kind) },
        { title: "Status", cell: (p) => badge(p.status) },
        { title: "Cohort", cell: (p) => String(p.cohort.ambassador_ids.length) },
        { title: "Review", cell: (p) => fmtDate(p.review_date) },
        { title: "Started", cell: (p) => fmtDate(p.started_at) },
        { title: "Graduated", cell: (p) => fmtDate(p.graduated_at) },
      ],
      rows: phases,
      empty: "No phase has targets yet.",
    }),
    h("h3", {}, `Targets versus actuals: ${label(graduation.phase)}`),
    graduation.actuals
      ? h("p", { class: "muted" }, `Measured ${fmtDate(graduation.actuals.measured_at)} for ${fmtDate(graduation.actuals.period_start)}–${fmtDate(graduation.actuals.period_end)}, cohort of ${graduation.actuals.cohort_size}`)
      : h("p", { class: "muted" }, "No actuals measured yet: they arrive from the metrics service."),
    table({
      caption: "Graduation check",
      columns: [
        { title: "Metric", cell: (r) => label(r.metric) },
        { title: "Track", cell: (r) => label(r.track) },
        { title: "Target", cell: (r) => String(r.target) },
        { title: "Actual", cell: (r) => (r.actual === null ? "—" : String(r.actual)) },
        { title: "Met", cell: (r) => badge(r.met ? "met" : "not met", r.met ? "ok" : "bad") },
        { title: "Why", cell: (r) => r.reason },
      ],
      rows: results,
      empty: "No targets set for this phase.",
    }),
    h("p", { id: "graduation-verdict" }, graduation.met ? "The targets are met." : "Not ready to graduate.",
      next ? ` Next phase: ${label(next)}.` : " This is the last phase."),
    graduation.unmet.length ? h("ul", { class: "small" }, graduation.unmet.map((line) => h("li", {}, line))) : null,
  ];
  if (manage) {
    const current = phases.find((p) => p.kind === graduation.phase);
    parts.push(targetsForm(ctx, base, graduation.phase, current));
    if (next) parts.push(advanceForm(ctx, base, next, graduation.met));
  }
  return section("Phases, targets and graduation", parts);
}

function targetsForm(ctx, base, kind, current) {
  return h("details", { class: "card" }, h("summary", {}, `Set the ${label(kind)} targets`),
    form({
      label: "Set phase targets",
      submit: "Save targets",
      children: [
        TARGETS.map(([key, text, step]) => field(key, text, { type: "number", min: "0", step, value: current?.targets?.[key] ?? "" })),
        field("review_date", "Review date", { type: "date", required: true, value: current?.review_date || "" }),
        field("criteria", "Cohort criteria", { value: current?.cohort?.criteria || "", hint: "Why these colleagues" }),
      ],
      action: (node) => {
        const targets = {};
        for (const [key] of TARGETS) {
          const given = number(node, key);
          if (given !== null) targets[key] = given;
        }
        return put(`${base}/phases/${kind}`, {
          cohort: { ambassador_ids: current?.cohort?.ambassador_ids || [], criteria: value(node, "criteria") },
          targets,
          review_date: value(node, "review_date"),
        });
      },
      done: () => ctx.refresh(),
    }));
}

function advanceForm(ctx, base, next, met) {
  return h("details", { class: "card" }, h("summary", {}, `Advance to ${label(next)}`),
    form({
      label: "Advance the phase",
      submit: met ? `Advance to ${label(next)}` : `Override and advance to ${label(next)}`,
      children: met ? [] : [field("override_reason", "Why advance although targets are not met", {
        type: "textarea", required: true, minlength: 10, maxlength: 2000, hint: "Kept in the audit trail, with the unmet targets",
      })],
      action: (node) => post(`${base}/phases/advance`, met ? { to: next } : { to: next, override_reason: value(node, "override_reason") }),
      done: () => ctx.refresh(),
    }));
}

function transitionsSection(transitions) {
  return section("Graduations and overrides", table({
    caption: "Phase transitions",
    columns: [
      { title: "#", cell: (t) => String(t.number) },
      { title: "From", cell: (t) => label(t.from_phase) },
      { title: "To", cell: (t) => label(t.to_phase) },
      { title: "Decided by", cell: (t) => badge(t.decided_by, t.decided_by === "override" ? "warn" : "ok") },
      { title: "Reason", cell: (t) => t.override_reason || "—" },
      { title: "Unmet then", cell: (t) => t.unmet.join("; ") || "—" },
      { title: "By", cell: (t) => t.actor },
      { title: "When", cell: (t) => fmtDate(t.at) },
    ],
    rows: transitions,
    empty: "The program has not changed phase yet.",
  }));
}

export { PHASES };
