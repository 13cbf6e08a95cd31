// Content: the library with its approval workflow (draft → in review → approved → retired; a
// rejected item goes back to draft), each item's kept history, the compliance rules, and a
// preview of what a given ambassador would be suggested and why (docs/content.md).

import { all, get, post, put } from "../api.js";
import {
  badge, checkboxes, checked, clear, empty, facts, field, fmtDate, form, h, label, pageHeader,
  problemBox, section, table, value,
} from "../dom.js";

const STATUSES = ["draft", "in_review", "approved", "retired"];
const KINDS = ["customer_case", "industry_theme", "vacancy", "vision", "company_news", "event"];
const SEGMENTS = ["everyone", "sales_marketing", "specialist", "leadership"];
const STATUS_KIND = { draft: "", in_review: "warn", approved: "ok", retired: "bad" };

const list = (text) => text.split(",").map((part) => part.trim()).filter(Boolean);
const lines = (text) => text.split("\n").map((part) => part.trim()).filter(Boolean);
const who = (a) => a.display_name || `Ambassador ${a.id.slice(0, 8)}`;

export async function libraryPage(ctx, target) {
  const items = await all(`${ctx.base()}/content`, 2000);
  const results = h("div", { id: "content-results" });
  const counts = STATUSES.map((status) => `${label(status)}: ${items.filter((i) => i.status === status).length}`).join(" · ");
  const filters = h("form", { class: "filters", role: "search", "aria-label": "Filter the library" },
    field("q", "Title or text contains", { type: "search" }),
    field("status", "Status", { options: [["", "Any status"], ...STATUSES.map((s) => [s, label(s)])] }),
    field("kind", "Kind", { options: [["", "Any kind"], ...KINDS.map((k) => [k, label(k)])] }),
    field("topic", "Topic", { options: [["", "Any topic"], ...[...new Set(items.flatMap((i) => i.topics))].sort().map((t) => [t, t])] }));
  const apply = () => {
    const q = value(filters, "q").toLowerCase();
    const status = value(filters, "status");
    const kind = value(filters, "kind");
    const topic = value(filters, "topic");
    const shown = items.filter((i) => (!q || `${i.title} ${i.body}`.toLowerCase().includes(q))
      && (!status || i.status === status) && (!kind || i.kind === kind) && (!topic || i.topics.includes(topic)));
    clear(results,
      h("p", { class: "muted", role: "status" }, `${shown.length} of ${items.length} shown`),
      table({
        caption: "Library items",
        columns: [
          { title: "Title", cell: (i) => h("a", { href: `#/content/${i.id}` }, i.title) },
          { title: "Kind", cell: (i) => label(i.kind) },
          { title: "Status", cell: (i) => badge(i.status, STATUS_KIND[i.status]) },
          { title: "Topics", cell: (i) => i.topics.join(", ") || "—" },
          { title: "Language", cell: (i) => i.language },
          { title: "Proposed by", cell: (i) => (i.proposed_by_ambassador ? h("a", { href: `#/ambassadors/${i.proposed_by_ambassador}` }, "an ambassador") : "—") },
          { title: "Changed", cell: (i) => fmtDate(i.updated_at) },
        ],
        rows: shown,
        empty: items.length ? "No item matches these filters." : "The library is empty: add the first item below.",
      }));
  };
  filters.addEventListener("input", apply);
  filters.addEventListener("submit", (event) => event.preventDefault());
  apply();
  clear(target,
    pageHeader("Content library"),
    h("p", { class: "muted" }, counts),
    section("Items", filters, results),
    ctx.can("content.manage") ? addForm(ctx) : null);
}

function itemFields(item = {}) {
  return [
    field("title", "Title", { required: true, maxlength: 200, value: item.title || "" }),
    field("body", "Text", { type: "textarea", required: true, value: item.body || "", hint: "What an ambassador starts from; checked against the compliance rules on submit." }),
    field("link", "Link", { type: "url", value: item.link || "", hint: "https://…" }),
    field("kind", "Kind", { options: KINDS.map((k) => [k, label(k)]), value: item.kind || "company_news" }),
    field("topics", "Topics", { value: (item.topics || []).join(", "), hint: "Comma-separated" }),
    field("disciplines", "Disciplines", { value: (item.disciplines || []).join(", "), hint: "Comma-separated keys from the playbook" }),
    field("language", "Language", { value: item.language || "da", maxlength: 10 }),
    checkboxes("segments", "Segments", SEGMENTS.map((s) => [s, label(s)]), item.segments || ["everyone"]),
  ];
}

function itemBody(node) {
  return {
    title: value(node, "title"),
    body: value(node, "body"),
    link: value(node, "link") || null,
    kind: value(node, "kind"),
    topics: list(value(node, "topics")),
    disciplines: list(value(node, "disciplines")),
    language: value(node, "language") || "da",
    segments: checked(node, "segments"),
  };
}

function addForm(ctx) {
  return h("details", { class: "card" }, h("summary", {}, "Add an item"), form({
    label: "Add a library item",
    submit: "Add as draft",
    children: itemFields(),
    action: (node) => post(`${ctx.base()}/content`, itemBody(node)),
    done: (created) => ctx.go(`content/${created.id}`),
  }));
}

export async function itemPage(ctx, target, itemId) {
  const base = `${ctx.base()}/content/${itemId}`;
  const [item, history] = await Promise.all([get(base), all(`${base}/history`)]);
  clear(target,
    h("p", { class: "crumbs" }, h("a", { href: "#/content" }, "Content library"), " / ", item.title),
    pageHeader(item.title, badge(item.status, STATUS_KIND[item.status])),
    facts([
      ["Kind", label(item.kind)],
      ["Topics", item.topics.join(", ") || "—"],
      ["Disciplines", item.disciplines.join(", ") || "—"],
      ["Segments", item.segments.map(label).join(", ") || "—"],
      ["Language", item.language],
      ["Link", item.link ? h("a", { href: item.link, rel: "noopener noreferrer" }, item.link) : "—"],
      ["Revision", String(item.revision)],
      ["Suggested from", fmtDate(item.publish_from)],
      ["Expires", fmtDate(item.expires_at)],
      ["Created by", h("code", {}, item.created_by)],
    ]),
    section("Text", h("p", { class: "item-body" }, item.body)),
    workflow(ctx, item, base),
    section("History", table({
      caption: "Every step, oldest first",
      columns: [
        { title: "#", cell: (e) => e.number },
        { title: "When", cell: (e) => fmtDate(e.at) },
        { title: "Step", cell: (e) => badge(e.action) },
        { title: "Status", cell: (e) => `${e.from_status ? label(e.from_status) : "—"} → ${label(e.to_status)}` },
        { title: "By", cell: (e) => h("code", {}, e.actor) },
        { title: "Note", cell: (e) => e.note || "—" },
        { title: "Revision", cell: (e) => e.revision },
      ],
      rows: history,
      empty: "No step recorded yet.",
    })));
}

/** The steps the item's status and the caller's role allow: nothing else is offered. */
function workflow(ctx, item, base) {
  const parts = [];
  const manage = ctx.can("content.manage");
  if (item.status === "draft" && manage) {
    parts.push(h("p", {}, "A draft is checked against the compliance rules when it is submitted."), form({
      label: "Submit for review", submit: "Submit for review", children: [],
      action: () => post(`${base}/submit`), done: () => ctx.refresh(),
    }), h("details", { class: "card" }, h("summary", {}, "Edit the draft"), form({
      label: "Edit the draft", submit: "Save changes", children: itemFields(item),
      action: (node) => put(base, itemBody(node)), done: () => ctx.refresh(),
    })));
  }
  if (item.status === "in_review") {
    if (ctx.can("content.approve")) {
      parts.push(form({
        label: "Review the item",
        submit: "Record the decision",
        children: [
          field("decision", "Decision", { options: [["approve", "Approve: it may be suggested"], ["reject", "Reject: back to draft"]] }),
          field("note", "Note", { type: "textarea", maxlength: 2000, hint: "Kept in the history" }),
        ],
        action: (node) => post(`${base}/review`, { decision: value(node, "decision"), note: value(node, "note") || null }),
        done: () => ctx.refresh(),
      }));
    } else {
      parts.push(h("p", { class: "muted" }, "Waiting for someone allowed to approve content."));
    }
  }
  if (item.status === "approved" && manage) {
    parts.push(h("p", {}, "Approved: ambassadors may be suggested this item."), form({
      label: "Retire the item",
      submit: "Retire",
      children: [field("note", "Why retire it", { maxlength: 2000 })],
      action: (node) => post(`${base}/retire`, { note: value(node, "note") || null }),
      done: () => ctx.refresh(),
    }));
  }
  if (item.status === "retired") parts.push(h("p", {}, "Retired: no longer suggested."));
  if (!parts.length) parts.push(h("p", { class: "muted" }, "Your role may read this item but not change it."));
  return section("Approval", parts);
}

export async function rulesPage(ctx, target) {
  const rules = await get(`${ctx.base()}/compliance/rules`);
  const manage = ctx.can("content.manage");
  const checkResult = h("div", { "aria-live": "polite" });
  clear(target,
    pageHeader("Compliance rules"),
    section("In force",
      rules.version ? h("p", { class: "muted" }, `Version ${rules.version}, set by ${rules.updated_by || "—"} on ${fmtDate(rules.updated_at)}.`)
        : empty("No rule set yet: anything may be submitted. Set the disclosure, blocked phrases and link domains below."),
      facts([
        ["Required disclosure", rules.required_disclosure || "none"],
        ["Blocked phrases", rules.blocked_phrases.join(", ") || "none"],
        ["Allowed link domains", rules.allowed_link_domains.join(", ") || "any"],
      ])),
    manage ? section("Change the rules", form({
      label: "Change the compliance rules",
      submit: "Save the rules",
      children: [
        field("required_disclosure", "Required disclosure", { value: rules.required_disclosure || "", maxlength: 200, hint: "e.g. #ad or #employee; every text must carry it" }),
        field("blocked_phrases", "Blocked phrases", { type: "textarea", value: rules.blocked_phrases.join("\n"), hint: "One a line" }),
        field("allowed_link_domains", "Allowed link domains", { type: "textarea", value: rules.allowed_link_domains.join("\n"), hint: "One a line; empty: any domain" }),
      ],
      action: (node) => put(`${ctx.base()}/compliance/rules`, {
        required_disclosure: value(node, "required_disclosure") || null,
        blocked_phrases: lines(value(node, "blocked_phrases")),
        allowed_link_domains: lines(value(node, "allowed_link_domains")),
      }),
      done: () => ctx.refresh(),
    })) : null,
    section("Check a text", form({
      label: "Check a text against the rules",
      submit: "Check",
      children: [
        field("text", "Text", { type: "textarea", required: true, maxlength: 3400 }),
        field("links", "Links", { hint: "Comma-separated" }),
      ],
      action: (node) => post(`${ctx.base()}/compliance/check`, { text: value(node, "text"), links: list(value(node, "links")) }),
      done: (report) => clear(checkResult, report.ok
        ? h("div", { class: "notice", role: "status" }, h("p", {}, "This text meets every rule."))
        : h("div", { class: "problem", role: "alert" }, h("p", { class: "problem-title" }, `${report.violations.length} rule(s) broken`),
          h("ul", {}, report.violations.map((v) => h("li", {}, h("code", {}, v.rule), ": ", v.message))))),
    }), checkResult));
}

export async function previewPage(ctx, target, ambassadorId = null) {
  const ambassadors = (await all(`${ctx.base()}/ambassadors`)).filter((a) => a.state !== "offboarded");
  const picker = field("ambassador", "Ambassador", {
    options: [["", "Choose an ambassador"], ...ambassadors.map((a) => [a.id, `${who(a)}${a.profile.leadership ? " (leadership)" : ""}`])],
    value: ambassadorId || "",
  });
  picker.querySelector("select").addEventListener("change", (event) => {
    if (event.target.value) ctx.go(`content/preview/${event.target.value}`);
  });
  const result = h("div", { "aria-live": "polite" });
  clear(target,
    pageHeader("Suggestion preview"),
    h("p", { class: "muted" }, "What the ranking would suggest to an ambassador now, and why. Nothing is kept or sent."),
    ambassadors.length ? section("Whom for", picker) : empty("No ambassador in the program yet.", h("a", { href: "#/ambassadors" }, "Invite ambassadors")),
    result);
  if (!ambassadorId) return;
  try {
    const preview = await get(`${ctx.base()}/ambassadors/${ambassadorId}/suggestions/preview`);
    clear(result, suggestions(preview));
  } catch (error) {
    clear(result, problemBox(error));
  }
}

function suggestions(preview) {
  if (!preview.items.length) {
    return section("Suggestions", h("p", {}, preview.cadence), empty("Nothing to suggest now: no approved item fits this ambassador."));
  }
  return section(`Suggestions (${preview.items.length})`,
    h("p", {}, preview.cadence),
    h("ol", { class: "suggestions" }, preview.items.map((s) => h("li", { class: "card" },
      h("h3", {}, `${s.rank}. ${s.title}`, s.nudge ? badge("nudge", "warn") : null),
      h("p", {}, s.summary),
      facts([
        ["Score", s.score.toFixed(3)],
        ["Discipline", s.discipline || "—"],
        ["Angle", s.angle_prompt],
        ...(s.leadership_prompt ? [["Leadership angle", s.leadership_prompt]] : []),
      ]),
      table({
        caption: `Why “${s.title}”`,
        columns: [
          { title: "Signal", cell: (x) => label(x.signal) },
          { title: "Weight", cell: (x) => x.weight.toFixed(2) },
          { title: "Value", cell: (x) => x.value.toFixed(2) },
          { title: "Contribution", cell: (x) => x.contribution.toFixed(3) },
          { title: "In words", cell: (x) => x.reason },
        ],
        rows: s.signals,
      })))));
}
