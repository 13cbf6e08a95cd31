// Ambassadors: the onboarding funnel, the list with filters, one person's journey and consent
// history, invitations and the consent texts they show.

import { all, del, get, post } from "../api.js";
import {
  badge, clear, empty, facts, field, fmtDate, form, h, label, meter, pageHeader, problemBox,
  secretNotice, section, table, value,
} from "../dom.js";

const FUNNEL = ["invited", "consented", "connected", "trained", "active"];
const STATES = [...FUNNEL, "quiet", "offboarded"];
const FORMATS = ["workshop", "one_to_one", "guide"];
const STAGE = { invited: 0, consented: 1, connected: 2, trained: 3, active: 4, quiet: 4 };

const who = (a) => a.display_name || `Ambassador ${a.id.slice(0, 8)}`;

function funnel(ambassadors) {
  const inProgram = ambassadors.filter((a) => a.state !== "offboarded");
  const total = inProgram.length;
  const reached = FUNNEL.map((state, index) => [state, inProgram.filter((a) => STAGE[a.state] >= index).length]);
  return section(
    "Onboarding funnel",
    total ? h("ol", { class: "funnel" }, reached.map(([state, count]) => h("li", {},
      h("span", { class: "funnel-label" }, label(state)),
      meter(count, total, `${count} of ${total}`))))
      : empty("Nobody in the program yet: invite the first ambassadors below."),
    h("p", { class: "muted small" }, `Each step counts everyone who reached it. Quiet: ${ambassadors.filter((a) => a.state === "quiet").length}, offboarded: ${ambassadors.length - total}.`),
  );
}

export async function list(ctx, target) {
  const [ambassadors, programs] = await Promise.all([
    all(`${ctx.base()}/ambassadors`),
    get(`${ctx.base()}/programs?limit=200`).then((page) => page.items || []),
  ]);
  const results = h("div", { id: "ambassador-results" });
  const filters = h("form", { class: "filters", role: "search", "aria-label": "Filter ambassadors" },
    field("q", "Name or email contains", { type: "search" }),
    field("state", "State", { options: [["", "Any state"], ...STATES.map((s) => [s, label(s)])] }),
    field("track", "Track", { options: [["", "Everyone"], ["leadership", "Leadership track"], ["others", "Not leadership"]] }),
    field("program", "Program", { options: [["", "Any program"], ...programs.map((p) => [p.id, p.name])] }));
  const apply = () => {
    const q = value(filters, "q").toLowerCase();
    const state = value(filters, "state");
    const track = value(filters, "track");
    const programId = value(filters, "program");
    const shown = ambassadors.filter((a) => (!q || `${a.display_name || ""} ${a.email || ""}`.toLowerCase().includes(q))
      && (!state || a.state === state)
      && (!track || (track === "leadership") === Boolean(a.profile.leadership))
      && (!programId || a.program_id === programId));
    clear(results,
      h("p", { class: "muted", role: "status" }, `${shown.length} of ${ambassadors.length} shown`),
      table({
        caption: "Ambassadors",
        columns: [
          { title: "Name", cell: (a) => h("a", { href: `#/ambassadors/${a.id}` }, who(a)) },
          { title: "Email", cell: (a) => a.email || "—" },
          { title: "State", cell: (a) => badge(a.state) },
          { title: "Track", cell: (a) => (a.profile.leadership ? "Leadership" : "—") },
          { title: "Consent", cell: (a) => (a.consent ? `v${a.consent.consent_version}` : "—") },
          { title: "Since", cell: (a) => fmtDate(a.created_at) },
        ],
        rows: shown,
        empty: ambassadors.length ? "Nobody matches these filters." : "No ambassadors yet.",
      }));
  };
  filters.addEventListener("input", apply);
  filters.addEventListener("submit", (event) => event.preventDefault());
  apply();
  clear(target,
    pageHeader("Ambassadors"),
    funnel(ambassadors),
    section("Everyone", filters, results),
    ctx.can("ambassadors.manage") ? inviteForm(ctx, programs) : null);
}

function inviteForm(ctx, programs) {
  return section(
    "Invite an ambassador",
    h("p", { class: "muted" }, "Adds the person in the invited state; then issue their invitation link from their page."),
    form({
      label: "Invite an ambassador",
      submit: "Invite",
      children: [
        field("display_name", "Name", { required: true, maxlength: 200 }),
        field("email", "Work email", { type: "email", required: true }),
        field("external_id", "HR system id", { maxlength: 200 }),
        field("program_id", "Program", { options: [["", "None yet"], ...programs.map((p) => [p.id, p.name])] }),
        field("topics", "Topics", { hint: "Comma-separated" }),
        field("leadership", "Leadership track", { type: "checkbox" }),
      ],
      action: (node) => post(`${ctx.base()}/ambassadors`, {
        display_name: value(node, "display_name"),
        email: value(node, "email"),
        external_id: value(node, "external_id") || null,
        program_id: value(node, "program_id") || null,
        profile: {
          topics: value(node, "topics").split(",").map((t) => t.trim()).filter(Boolean),
          leadership: node.elements.namedItem("leadership").checked,
        },
      }),
      done: (created) => ctx.go(`ambassadors/${created.id}`),
    }),
  );
}

export async function detail(ctx, target, ambassadorId) {
  const base = `${ctx.base()}/ambassadors/${ambassadorId}`;
  const [person, history, linkedin] = await Promise.all([
    get(base),
    get(`${base}/consents`),
    get(`${base}/linkedin`).catch((error) => ({ error })),
  ]);
  const manage = ctx.can("ambassadors.manage");
  const journey = [{ at: person.created_at, text: "Invited into the program" }];
  for (const change of history.changes) {
    journey.push({
      at: change.at,
      text: change.action === "granted"
        ? `Consent granted (version ${change.consent_version}; posting ${change.allows_posting ? "allowed" : "not allowed"}, analytics ${change.allows_analytics ? "allowed" : "not allowed"})`
        : `Consent revoked (version ${change.consent_version})`,
    });
  }
  if (linkedin && !linkedin.error && linkedin.connected_at) journey.push({ at: linkedin.connected_at, text: "LinkedIn connected" });
  journey.sort((a, b) => String(a.at).localeCompare(String(b.at)));
  const reachedStage = STAGE[person.state] ?? -1;
  clear(target,
    h("p", { class: "crumbs" }, h("a", { href: "#/ambassadors" }, "Ambassadors"), " / ", who(person)),
    pageHeader(who(person), badge(person.state)),
    facts([
      ["Email", person.email || "—"],
      ["HR system id", person.external_id || "—"],
      ["Track", person.profile.leadership ? "Leadership" : "Everyone"],
      ["Topics", person.profile.topics.join(", ") || "—"],
      ["Languages", person.profile.languages.join(", ")],
      ["Trainings", person.trainings.map(label).join(", ") || "—"],
      ["LinkedIn", linkedin.error ? "not connected" : label(linkedin.status || (linkedin.connected_at ? "connected" : "not connected"))],
    ]),
    section("Journey",
      h("ol", { class: "steps", "aria-label": "Onboarding steps" }, FUNNEL.map((state, index) => h("li", {
        class: index <= reachedStage ? "done" : "", "aria-current": person.state === state ? "step" : null,
      }, label(state), index <= reachedStage ? h("span", { class: "visually-hidden" }, " (reached)") : null))),
      person.state === "quiet" || person.state === "offboarded" ? h("p", {}, `Now ${label(person.state)}.`) : null,
      table({
        caption: "What happened",
        columns: [{ title: "When", cell: (e) => fmtDate(e.at) }, { title: "What", cell: (e) => e.text }],
        rows: journey,
      })),
    section("Consent history",
      table({
        caption: "Consent changes, oldest first",
        columns: [
          { title: "When", cell: (c) => fmtDate(c.at) },
          { title: "Action", cell: (c) => badge(c.action, c.action === "granted" ? "ok" : "bad") },
          { title: "Version", cell: (c) => c.consent_version },
          { title: "Posting", cell: (c) => (c.allows_posting ? "yes" : "no") },
          { title: "Analytics", cell: (c) => (c.allows_analytics ? "yes" : "no") },
          { title: "Recorded by", cell: (c) => h("code", {}, c.recorded_by) },
        ],
        rows: history.changes,
        empty: "No consent recorded yet: it is given through the invitation link.",
      })),
    manage ? actions(ctx, person) : null);
}

function actions(ctx, person) {
  const issued = h("div", { "aria-live": "polite" });
  const parts = [];
  if (person.state === "invited") {
    parts.push(h("h3", {}, "Invitation link"), form({
      label: "Issue an invitation link",
      submit: "Issue invitation link",
      children: [field("valid_for_days", "Valid for (days)", { type: "number", min: "1", max: "90", value: "14" })],
      action: (node) => post(`${ctx.base()}/invitations`, { ambassador_id: person.id, valid_for_days: Number(value(node, "valid_for_days")) }),
      done: (invitation) => clear(issued, secretNotice(`Send this link to ${who(person)}; it is shown only now and works until ${fmtDate(invitation.expires_at)}.`, invitation.url)),
    }), issued);
  }
  if (person.state !== "offboarded") {
    parts.push(h("h3", {}, "Training"), form({
      label: "Record a training",
      submit: "Record training",
      children: [field("enablement_format", "Format", { options: FORMATS.map((f) => [f, label(f)]) })],
      action: (node) => post(`${ctx.base()}/ambassadors/${person.id}/trainings`, { enablement_format: value(node, "enablement_format") }),
      done: () => ctx.refresh(),
    }));
  }
  return section("Actions", parts);
}

export async function invitations(ctx, target) {
  const [invites, ambassadors, texts] = await Promise.all([
    all(`${ctx.base()}/invitations`),
    all(`${ctx.base()}/ambassadors`),
    get(`${ctx.base()}/consent-texts`).catch((error) => ({ error })),
  ]);
  const names = new Map(ambassadors.map((a) => [a.id, who(a)]));
  const manage = ctx.can("ambassadors.manage");
  const status = h("div", { "aria-live": "polite" });
  const filter = field("status", "Status", { options: [["", "Any status"], ["pending", "Pending"], ["accepted", "Accepted"], ["declined", "Declined"], ["revoked", "Revoked"], ["expired", "Expired"]] });
  const results = h("div", {});
  const render = () => {
    const wanted = filter.querySelector("select").value;
    const shown = invites.filter((i) => !wanted || i.status === wanted);
    clear(results, table({
      caption: "Invitations",
      columns: [
        { title: "Ambassador", cell: (i) => h("a", { href: `#/ambassadors/${i.ambassador_id}` }, names.get(i.ambassador_id) || i.ambassador_id.slice(0, 8)) },
        { title: "Status", cell: (i) => badge(i.status) },
        { title: "Issued", cell: (i) => fmtDate(i.created_at) },
        { title: "Expires", cell: (i) => fmtDate(i.expires_at) },
        { title: "Answered", cell: (i) => fmtDate(i.responded_at) },
        ...(manage ? [{ title: "Actions", cell: (i) => (i.status === "pending" ? revokeButton(ctx, i, status) : "—") }] : []),
      ],
      rows: shown,
      empty: invites.length ? "No invitation has this status." : "No invitation issued yet: issue one from an invited ambassador's page.",
    }));
  };
  filter.addEventListener("change", render);
  render();
  clear(target, pageHeader("Invitations"), status,
    section("Invitation links", filter, results),
    consentTexts(ctx, texts, manage));
}

function revokeButton(ctx, invitation, status) {
  const button = h("button", { type: "button", class: "secondary small" }, "Revoke");
  button.setAttribute("aria-label", `Revoke invitation ${invitation.id.slice(0, 8)}`);
  button.addEventListener("click", async () => {
    if (!confirm("Revoke this invitation? Its link stops working at once.")) return;
    try {
      await del(`${ctx.base()}/invitations/${invitation.id}`);
      ctx.refresh();
    } catch (error) {
      clear(status, problemBox(error));
    }
  });
  return button;
}

function consentTexts(ctx, texts, manage) {
  const items = texts.error ? [] : texts.items || [];
  return section("Consent texts",
    texts.error ? problemBox(texts.error) : null,
    h("p", { class: "muted" }, "Invitations show the current text; each person's consent keeps the exact version they accepted."),
    table({
      caption: "Published versions",
      columns: [
        { title: "Version", cell: (t) => t.version },
        { title: "Current", cell: (t) => (t.current ? badge("current", "ok") : "—") },
        { title: "Published", cell: (t) => fmtDate(t.published_at) },
        { title: "Text", cell: (t) => h("span", { class: "clip" }, t.text) },
      ],
      rows: items,
      empty: "No consent text yet: publish one before issuing invitations.",
    }),
    manage ? h("details", { class: "card" }, h("summary", {}, "Publish a new version"), form({
      label: "Publish a consent text",
      submit: "Publish",
      children: [
        field("version", "Version", { required: true, maxlength: 40, hint: "e.g. 2026-12" }),
        field("text", "Text", { type: "textarea", required: true, minlength: 20, maxlength: 20000 }),
      ],
      action: (node) => post(`${ctx.base()}/consent-texts`, { version: value(node, "version"), text: value(node, "text") }),
      done: () => ctx.refresh(),
    })) : null);
}
