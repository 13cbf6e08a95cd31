// The shell: who is signed in, which organisation, the navigation, and the router (the part of
// the address after `#`, so every view survives a reload and the browser's back button).

import { all, api, csrf, get, post, whenSignedOut } from "./api.js";
import { clear, empty, h, problemBox } from "./dom.js";
import * as ambassadors from "./pages/ambassadors.js";
import * as content from "./pages/content.js";
import * as employee from "./pages/employee.js";
import * as leadership from "./pages/leadership.js";
import * as metrics from "./pages/metrics.js";
import * as organisations from "./pages/organisations.js";
import * as program from "./pages/program.js";
import * as roster from "./pages/roster.js";
import * as settings from "./pages/settings.js";
import * as signin from "./pages/signin.js";

const ORG_KEY = "advocacy.org";

// What each role may do: the API decides (docs/security.md, advocacy_gateway/access.py); the UI
// only leaves out what a role would be refused.
const ALL = ["org_admin", "program_manager", "leadership_viewer", "analyst"];
const GRANTS = {
  "planner.read": ALL,
  "planner.manage": ["org_admin", "program_manager"],
  "planner.leadership.read": ["org_admin", "program_manager", "leadership_viewer"],
  "ambassadors.read": ALL,
  "ambassadors.manage": ["org_admin", "program_manager"],
  "personal_data.read": ["org_admin", "program_manager"],
  "members.read": ["org_admin", "program_manager"],
  "members.manage": ["org_admin"],
  "api_keys.manage": ["org_admin"],
  "webhooks.manage": ["org_admin"],
  "sso.manage": ["org_admin"],
  "audit.read": ["org_admin"],
  "content.read": [...ALL, "ambassador"],
  "content.manage": ["org_admin", "program_manager"],
  "content.approve": ["org_admin", "program_manager"],
  "posts.read": ["org_admin", "program_manager", "analyst"],
  "metrics.read": ALL,
  "metrics.leadership.read": ["org_admin", "program_manager", "leadership_viewer"],
  "self.service": [...ALL, "ambassador"],
};

// The navigation: [route, text, permission, page]; `soon` marks pages whose services are not
// served yet (a slot, never made-up data).
const NAV = [
  { group: "Program", items: [
    ["program", "Program", "planner.read"],
    ["ambassadors", "Ambassadors", "ambassadors.read"],
    ["invitations", "Invitations", "ambassadors.read"],
    ["roster-import", "Roster import", "ambassadors.manage"],
    ["leadership", "Leadership", "planner.leadership.read"],
  ] },
  { group: "Content and results", items: [
    ["content", "Content library", "content.read"],
    ["content/rules", "Compliance rules", "content.read"],
    ["content/preview", "Suggestion preview", "content.manage"],
    ["metrics", "Metrics", "metrics.read"],
  ] },
  { group: "Your side", items: [["me", "Your suggestions", "self.service"], ["me/posts", "Your posts", "self.service"]] },
  { group: "Settings", items: [
    ["settings/webhooks", "Webhooks", "webhooks.manage"],
    ["settings/api-keys", "API keys", "api_keys.manage"],
    ["settings/sso", "Single sign-on", "sso.manage"],
    ["settings/members", "Members and roles", "members.read"],
    ["settings/audit", "Audit log", "audit.read"],
  ] },
];

const ROUTES = [
  [/^program$/, program.list],
  [/^program\/([0-9a-f-]{36})$/, program.detail],
  [/^ambassadors$/, ambassadors.list],
  [/^ambassadors\/([0-9a-f-]{36})$/, ambassadors.detail],
  [/^invitations$/, ambassadors.invitations],
  [/^roster-import$/, roster.page],
  [/^leadership$/, leadership.page],
  [/^content$/, content.libraryPage],
  [/^content\/rules$/, content.rulesPage],
  [/^content\/preview$/, content.previewPage],
  [/^content\/preview\/([0-9a-f-]{36})$/, content.previewPage],
  [/^content\/([0-9a-f-]{36})$/, content.itemPage],
  [/^metrics$/, metrics.page],
  [/^settings\/webhooks$/, settings.webhooks],
  [/^settings\/webhooks\/([0-9a-f-]{36})$/, settings.webhook],
  [/^settings\/api-keys$/, settings.apiKeys],
  [/^settings\/sso$/, settings.sso],
  [/^settings\/members$/, settings.members],
  [/^settings\/audit$/, settings.audit],
  [/^invitation\/([A-Za-z0-9._-]{1,200})$/, employee.invitation],
  [/^organisations$/, organisations.page],
  [/^me$/, employee.suggestions],
  [/^me\/posts$/, employee.posts],
];
// Pages that need no sign-in: the invitation link's token is the employee's credential.
const OPEN_ROUTES = [[/^invitation\/([A-Za-z0-9._-]{1,200})$/, employee.invitation]];

const ctx = {
  me: null,
  orgs: [],
  org: null,
  /** The caller's role in the current organisation ("platform_admin" for platform admins). */
  get role() {
    if (!this.me) return null;
    if (this.me.is_platform_admin) return "platform_admin";
    return this.org ? this.me.roles[this.org.id] || null : null;
  },
  can(permission) {
    if (!this.me || !this.org) return false;
    if (this.me.is_platform_admin) return true;
    return (GRANTS[permission] || []).includes(this.role);
  },
  base() {
    return `/api/v1/orgs/${this.org.id}`;
  },
  go(route) {
    if (location.hash === `#/${route}`) render();
    else location.hash = `#/${route}`;
  },
  refresh: () => render(),
};

const main = () => document.getElementById("main");

async function loadSession() {
  try {
    ctx.me = await get("/api/v1/auth/me");
    // A session opened by single sign-on (or in another tab) learns its CSRF token here.
    if (ctx.me.csrf_token) csrf.set(ctx.me.csrf_token);
  } catch (error) {
    if (error.status === 401) {
      ctx.me = null;
      return;
    }
    throw error;
  }
  ctx.orgs = await all("/api/v1/orgs");
  const wanted = localStorage.getItem(ORG_KEY);
  ctx.org = ctx.orgs.find((org) => org.id === wanted) || ctx.orgs[0] || null;
}

function renderChrome() {
  const orgSlot = document.getElementById("org-slot");
  const userSlot = document.getElementById("user-slot");
  const nav = document.getElementById("nav");
  if (!ctx.me) {
    clear(orgSlot);
    clear(userSlot);
    clear(nav);
    nav.hidden = true;
    return;
  }
  nav.hidden = false;
  if (ctx.me.is_platform_admin && ctx.orgs.length) {
    const select = h("select", { id: "org-switch", "aria-label": "Organisation" },
      ctx.orgs.map((org) => h("option", { value: org.id, selected: ctx.org && org.id === ctx.org.id }, org.name)));
    select.addEventListener("change", () => {
      ctx.org = ctx.orgs.find((org) => org.id === select.value);
      localStorage.setItem(ORG_KEY, ctx.org.id);
      renderChrome();
      render();
    });
    clear(orgSlot, h("label", { for: "org-switch", class: "org-label" }, "Organisation"), select);
  } else {
    clear(orgSlot, ctx.org ? h("span", { class: "org-name" }, ctx.org.name) : null);
  }
  const signOut = h("button", { type: "button", class: "link-button", id: "sign-out" }, "Sign out");
  signOut.addEventListener("click", async () => {
    try {
      await post("/api/v1/auth/logout");
    } catch {
      // Signed out already, or the session expired: either way the tab forgets it.
    }
    csrf.set(null);
    ctx.me = null;
    location.hash = "#/signin";
    renderChrome();
    render();
  });
  clear(userSlot, h("span", { class: "who" }, ctx.me.name, ctx.role ? ` · ${ctx.role.replaceAll("_", " ")}` : ""), signOut);
  const current = location.hash.replace(/^#\//, "");
  const groups = NAV.map(({ group, items }) => {
    const shown = items.filter(([, , permission]) => ctx.can(permission));
    if (!shown.length) return null;
    return h("div", { class: "nav-group" }, h("p", { class: "nav-title" }, group),
      h("ul", {}, shown.map(([route, text, , kind]) => h("li", {},
        h("a", { href: `#/${route}`, "aria-current": isCurrent(current, route) ? "page" : null, class: kind === "soon" ? "soon" : null },
          text, kind === "soon" ? h("span", { class: "visually-hidden" }, " (arrives with its service)") : null)))));
  });
  if (ctx.me.is_platform_admin) {
    groups.push(h("div", { class: "nav-group" }, h("p", { class: "nav-title" }, "Platform"),
      h("ul", {}, h("li", {}, h("a", { href: "#/organisations", "aria-current": current === "organisations" ? "page" : null }, "Organisations")))));
  }
  clear(nav, groups);
}

/** The navigation entry of the page shown: the longest route that the address starts with. */
function isCurrent(current, route) {
  const routes = NAV.flatMap(({ items }) => items.map(([r]) => r));
  const matching = routes.filter((r) => current === r || current.startsWith(`${r}/`));
  return matching.length > 0 && matching.sort((a, b) => b.length - a.length)[0] === route;
}

let rendering = 0;
async function render() {
  const ticket = ++rendering;
  const target = main();
  const route = location.hash.replace(/^#\/?/, "");
  const open = OPEN_ROUTES.map(([pattern, view]) => [route.match(pattern), view]).find(([found]) => found);
  if (open && !(ctx.me && ctx.org)) {
    renderChrome();
    await open[1](ctx, clear(target), ...open[0].slice(1));
    return;
  }
  if (!ctx.me) {
    if (route !== "signin") {
      history.replaceState(null, "", "#/signin");
    }
    document.title = "Sign in · Advocacy admin";
    clear(target);
    signin.page(ctx, target, { signedIn: onSignedIn });
    return;
  }
  if (route === "" || route === "signin") {
    ctx.go(ctx.org ? (ctx.can("planner.read") ? "program" : ctx.role === "ambassador" ? "me" : "settings/members") : "organisations");
    return;
  }
  renderChrome();
  const match = ROUTES.map(([pattern, view]) => [route.match(pattern), view]).find(([found]) => found);
  clear(target, h("p", { role: "status", class: "muted" }, "Loading…"));
  if (!match) {
    clear(target, h("h1", {}, "Not found"), empty("There is no such page.", h("a", { href: "#/program" }, "Go to the program")));
    return;
  }
  if (!ctx.org && match[1] !== organisations.page) {
    clear(target, h("h1", {}, "No organisation"), empty(ctx.me.is_platform_admin
      ? "There is no organisation yet." : "Your account belongs to no organisation.",
      ctx.me.is_platform_admin ? h("a", { href: "#/organisations" }, "Create one") : null));
    return;
  }
  const [found, view] = match;
  try {
    const node = h("div", {});
    await view(ctx, node, ...found.slice(1));
    if (ticket !== rendering) return; // a newer navigation won
    clear(target, node);
    const heading = target.querySelector("h1");
    document.title = `${heading ? heading.textContent : "Admin"} · Advocacy admin`;
  } catch (error) {
    if (ticket !== rendering) return;
    clear(target, h("h1", {}, "This page could not be shown"), problemBox(error));
  }
}

async function onSignedIn() {
  await loadSession();
  renderChrome();
  location.hash = "#/";
  await render();
  main().focus();
}

whenSignedOut(() => {
  if (!ctx.me) return;
  ctx.me = null;
  csrf.set(null);
  renderChrome();
  render();
});

window.addEventListener("hashchange", async () => {
  await render();
  main().focus();
});

document.getElementById("skip").addEventListener("click", () => main().focus());

async function start() {
  try {
    await loadSession();
  } catch (error) {
    clear(main(), h("h1", {}, "The platform did not answer"), problemBox(error));
    return;
  }
  renderChrome();
  await render();
}

export { api, ctx };
start();
