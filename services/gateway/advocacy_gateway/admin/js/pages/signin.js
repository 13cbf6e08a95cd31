// Signing in: password (organisation by slug; platform admins leave it empty) or the
// organisation's single sign-on, which comes back to /admin/ with a session.

import { ApiError, csrf, post } from "../api.js";
import { clear, field, form, h, problemBox, value } from "../dom.js";

const SLUG = /^[a-z0-9][a-z0-9-]{0,62}$/;

export function page(_ctx, target, { signedIn }) {
  const ssoErrors = h("div", { "aria-live": "polite" });
  const ssoButton = h("button", { type: "button", class: "secondary", id: "sso", disabled: true }, "Sign in with single sign-on");
  const signInForm = form({
    label: "Sign in",
    submit: "Sign in",
    children: [
      field("organisation", "Organisation", {
        hint: "Its short name in addresses, e.g. acme. Leave it empty if you administer the platform.",
        autocomplete: "organization",
        pattern: "[a-z0-9][a-z0-9\\-]{0,62}",
      }),
      field("email", "Email", { type: "email", required: true, autocomplete: "username" }),
      field("password", "Password", { type: "password", required: true, autocomplete: "current-password" }),
    ],
    action: async (node) => {
      const organisation = value(node, "organisation");
      const body = { email: value(node, "email"), password: node.elements.namedItem("password").value };
      if (organisation) body.organisation = organisation;
      const signed = await post("/api/v1/auth/login", body);
      csrf.set(signed.csrf_token);
    },
    done: () => signedIn(),
  });
  const slugInput = signInForm.elements.namedItem("organisation");
  slugInput.addEventListener("input", () => {
    ssoButton.disabled = !SLUG.test(slugInput.value.trim());
  });
  ssoButton.addEventListener("click", async () => {
    clear(ssoErrors);
    const slug = slugInput.value.trim();
    const start = `/api/v1/auth/oidc/${encodeURIComponent(slug)}/login?return_to=${encodeURIComponent("/admin/")}`;
    // Ask first without following the redirect: an organisation without single sign-on answers
    // a problem, shown here rather than as a bare page.
    const probe = await fetch(start, { redirect: "manual", credentials: "same-origin" });
    if (probe.type === "opaqueredirect") {
      location.assign(start);
      return;
    }
    const problem = await probe.json().catch(() => ({ title: probe.statusText }));
    clear(ssoErrors, problemBox(new ApiError(probe.status, problem)));
  });
  clear(
    target,
    h("div", { class: "signin" },
      h("h1", {}, "Sign in"),
      h("p", { class: "muted" }, "The admin side of the advocacy program: plan, people, settings."),
      signInForm,
      h("div", { class: "sso" },
        h("h2", {}, "Or with your organisation's account"),
        h("p", { class: "hint", id: "sso-hint" }, "Type your organisation above; if it uses single sign-on, you continue at its provider."),
        ssoButton, ssoErrors)),
  );
  signInForm.querySelector("input").focus();
}
