// Settings of the organisation: webhooks and their delivery log, API keys, single sign-on,
// members and roles, the audit log. Secrets the API hands out once are shown once.

import { all, del, get, patch, post, put } from "../api.js";
import {
  badge, checkboxes, checked, clear, empty, facts, field, fmtDate, form, h, label, pageHeader,
  problemBox, secretNotice, section, table, value,
} from "../dom.js";

const SCOPES = [
  ["admin", "admin: everything in this organisation"],
  ["hr", "hr: the HR system (roster, SCIM, ambassador webhooks)"],
  ["bi", "bi: read only, for BI tools"],
  ["comms", "comms: content and publishing"],
  ["personal_data", "personal_data: add to another scope to see names, emails and HR ids"],
];
const ROLES = ["org_admin", "program_manager", "leadership_viewer", "analyst", "ambassador"];

// A secret the API handed out, shown once at the top of the page that re-renders after it.
let onceShown = null;
function showOnce(...nodes) {
  onceShown = nodes;
}
function takeShown() {
  const nodes = onceShown;
  onceShown = null;
  return nodes;
}

/** A button that asks first, calls `action`, then refreshes (or shows the problem in `status`). */
function actionButton(text, accessibleName, question, action, status, ctx) {
  const button = h("button", { type: "button", class: "secondary small", "aria-label": accessibleName }, text);
  button.addEventListener("click", async () => {
    if (question && !confirm(question)) return;
    button.disabled = true;
    try {
      const result = await action();
      if (result !== false) ctx.refresh();
    } catch (error) {
      clear(status, problemBox(error));
    } finally {
      button.disabled = false;
    }
  });
  return button;
}

// --- Webhooks -------------------------------------------------------------------------------------

export async function webhooks(ctx, target) {
  const [hooks, types] = await Promise.all([all(`${ctx.base()}/webhooks`), get("/api/v1/webhook-event-types")]);
  const status = h("div", { "aria-live": "polite" });
  const created = h("div", { "aria-live": "polite" }, takeShown());
  clear(target,
    pageHeader("Webhooks"),
    status,
    created,
    table({
      caption: "Webhooks of this organisation",
      columns: [
        { title: "Endpoint", cell: (w) => h("a", { href: `#/settings/webhooks/${w.id}` }, w.url) },
        { title: "Events", cell: (w) => (w.event_types.includes("*") ? "all" : w.event_types.length) },
        { title: "State", cell: (w) => (w.enabled ? badge("enabled", "ok") : badge(w.disabled_reason ? `disabled: ${w.disabled_reason}` : "disabled", "bad")) },
        { title: "Created", cell: (w) => fmtDate(w.created_at) },
      ],
      rows: hooks,
      empty: "No webhook yet: add one below to hear of events as they happen.",
    }),
    section("Add a webhook", form({
      label: "Add a webhook",
      submit: "Add webhook",
      children: [
        field("url", "Endpoint URL", { type: "url", required: true, maxlength: 2048, hint: "https, reachable from the internet (not a private network)" }),
        field("description", "Description", { maxlength: 500 }),
        field("all_events", "Every event type", { type: "checkbox" }),
        checkboxes("event_types", "Event types", types.map((t) => [t.type, t.description ? `${t.type} — ${t.description}` : t.type])),
      ],
      action: (node) => post(`${ctx.base()}/webhooks`, {
        url: value(node, "url"),
        description: value(node, "description") || null,
        event_types: node.elements.namedItem("all_events").checked ? ["*"] : checked(node, "event_types"),
      }),
      done: (hook) => {
        showOnce(secretNotice("Webhook added. Its signing secret is shown only now: store it where the endpoint verifies signatures.", hook.secret),
          h("p", {}, h("a", { href: `#/settings/webhooks/${hook.id}` }, "Open the webhook")));
        ctx.refresh();
      },
    })));
}

export async function webhook(ctx, target, webhookId) {
  const base = `${ctx.base()}/webhooks/${webhookId}`;
  const [hook, deliveries] = await Promise.all([get(base), get(`${base}/deliveries?limit=100`)]);
  const status = h("div", { "aria-live": "polite" });
  clear(target,
    h("p", { class: "crumbs" }, h("a", { href: "#/settings/webhooks" }, "Webhooks"), " / ", hook.url),
    pageHeader("Webhook",
      actionButton(hook.enabled ? "Disable" : "Enable", hook.enabled ? "Disable the webhook" : "Enable the webhook", null,
        () => patch(base, { enabled: !hook.enabled }), status, ctx),
      actionButton("Delete", "Delete the webhook", "Delete this webhook? Deliveries stop at once.", async () => {
        await del(base);
        ctx.go("settings/webhooks");
        return false;
      }, status, ctx)),
    status,
    facts([
      ["Endpoint", hook.url],
      ["Description", hook.description || "—"],
      ["Events", hook.event_types.join(", ")],
      ["State", hook.enabled ? "enabled" : `disabled${hook.disabled_reason ? `: ${hook.disabled_reason}` : ""}`],
      ["Created", `${fmtDate(hook.created_at)} by ${hook.created_by}`],
    ]),
    section("Delivery log", h("p", { class: "muted" }, "Status and timing of each delivery; never the bodies your endpoint answered."),
      table({
        caption: "Deliveries, newest first",
        columns: [
          { title: "Event", cell: (d) => h("code", {}, d.event_type) },
          { title: "Status", cell: (d) => badge(d.status, d.status === "delivered" ? "ok" : d.status === "failed" ? "bad" : "") },
          { title: "Attempts", cell: (d) => String(d.attempts) },
          { title: "Last answer", cell: (d) => (d.last_response_status ? String(d.last_response_status) : d.last_error || "—") },
          { title: "Last attempt", cell: (d) => fmtDate(d.last_attempt_at) },
          { title: "Next attempt", cell: (d) => fmtDate(d.next_attempt_at) },
          { title: "Replay", cell: (d) => actionButton("Replay", `Replay delivery ${d.id.slice(0, 8)}`, null, () => post(`${base}/deliveries/${d.id}/replay`), status, ctx) },
        ],
        rows: deliveries.items || [],
        empty: "Nothing delivered yet: deliveries appear here when subscribed events happen.",
      })));
}

// --- API keys -------------------------------------------------------------------------------------

export async function apiKeys(ctx, target) {
  const keys = await all(`${ctx.base()}/api-keys`);
  const status = h("div", { "aria-live": "polite" });
  const created = h("div", { "aria-live": "polite" }, takeShown());
  const showKey = (key, text) => {
    showOnce(secretNotice(text, key.key));
    ctx.refresh();
  };
  clear(target,
    pageHeader("API keys"),
    status,
    created,
    table({
      caption: "API keys of this organisation",
      columns: [
        { title: "Name", cell: (k) => k.name },
        { title: "Prefix", cell: (k) => h("code", {}, k.prefix) },
        { title: "Scopes", cell: (k) => k.scopes.join(", ") },
        { title: "State", cell: (k) => (k.active ? badge("active", "ok") : badge(k.revoked_at ? "revoked" : "expired", "bad")) },
        { title: "Expires", cell: (k) => fmtDate(k.expires_at) },
        { title: "Created", cell: (k) => `${fmtDate(k.created_at)} by ${k.created_by}` },
        { title: "Actions", cell: (k) => (k.active ? h("span", { class: "row-actions" },
          actionButton("Rotate", `Rotate key ${k.name}`, "Make a new key for this one? The old one keeps working for an hour.", async () => {
            showKey(await post(`${ctx.base()}/api-keys/${k.id}/rotate`, {}), `New key for ${k.name}: shown only now.`);
            return false;
          }, status, ctx),
          actionButton("Revoke", `Revoke key ${k.name}`, `Revoke ${k.name}? It stops working at once.`, () => del(`${ctx.base()}/api-keys/${k.id}`), status, ctx)) : "—") },
      ],
      rows: keys,
      empty: "No API key yet: create one for an integration below.",
    }),
    section("Create an API key", form({
      label: "Create an API key",
      submit: "Create key",
      children: [
        field("name", "Name", { required: true, maxlength: 200, hint: "What uses it, e.g. HR system (Workday)" }),
        checkboxes("scopes", "Scopes", SCOPES),
        field("expires_at", "Expires", { type: "date", hint: "Leave empty for a key that does not expire" }),
      ],
      action: (node) => {
        const expires = value(node, "expires_at");
        return post(`${ctx.base()}/api-keys`, {
          name: value(node, "name"),
          scopes: checked(node, "scopes"),
          expires_at: expires ? new Date(`${expires}T23:59:59Z`).toISOString() : null,
        });
      },
      done: (key) => showKey(key, `Key ${key.name} created: it is shown only now, store it.`),
    })));
}

// --- Single sign-on -------------------------------------------------------------------------------

export async function sso(ctx, target) {
  let config = null;
  try {
    config = await get(`${ctx.base()}/sso/oidc`);
  } catch (error) {
    if (error.status !== 404) throw error;
  }
  const status = h("div", { "aria-live": "polite" });
  clear(target,
    pageHeader("Single sign-on"),
    status,
    config
      ? section("OpenID Connect", facts([
        ["Issuer", config.issuer],
        ["Client id", config.client_id],
        ["Email domains", config.email_domains.join(", ") || "any"],
        ["Redirect URI", h("code", {}, config.redirect_uri)],
        ["Sign-in link", h("code", {}, `${location.origin}/api/v1/auth/oidc/${ctx.org.slug}/login`)],
      ]), actionButton("Turn off single sign-on", "Turn off single sign-on", "Turn single sign-on off? Members then sign in with passwords only.", () => del(`${ctx.base()}/sso/oidc`), status, ctx))
      : empty("Single sign-on is not set up: members sign in with passwords."),
    section(config ? "Change the set-up" : "Set up OpenID Connect", form({
      label: "Configure single sign-on",
      submit: "Save",
      children: [
        field("issuer", "Issuer URL", { type: "url", required: true, value: config?.issuer || "", hint: "e.g. https://login.microsoftonline.com/<tenant>/v2.0" }),
        field("client_id", "Client id", { required: true, value: config?.client_id || "" }),
        field("client_secret", "Client secret", { type: "password", required: true, autocomplete: "off", hint: "Sealed at rest; never shown again" }),
        field("email_domains", "Email domains", { value: (config?.email_domains || []).join(", "), hint: "Comma-separated; empty allows any verified address" }),
      ],
      action: (node) => put(`${ctx.base()}/sso/oidc`, {
        issuer: value(node, "issuer"),
        client_id: value(node, "client_id"),
        client_secret: node.elements.namedItem("client_secret").value,
        email_domains: value(node, "email_domains").split(",").map((d) => d.trim()).filter(Boolean),
      }),
      done: () => ctx.refresh(),
    })));
}

// --- Members --------------------------------------------------------------------------------------

export async function members(ctx, target) {
  const people = await all(`${ctx.base()}/members`);
  const manage = ctx.can("members.manage");
  const status = h("div", { "aria-live": "polite" });
  const roleCell = (m) => {
    if (!manage) return label(m.role);
    const select = h("select", { "aria-label": `Role of ${m.display_name}` }, ROLES.map((r) => h("option", { value: r, selected: r === m.role }, label(r))));
    select.addEventListener("change", async () => {
      try {
        await patch(`${ctx.base()}/members/${m.user_id}`, { role: select.value });
        ctx.refresh();
      } catch (error) {
        select.value = m.role;
        clear(status, problemBox(error));
      }
    });
    return select;
  };
  clear(target,
    pageHeader("Members and roles"),
    status,
    table({
      caption: "People who sign in here",
      columns: [
        { title: "Name", cell: (m) => m.display_name },
        { title: "Email", cell: (m) => m.email },
        { title: "Role", cell: roleCell },
        { title: "Since", cell: (m) => fmtDate(m.since) },
        ...(manage ? [{ title: "Actions", cell: (m) => actionButton("Remove", `Remove ${m.display_name}`, `Remove ${m.display_name}? Their account and sessions end.`, () => del(`${ctx.base()}/members/${m.user_id}`), status, ctx) }] : []),
      ],
      rows: people,
      empty: "No member yet.",
    }),
    manage ? section("Add a member", form({
      label: "Add a member",
      submit: "Add member",
      children: [
        field("display_name", "Name", { required: true, maxlength: 200 }),
        field("email", "Email", { type: "email", required: true }),
        field("role", "Role", { options: ROLES.map((r) => [r, label(r)]), value: "program_manager" }),
        field("password", "Password", { type: "password", minlength: 12, autocomplete: "new-password", hint: "At least 12 characters; leave empty when they sign in through single sign-on" }),
      ],
      action: (node) => {
        const body = { display_name: value(node, "display_name"), email: value(node, "email"), role: value(node, "role") };
        const password = node.elements.namedItem("password").value;
        if (password) body.password = password;
        return post(`${ctx.base()}/members`, body);
      },
      done: () => ctx.refresh(),
    })) : null);
}

// --- Audit log ------------------------------------------------------------------------------------

export async function audit(ctx, target) {
  const rows = h("tbody", {});
  const more = h("button", { type: "button", class: "secondary" }, "Load more");
  const status = h("div", { "aria-live": "polite" });
  let cursor = null;
  let count = 0;
  const load = async () => {
    const page = await get(`${ctx.base()}/audit-log?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    for (const entry of page.items) {
      count += 1;
      rows.append(h("tr", {},
        h("td", { "data-label": "When" }, fmtDate(entry.at)),
        h("td", { "data-label": "Who" }, entry.actor),
        h("td", { "data-label": "What" }, h("code", {}, entry.action)),
        h("td", { "data-label": "Target" }, entry.target),
        h("td", { "data-label": "Detail" }, Object.keys(entry.detail).length ? h("code", { class: "small" }, JSON.stringify(entry.detail)) : "—")));
    }
    cursor = page.next_cursor;
    more.hidden = !cursor;
  };
  more.addEventListener("click", async () => {
    try {
      await load();
    } catch (error) {
      clear(status, problemBox(error));
    }
  });
  await load();
  clear(target,
    pageHeader("Audit log"),
    h("p", { class: "muted" }, "Who did what, when; oldest first."),
    status,
    count ? h("div", { class: "table-wrap" }, h("table", {},
      h("caption", {}, "Audit entries"),
      h("thead", {}, h("tr", {}, ["When", "Who", "What", "Target", "Detail"].map((t) => h("th", { scope: "col" }, t)))),
      rows)) : empty("Nothing audited yet."),
    more);
}
