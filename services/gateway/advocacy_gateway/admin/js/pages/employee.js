// The employee's side: the invitation (open the link, read the consent text, say yes or no,
// link the signed-in account, connect LinkedIn), this week's suggestions with the why, accept one
// by writing the post in one's own words from its angle prompt, schedule it, and one's own posts.
// Everything goes through the public API: the invitation token (from the link's fragment, never
// sent to a server log) or the signed-in account's own routes under /orgs/{org}/me.

import { ApiError, csrf, get, patch, post } from "../api.js";
import { badge, clear, empty, facts, field, fmtDate, form, h, label, pageHeader, problemBox, section, table, value } from "../dom.js";

/** A call that carries the invitation token (and, signed in, the CSRF token). */
async function withToken(method, path, token, body) {
  const headers = { Accept: "application/json", "Invitation-Token": token };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && csrf.get()) headers["X-CSRF-Token"] = csrf.get();
  const response = await fetch(path, {
    method, headers, credentials: "same-origin", cache: "no-store",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const payload = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(response.status, payload);
  return payload;
}

/** A local date-time input's value as an ISO instant (with the browser's time zone). */
function instant(localValue) {
  return localValue ? new Date(localValue).toISOString() : null;
}

/** `minutes` from now, as a datetime-local input's value. */
function localIn(minutes) {
  const at = new Date(Date.now() + minutes * 60_000);
  at.setSeconds(0, 0);
  const pad = (n) => String(n).padStart(2, "0");
  return `${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())}T${pad(at.getHours())}:${pad(at.getMinutes())}`;
}

// An invitation accepted before signing in: linked to the account once the employee signs in
// (this tab only; the token is the one already in this tab's address).
const PENDING = "advocacy.invitation";

const signedInUser = (ctx) => Boolean(ctx.me && ctx.me.kind === "user" && !ctx.me.is_platform_admin);

// --- The invitation --------------------------------------------------------------------------

export async function invitation(ctx, target, token) {
  let shown;
  try {
    shown = await withToken("GET", "/api/v1/invitation", token);
  } catch (error) {
    clear(target, pageHeader("Your invitation"), problemBox(error),
      empty("The link may be mistyped, expired, or replaced by a newer one: ask your program for a new link."));
    return;
  }
  const steps = h("div", { "aria-live": "polite" });
  clear(target,
    pageHeader(`Invitation from ${shown.organisation_name}`),
    h("p", {}, `Hello ${shown.display_name}. ${shown.organisation_name} invites you to its advocacy program: `,
      "each week you get a few suggestions of what to share on LinkedIn, each with why it fits you, and you write every post in your own words."),
    facts([["Status", badge(shown.status, shown.status === "accepted" ? "ok" : "")], ["Valid until", fmtDate(shown.expires_at)]]),
    steps);
  const showNext = async () => clear(steps, await afterAccepting(ctx, token));
  if (shown.status === "accepted") {
    await showNext();
    return;
  }
  if (shown.status !== "pending") {
    clear(steps, empty(`This invitation is ${label(shown.status)}.`));
    return;
  }
  clear(steps, section("Your consent",
    h("p", { class: "muted" }, `Consent text, version ${shown.consent.version}:`),
    h("blockquote", { class: "consent-text" }, shown.consent.text),
    form({
      label: "Give consent",
      submit: "Accept the invitation",
      children: [
        field("allows_posting", "Post on my behalf (I approve each post)", { type: "checkbox", value: true }),
        field("allows_analytics", "Count the reach of my posts", { type: "checkbox", value: true }),
      ],
      action: (node) => withToken("POST", "/api/v1/invitation/accept", token, {
        consent_version: shown.consent.version,
        allows_posting: node.elements.namedItem("allows_posting").checked,
        allows_analytics: node.elements.namedItem("allows_analytics").checked,
      }),
      done: showNext,
    }),
    h("button", { type: "button", class: "secondary", onclick: async (event) => {
      event.target.disabled = true;
      try {
        await withToken("POST", "/api/v1/invitation/decline", token);
        clear(steps, empty("You declined. Thank you for answering; nothing more will be asked of you."));
      } catch (error) {
        clear(steps, problemBox(error));
      }
    } }, "Decline")));
}

/** After consenting: link the signed-in account, then connect LinkedIn. */
async function afterAccepting(ctx, token) {
  const parts = [h("div", { class: "notice", role: "status" }, h("p", {}, "You accepted the invitation."))];
  if (signedInUser(ctx)) {
    try {
      const linked = await withToken("POST", "/api/v1/invitation/link", token);
      ctx.me.ambassador_id = linked.ambassador_id;
      parts.push(h("p", {}, "Your account is linked to your ambassador profile. ",
        h("a", { href: "#/me" }, "See your suggestions")));
    } catch (error) {
      parts.push(problemBox(error));
    }
  } else {
    sessionStorage.setItem(PENDING, token);
    parts.push(h("p", {}, "Sign in with your work account to see your suggestions. ",
      h("a", { href: "#/signin" }, "Sign in")));
  }
  const errors = h("div", { "aria-live": "polite" });
  const connect = h("button", { type: "button", class: "primary", id: "connect-linkedin" }, "Connect LinkedIn");
  connect.addEventListener("click", async () => {
    connect.disabled = true;
    clear(errors);
    try {
      const started = await withToken("POST", "/api/v1/invitation/linkedin", token);
      location.assign(started.authorization_url);
    } catch (error) {
      clear(errors, problemBox(error));
      connect.disabled = false;
    }
  });
  parts.push(section("Connect LinkedIn",
    h("p", {}, "So that your approved posts go out on your own profile at the time you choose. ",
      "You sign in at LinkedIn; this platform never sees your password."), connect, errors));
  return parts;
}

// --- The weekly suggestions ------------------------------------------------------------------

function notLinked(target, title, error) {
  if (error instanceof ApiError && error.status === 404) {
    clear(target, pageHeader(title), empty("Your account is not linked to an ambassador profile yet: open your invitation link while signed in."));
    return true;
  }
  return false;
}

/** The LinkedIn connection, in words, and whether posts can go out through it. */
async function connection(ctx) {
  try {
    const linkedin = await get(`${ctx.base()}/me/linkedin`);
    if (linkedin.status === "connected") {
      return { connected: true, node: h("p", {}, badge("LinkedIn connected", "ok"), ` until ${fmtDate(linkedin.expires_at)}`) };
    }
    return { connected: false, node: h("p", {}, badge(`LinkedIn ${label(linkedin.status)}`, "warn"), " Without a connection you get a share link to post yourself.") };
  } catch {
    return { connected: false, node: h("p", {}, badge("LinkedIn not connected", "warn"), " Connect it from your invitation link; until then you get a share link to post yourself.") };
  }
}

export async function suggestions(ctx, target) {
  let list;
  try {
    list = await get(`${ctx.base()}/me/suggestions`);
  } catch (error) {
    const pending = sessionStorage.getItem(PENDING);
    if (pending && signedInUser(ctx) && error.status === 404) {
      sessionStorage.removeItem(PENDING);
      try {
        await withToken("POST", "/api/v1/invitation/link", pending);
        return suggestions(ctx, target);
      } catch (linkError) {
        clear(target, pageHeader("Your suggestions"), problemBox(linkError));
        return undefined;
      }
    }
    if (notLinked(target, "Your suggestions", error)) return undefined;
    throw error;
  }
  const linkedin = await connection(ctx);
  const cards = list.items.map((s) => suggestionCard(ctx, s, linkedin.connected));
  clear(target,
    pageHeader("Your suggestions", h("a", { href: "#/me/posts", class: "button secondary" }, "Your posts")),
    linkedin.node,
    h("p", { class: "muted" }, `For ${fmtDate(list.day)}. ${list.cadence}`),
    cards.length ? h("ol", { class: "suggestions" }, cards) : empty("Nothing to suggest today: new content arrives as it is approved."));
}

function suggestionCard(ctx, s, connected) {
  const editor = h("div", {});
  const node = h("li", { class: "card suggestion", "aria-label": s.title },
    h("h2", {}, s.title, " ", badge(s.status, s.status === "accepted" ? "ok" : s.status === "dismissed" ? "warn" : "")),
    s.link ? h("p", {}, h("a", { href: s.link, rel: "noopener noreferrer", target: "_blank" }, s.link)) : null,
    h("p", { class: "why" }, h("strong", {}, "Why: "), s.summary),
    h("details", {}, h("summary", {}, "Every signal and its weight"),
      h("ul", {}, s.signals.map((signal) => h("li", {}, h("strong", {}, label(signal.signal)), ` (weight ${signal.weight}): ${signal.reason}`)))),
    h("p", { class: "angle" }, h("strong", {}, "Angle: "), s.angle_prompt),
    s.leadership_prompt ? h("p", {}, h("strong", {}, "As a leader: "), s.leadership_prompt) : null,
    s.status === "open" ? h("div", { class: "actions" },
      h("button", { type: "button", class: "primary", onclick: () => clear(editor, writeForm(ctx, s, connected)) }, "Accept and write"),
      h("button", { type: "button", class: "secondary", onclick: async (event) => {
        event.target.disabled = true;
        try {
          await post(`${ctx.base()}/me/suggestions/${s.id}/dismiss`);
          ctx.refresh();
        } catch (error) {
          clear(editor, problemBox(error));
          event.target.disabled = false;
        }
      } }, "Not for me")) : null,
    editor);
  return node;
}

function writeForm(ctx, s, connected) {
  const node = form({
    label: `Write your post: ${s.title}`,
    submit: "Schedule the post",
    children: [
      field("text", "Your post", {
        type: "textarea", required: true, maxlength: 3000, rows: 6,
        hint: `Write it in your own words. Start from the angle: ${s.angle_prompt}`,
      }),
      field("scheduled_at", "Publish at", { type: "datetime-local", required: true, value: localIn(60) }),
    ],
    action: (formNode) => post(`${ctx.base()}/me/posts`, {
      text: value(formNode, "text"),
      suggestion_id: s.id,
      scheduled_at: instant(value(formNode, "scheduled_at")),
      path: connected ? "auto" : "manual",
    }),
    done: () => ctx.go("me/posts"),
  });
  setTimeout(() => node.querySelector("textarea").focus(), 0);
  return node;
}

// --- One's own posts -------------------------------------------------------------------------

const STATE_KIND = { published: "ok", scheduled: "", draft: "", posting: "", failed: "bad", cancelled: "warn" };
const EDITABLE = new Set(["draft", "scheduled", "failed"]);

export async function posts(ctx, target) {
  let page;
  try {
    page = await get(`${ctx.base()}/me/posts?limit=200`);
  } catch (error) {
    if (notLinked(target, "Your posts", error)) return;
    throw error;
  }
  const editor = h("div", { "aria-live": "polite" });
  clear(target,
    pageHeader("Your posts", h("a", { href: "#/me", class: "button secondary" }, "Your suggestions")),
    editor,
    table({
      caption: "Your posts",
      columns: [
        { title: "Post", cell: (p) => p.text.length > 120 ? `${p.text.slice(0, 120)}…` : p.text },
        { title: "State", cell: (p) => badge(p.state, STATE_KIND[p.state] || "") },
        { title: "When", cell: (p) => fmtDate(p.published_at || p.scheduled_at) },
        { title: "On LinkedIn", cell: (p) => p.post_url ? h("a", { href: p.post_url, rel: "noopener noreferrer", target: "_blank" }, "Open")
          : p.share_url && EDITABLE.has(p.state) ? h("a", { href: p.share_url, rel: "noopener noreferrer", target: "_blank" }, "Share it yourself") : "—" },
        { title: "Actions", cell: (p) => EDITABLE.has(p.state) ? h("div", { class: "actions" },
          h("button", { type: "button", class: "link-button", onclick: () => {
            // The form opens above the table: the focus goes to it, not left behind on the button.
            clear(editor, editForm(ctx, p));
            editor.querySelector("textarea").focus();
          } }, "Edit"),
          h("button", { type: "button", class: "link-button", onclick: async () => {
            try {
              await post(`${ctx.base()}/me/posts/${p.id}/cancel`);
              ctx.refresh();
            } catch (error) {
              clear(editor, problemBox(error));
            }
          } }, "Cancel")) : "" },
      ],
      rows: page.items,
      empty: "No post yet: accept a suggestion to write your first.",
    }));
}

function editForm(ctx, p) {
  return section("Edit your post", form({
    label: "Edit your post",
    submit: "Save",
    children: [
      field("text", "Your post", { type: "textarea", required: true, maxlength: 3000, rows: 6, value: p.text }),
      field("scheduled_at", "Publish at", { type: "datetime-local", value: localIn(60), hint: "Leave as is to keep the post's time" }),
    ],
    action: async (node) => {
      const changes = { text: value(node, "text") };
      const at = instant(value(node, "scheduled_at"));
      if (p.state === "draft" || p.state === "failed") {
        await patch(`${ctx.base()}/me/posts/${p.id}`, changes);
        return post(`${ctx.base()}/me/posts/${p.id}/schedule`, { scheduled_at: at });
      }
      return patch(`${ctx.base()}/me/posts/${p.id}`, { ...changes, scheduled_at: at });
    },
    done: () => ctx.refresh(),
  }));
}
